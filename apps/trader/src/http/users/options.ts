import { ApiError } from '../errors.js';

/** People login: sessions, lockout and the shared revocation list. Unknown keys are refused. */
export interface SessionOptions {
  /** Access token lifetime (capped by the session's absolute expiry). @default 900 (15 min) */
  accessTtlSec?: number;
  /** A session not refreshed for this long cannot be refreshed any more. @default 1800 (30 min) */
  idleTimeoutSec?: number;
  /** A session ends this long after login, whatever its activity. @default 43200 (12 h) */
  absoluteTimeoutSec?: number;
  /** Failed logins within `failureWindowSec` that lock the user. @default 5 */
  maxFailures?: number;
  /** The window failures are counted in. @default 900 */
  failureWindowSec?: number;
  /** How long a locked user is refused, right password or not. @default 900 */
  lockoutSec?: number;
  /** `issuer` of the `otpauth://` enrolment URI (the name the authenticator app shows). @default 'CryptoScalp' */
  totpIssuer?: string;
  /** Redis key prefix of the revocation list (with a `redis` client). @default 'cryptoscalp:trader:revoked:' */
  revokedKeyPrefix?: string;
  /** Private key (PEM PKCS#8 or `KeyObject`) that signs access tokens when `auth` verifies with a public key. */
  privateKey?: string | import('node:crypto').KeyObject;
  /**
   * The key-encryption key of encryption at rest (TOTP secrets; the keyring's data keys live in the audit schema).
   * Every gateway sharing the database needs the same one. Required.
   */
  kek: import('../../security/kek.js').KeyEncryptionKey;
  /** KEKs being replaced (they unwrap existing data keys only). @default [] */
  previousKeks?: readonly import('../../security/kek.js').KeyEncryptionKey[];
  /**
   * How often the background re-encryption looks for retiring data keys (`trader keys rotate --no-wait`); `0` turns it
   * off. @default 10000
   */
  rotationCheckMs?: number;
}

/** {@link SessionOptions} with defaults applied. */
export type ResolvedSessionOptions = Required<Omit<SessionOptions, 'privateKey' | 'kek' | 'previousKeks'>> &
  Pick<SessionOptions, 'privateKey' | 'kek' | 'previousKeks'>;

export const SESSION_DEFAULTS = Object.freeze({
  accessTtlSec: 900,
  idleTimeoutSec: 1_800,
  absoluteTimeoutSec: 43_200,
  maxFailures: 5,
  failureWindowSec: 900,
  lockoutSec: 900,
  totpIssuer: 'CryptoScalp',
  revokedKeyPrefix: 'cryptoscalp:trader:revoked:',
  rotationCheckMs: 10_000,
});

const INTEGER_KEYS = [
  'accessTtlSec',
  'idleTimeoutSec',
  'absoluteTimeoutSec',
  'maxFailures',
  'failureWindowSec',
  'lockoutSec',
] as const;

/** @throws ApiError `E_API_INVALID_OPTION` naming the bad `sessions.*` field, unknown keys too. */
export function resolveSessionOptions(o: SessionOptions): ResolvedSessionOptions {
  if (o === null || typeof o !== 'object' || Array.isArray(o)) invalid('sessions', 'must be an object');
  const allowed = new Set<string>([...Object.keys(SESSION_DEFAULTS), 'privateKey', 'kek', 'previousKeks']);
  for (const k of Object.keys(o)) if (!allowed.has(k)) invalid(`sessions.${k}`, 'is not a known option');
  const r = { ...SESSION_DEFAULTS, ...o };
  for (const k of INTEGER_KEYS)
    if (!Number.isSafeInteger(r[k]) || r[k] <= 0) invalid(`sessions.${k}`, 'must be a positive integer');
  if (typeof r.totpIssuer !== 'string' || r.totpIssuer === '' || r.totpIssuer.includes(':'))
    invalid('sessions.totpIssuer', 'must be a non-empty string without ":"');
  if (typeof r.revokedKeyPrefix !== 'string' || r.revokedKeyPrefix === '')
    invalid('sessions.revokedKeyPrefix', 'must be a non-empty string');
  if (!Number.isSafeInteger(r.rotationCheckMs) || r.rotationCheckMs < 0)
    invalid('sessions.rotationCheckMs', 'must be a non-negative integer');
  if (r.previousKeks !== undefined && !Array.isArray(r.previousKeks))
    invalid('sessions.previousKeks', 'must be an array');
  for (const [field, k] of [
    ['sessions.kek', r.kek] as const,
    ...(r.previousKeks ?? []).map((p, i) => [`sessions.previousKeks.${i}`, p] as const),
  ])
    if (k === null || typeof k !== 'object' || typeof k.id !== 'string' || typeof k.wrap !== 'function')
      invalid(field, 'must be a key-encryption key (id, wrap, unwrap): encryption at rest needs one');
  if (r.accessTtlSec > r.absoluteTimeoutSec)
    invalid('sessions.accessTtlSec', 'must not exceed sessions.absoluteTimeoutSec');
  return r;
}

function invalid(field: string, message: string): never {
  throw new ApiError('E_API_INVALID_OPTION', `${field} ${message}`, { field });
}
