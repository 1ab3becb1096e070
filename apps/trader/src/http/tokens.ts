import { createPrivateKey, type KeyObject } from 'node:crypto';
import { SignJWT } from 'jose';
import { API_DEFAULTS } from './defaults.js';
import { ApiError } from './errors.js';
import { isRole } from './roles.js';
import { secretProblem } from './secret-strength.js';
import type { Role } from './types.js';

/** What {@link issueToken} signs. */
export interface IssueTokenOptions {
  /** Subject: the user or service name. */
  sub: string;
  role: Role;
  /** Lifetime: seconds, or a span `<n>s|m|h|d|w` such as `'15m'`, `'1h'`, `'7d'`; at most `maxTtlSec`. @default '1h' */
  ttl?: number | string;
  /** The longest `ttl` accepted (the API refuses longer-lived tokens: `auth.maxLifetimeSec`). @default 2592000 (30 days) */
  maxTtlSec?: number;
  /** HMAC secret (HS256). Exclusive with `privateKey`. */
  secret?: string | Uint8Array;
  /** Private key (PEM PKCS#8 string or `KeyObject`) for RS256 / ES256 / EdDSA. */
  privateKey?: string | KeyObject;
  /** `iss` claim. @default 'cryptoscalp-trader' */
  issuer?: string;
  /** `aud` claim. @default 'cryptoscalp-api' */
  audience?: string;
  /** `sid` claim: the login session of a person's access token (checked for revocation on every request). */
  sid?: string;
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
    const weak = secretProblem(key);
    if (weak !== undefined) throw new ApiError('E_API_INVALID_OPTION', `secret ${weak}`, { field: 'secret' });
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
  const ttl = ttlSeconds(options.ttl ?? '1h', options.maxTtlSec ?? API_DEFAULTS.auth.maxLifetimeSec);
  return await new SignJWT(
    options.sid === undefined ? { role: options.role } : { role: options.role, sid: options.sid },
  )
    .setProtectedHeader({ alg, typ: 'JWT' })
    .setSubject(options.sub)
    .setIssuer(options.issuer ?? API_DEFAULTS.auth.issuer)
    .setAudience(options.audience ?? API_DEFAULTS.auth.audience)
    .setIssuedAt()
    .setJti(crypto.randomUUID())
    .setExpirationTime(Math.floor(Date.now() / 1000) + ttl)
    .sign(key);
}

const SPAN = /^(-?\d{1,12})([smhdw]?)$/;
const UNIT_SEC: Record<string, number> = { '': 1, s: 1, m: 60, h: 3_600, d: 86_400, w: 604_800 };

/**
 * A token lifetime in whole seconds, at most `max` (negative lifetimes issue expired tokens, for tests).
 * @throws ApiError `E_API_INVALID_OPTION` (`ttl`) for anything else, e.g. `1e21`, `Infinity`, `'1 year'`.
 */
export function ttlSeconds(ttl: number | string, max: number): number {
  const m = typeof ttl === 'string' ? SPAN.exec(ttl) : null;
  const sec = typeof ttl === 'number' ? ttl : m === null ? Number.NaN : Number(m[1]) * (UNIT_SEC[m[2] ?? ''] as number);
  if (Number.isInteger(sec) && sec > max)
    throw new ApiError('E_API_INVALID_OPTION', `ttl ${sec} s exceeds the maximum token lifetime of ${max} s`, {
      field: 'ttl',
    });
  if (!Number.isSafeInteger(sec))
    throw new ApiError('E_API_INVALID_OPTION', 'ttl must be whole seconds or a span like 15m, 1h, 7d', {
      field: 'ttl',
    });
  return sec;
}
