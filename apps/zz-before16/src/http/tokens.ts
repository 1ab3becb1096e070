import { createPrivateKey, type KeyObject } from 'node:crypto';
import { SignJWT } from 'jose';
import { API_DEFAULTS } from './defaults.js';
import { ApiError } from './errors.js';
import { isRole } from './roles.js';
import type { Role } from './types.js';

/** What {@link issueToken} signs. */
export interface IssueTokenOptions {
  /** Subject: the user or service name. */
  sub: string;
  role: Role;
  /** Lifetime: seconds, or a jose time span such as `'15m'`, `'1h'`, `'7d'`. @default '1h' */
  ttl?: number | string;
  /** HMAC secret (HS256). Exclusive with `privateKey`. */
  secret?: string | Uint8Array;
  /** Private key (PEM PKCS#8 string or `KeyObject`) for RS256 / ES256 / EdDSA. */
  privateKey?: string | KeyObject;
  /** `iss` claim. @default 'cryptoscalp-trader' */
  issuer?: string;
  /** `aud` claim. @default 'cryptoscalp-api' */
  audience?: string;
}

const ALG_BY_KEY: Record<string, string> = { rsa: 'RS256', ec: 'ES256', ed25519: 'EdDSA' };

/** Signs a token the API accepts. @throws ApiError `E_API_INVALID_OPTION` naming the bad field. */
export async function issueToken(options: IssueTokenOptions): Promise<string> {
  if (typeof options.sub !== 'string' || options.sub === '')
    throw new ApiError('E_API_INVALID_OPTION', 'sub must be a non-empty string', { field: 'sub' });
  if (!isRole(options.role))
    throw new ApiError('E_API_INVALID_OPTION', 'role must be viewer, trader or admin', { field: 'role' });
  let key: Uint8Array | KeyObject;
  let alg: string;
  if (options.secret !== undefined && options.privateKey === undefined) {
    key = typeof options.secret === 'string' ? new TextEncoder().encode(options.secret) : options.secret;
    if (key.byteLength < 32)
      throw new ApiError('E_API_INVALID_OPTION', 'secret must be at least 32 bytes', { field: 'secret' });
    alg = 'HS256';
  } else if (options.privateKey !== undefined && options.secret === undefined) {
    key = typeof options.privateKey === 'string' ? createPrivateKey(options.privateKey) : options.privateKey;
    const a = ALG_BY_KEY[key.asymmetricKeyType ?? ''];
    if (a === undefined)
      throw new ApiError('E_API_INVALID_OPTION', `unsupported key type ${key.asymmetricKeyType}`, {
        field: 'privateKey',
      });
    alg = a;
  } else {
    throw new ApiError('E_API_INVALID_OPTION', 'give exactly one of secret or privateKey', { field: 'secret' });
  }
  const ttl = options.ttl ?? '1h';
  return await new SignJWT({ role: options.role })
    .setProtectedHeader({ alg, typ: 'JWT' })
    .setSubject(options.sub)
    .setIssuer(options.issuer ?? API_DEFAULTS.auth.issuer)
    .setAudience(options.audience ?? API_DEFAULTS.auth.audience)
    .setIssuedAt()
    .setJti(crypto.randomUUID())
    .setExpirationTime(typeof ttl === 'number' ? Math.floor(Date.now() / 1000) + ttl : ttl)
    .sign(key);
}
