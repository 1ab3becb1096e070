import { createHash, createPublicKey, type KeyObject } from 'node:crypto';
import { errors as joseErrors, jwtVerify } from 'jose';
import { API_DEFAULTS } from './defaults.js';
import { ApiError } from './errors.js';
import { isRole } from './roles.js';
import { secretProblem } from './secret-strength.js';
import type { AuthOptions, Principal } from './types.js';

/**
 * Verifies bearer tokens (JWT, via jose) and remembers verified ones until they expire, so a client that
 * polls does not pay a signature check per request. Expiry is checked on every call, cached or not.
 *
 * A token is accepted in one spelling only: each of its three parts must be canonical base64url (base64url leaves
 * spare bits in a part's last character, so without this check one signature had four accepted spellings, each with a
 * rate-limit bucket of its own). Tokens living longer than `maxLifetimeSec` are refused.
 */
export class TokenVerifier {
  readonly #key: Uint8Array | KeyObject;
  readonly #algorithms: string[];
  readonly #issuer: string;
  readonly #audience: string;
  readonly #tolerance: number;
  readonly #cacheSize: number;
  readonly #maxLifetime: number;
  readonly #cache = new Map<string, Principal>();

  /** @throws ApiError `E_API_INVALID_OPTION` naming the bad `auth.*` field. */
  constructor(options: AuthOptions) {
    const d = API_DEFAULTS.auth;
    if (options === null || typeof options !== 'object') invalid('auth', 'must be an object');
    if ((options.secret === undefined) === (options.publicKey === undefined))
      invalid('auth.secret', 'give exactly one of auth.secret (HS256) or auth.publicKey (RS256/ES256/EdDSA)');
    if (options.secret !== undefined) {
      const key = typeof options.secret === 'string' ? new TextEncoder().encode(options.secret) : options.secret;
      if (!(key instanceof Uint8Array)) invalid('auth.secret', 'must be a string or bytes');
      const weak = secretProblem(key);
      if (weak !== undefined) invalid('auth.secret', weak);
      this.#key = key;
      this.#algorithms = ['HS256'];
    } else {
      let key: KeyObject;
      try {
        key =
          typeof options.publicKey === 'string' ? createPublicKey(options.publicKey) : (options.publicKey as KeyObject);
      } catch (cause) {
        invalid('auth.publicKey', 'is not a PEM public key', cause);
      }
      if (key?.type !== 'public') invalid('auth.publicKey', 'must be a public key');
      const alg = ALG_BY_KEY[key.asymmetricKeyType ?? ''];
      if (alg === undefined) invalid('auth.publicKey', `unsupported key type ${key.asymmetricKeyType}`);
      this.#key = key;
      this.#algorithms = [alg];
    }
    this.#issuer = nonEmpty(options.issuer ?? d.issuer, 'auth.issuer');
    this.#audience = nonEmpty(options.audience ?? d.audience, 'auth.audience');
    this.#tolerance = nonNegative(options.clockToleranceSec ?? d.clockToleranceSec, 'auth.clockToleranceSec');
    this.#cacheSize = nonNegative(options.cacheSize ?? d.cacheSize, 'auth.cacheSize');
    this.#maxLifetime = nonNegative(options.maxLifetimeSec ?? d.maxLifetimeSec, 'auth.maxLifetimeSec');
  }

  /** The longest lifetime a token may have, seconds. */
  get maxLifetimeSec(): number {
    return this.#maxLifetime;
  }

  /** The algorithm tokens must be signed with. */
  get algorithm(): string {
    return this.#algorithms[0] as string;
  }

  /**
   * Verifies `token` and returns the principal.
   * @throws ApiError `E_API_UNAUTHORIZED` (401) for a missing, malformed, expired or wrongly signed token.
   */
  async verify(token: string | undefined): Promise<Principal> {
    return this.verifyCached(token) ?? (await this.#verifySignature(token as string));
  }

  /**
   * The synchronous fast path: the principal of a token verified before and not yet expired, `undefined`
   * when the token must be verified with {@link verify}.
   * @throws ApiError `E_API_UNAUTHORIZED` for a missing token or a remembered token that has expired.
   */
  verifyCached(token: string | undefined): Principal | undefined {
    if (token === undefined || token === '') throw new ApiError('E_API_UNAUTHORIZED', 'missing bearer token');
    const cached = this.#cache.get(token);
    if (cached === undefined) return undefined;
    if (cached.exp + this.#tolerance > Date.now() / 1000) return cached;
    this.#cache.delete(token);
    throw new ApiError('E_API_UNAUTHORIZED', 'token expired');
  }

  async #verifySignature(token: string): Promise<Principal> {
    if (!isCanonicalCompactJws(token)) throw new ApiError('E_API_UNAUTHORIZED', 'invalid token');
    let payload: Record<string, unknown>;
    try {
      ({ payload } = await jwtVerify(token, this.#key, {
        algorithms: this.#algorithms,
        issuer: this.#issuer,
        audience: this.#audience,
        clockTolerance: this.#tolerance,
        requiredClaims: ['exp', 'sub'],
      }));
    } catch (cause) {
      const message =
        cause instanceof joseErrors.JWTExpired
          ? 'token expired'
          : cause instanceof joseErrors.JWTClaimValidationFailed
            ? `token claim ${cause.claim} invalid`
            : 'invalid token';
      throw new ApiError('E_API_UNAUTHORIZED', message, { cause });
    }
    const role = payload.role;
    if (!isRole(role)) throw new ApiError('E_API_UNAUTHORIZED', 'token has no valid role claim');
    const exp = Number(payload.exp);
    // From `iat`, or from now when `iat` is absent or in the future (a forward-dated `iat` must not stretch the limit).
    const now = Date.now() / 1000;
    const from = typeof payload.iat === 'number' ? Math.min(payload.iat, now) : now;
    if (exp - from > this.#maxLifetime + this.#tolerance)
      throw new ApiError('E_API_UNAUTHORIZED', `token lifetime exceeds the maximum of ${this.#maxLifetime} s`);
    const principal: Principal = Object.freeze({
      sub: String(payload.sub),
      role,
      exp,
      tokenId: createHash('sha256').update(token).digest('hex').slice(0, 16),
      ...(typeof payload.sid === 'string' ? { sid: payload.sid } : {}),
    });
    if (this.#cacheSize > 0) {
      if (this.#cache.size >= this.#cacheSize) {
        const oldest = this.#cache.keys().next().value;
        if (oldest !== undefined) this.#cache.delete(oldest);
      }
      this.#cache.set(token, principal);
    }
    return principal;
  }

  /** Verified tokens currently remembered. */
  get cachedTokens(): number {
    return this.#cache.size;
  }
}

/** Extracts the token from an `Authorization: Bearer <token>` header; `undefined` when absent or malformed. */
export function bearerToken(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  const space = header.indexOf(' ');
  if (space < 0 || header.slice(0, space).toLowerCase() !== 'bearer') return undefined;
  const token = header.slice(space + 1).trim();
  return token === '' ? undefined : token;
}

const ALG_BY_KEY: Record<string, string> = { rsa: 'RS256', ec: 'ES256', ed25519: 'EdDSA' };

const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

/** Three base64url parts, each the one spelling its bytes re-encode to (no spare bits set, no padding). */
function isCanonicalCompactJws(token: string): boolean {
  if (!COMPACT_JWS.test(token)) return false;
  for (const part of token.split('.')) if (Buffer.from(part, 'base64url').toString('base64url') !== part) return false;
  return true;
}

function invalid(field: string, message: string, cause?: unknown): never {
  throw new ApiError('E_API_INVALID_OPTION', `${field} ${message}`, { field, cause });
}

function nonEmpty(value: unknown, field: string): string {
  if (typeof value !== 'string' || value === '') invalid(field, 'must be a non-empty string');
  return value;
}

function nonNegative(value: unknown, field: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) invalid(field, 'must be a number >= 0');
  return value;
}
