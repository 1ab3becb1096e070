import { fieldContext } from '../../security/encrypted-fields.js';
import type { Keyring } from '../../security/keyring.js';
import { ApiError } from '../errors.js';
import { isRole } from '../roles.js';
import type { Queryable, Role } from '../types.js';
import { hashPassword } from './passwords.js';
import { prepareRecoveryCodes, storeRecoveryCodesCte } from './recovery-codes.js';
import { newTotp } from './totp.js';

/** What {@link createUser} needs. */
export interface NewUser {
  username: string;
  role: Role;
  password: string;
}

/** What a new enrolment hands out once: the `otpauth://` URI and the one-time recovery codes. */
export interface Enrolment {
  username: string;
  otpauthUri: string;
  recoveryCodes: string[];
}

const USERNAME = /^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/;
/** NIST SP 800-63B: at least 8; we ask 12 of people who can move money. 1024 bounds the hashing work. */
const PASSWORD_MIN = 12;
const PASSWORD_MAX = 1024;

/** The encryption context of a user's TOTP secret. */
export function totpContext(username: string): string {
  return fieldContext('users', 'totp_secret', [username]);
}

/**
 * Creates a user with an argon2id password hash, a fresh TOTP secret (sealed by `keyring`) and recovery codes, and
 * returns the `otpauth://` URI and the codes: shown once, nothing readable of them is stored.
 * @throws ApiError `E_API_BAD_REQUEST` naming `username`, `role` or `password` (after `fieldPrefix`, e.g. `body.`);
 * 409 when the username is taken.
 */
export async function createUser(
  pool: Queryable,
  schema: string,
  keyring: Keyring,
  user: NewUser,
  totpIssuer: string,
  fieldPrefix = '',
): Promise<Enrolment & { role: Role }> {
  if (typeof user.username !== 'string' || !USERNAME.test(user.username))
    bad(
      `${fieldPrefix}username`,
      'must be 1-64 characters: letters, digits, ".", "_", "@", "-", starting with a letter or digit',
    );
  if (!isRole(user.role)) bad(`${fieldPrefix}role`, 'must be viewer, trader or admin');
  if (typeof user.password !== 'string' || user.password.length < PASSWORD_MIN || user.password.length > PASSWORD_MAX)
    bad(`${fieldPrefix}password`, `must be ${PASSWORD_MIN} to ${PASSWORD_MAX} characters`);
  const totp = newTotp(totpIssuer, user.username);
  const [hash, codes] = await Promise.all([hashPassword(user.password), prepareRecoveryCodes()]);
  const rows = await withSealedTotp(keyring, user.username, totp.secret, (sealed) =>
    pool.query(
      `WITH u AS (
         INSERT INTO "${schema}".users (username, role, password_hash, totp_secret_enc, totp_secret_key)
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (username) DO NOTHING RETURNING username),
       ${storeRecoveryCodesCte(schema, 'u', '$6', '$7')}
       SELECT username FROM u`,
      [user.username, user.role, hash, sealed.ciphertext, sealed.keyId, codes.ids, codes.hashes],
    ),
  );
  if (rows.length === 0)
    throw new ApiError('E_API_BAD_REQUEST', `username ${user.username} exists`, {
      status: 409,
      field: `${fieldPrefix}username`,
    });
  return { username: user.username, role: user.role, otpauthUri: totp.uri, recoveryCodes: codes.codes };
}

/**
 * An administrator's reset of a user's MFA (a lost phone): a new TOTP secret (enrolled again at the next login),
 * new recovery codes (the old ones stop working), the failure count and lockout cleared. Returns the new URI and
 * codes (shown once) and the user's sessions still open (the caller revokes them).
 * @throws ApiError 404 `E_API_NOT_FOUND` naming `fieldPrefix + username` for an unknown user.
 */
export async function resetMfa(
  pool: Queryable,
  schema: string,
  keyring: Keyring,
  username: string,
  totpIssuer: string,
  fieldPrefix = '',
): Promise<Enrolment & { role: Role; sessions: string[] }> {
  if (typeof username !== 'string' || !USERNAME.test(username)) bad(`${fieldPrefix}username`, 'is not a username');
  const totp = newTotp(totpIssuer, username);
  const codes = await prepareRecoveryCodes();
  const rows = await withSealedTotp(keyring, username, totp.secret, (sealed) =>
    pool.query(
      `WITH u AS (
         UPDATE "${schema}".users SET totp_secret_enc = $2, totp_secret_key = $3, totp_enrolled = false,
                totp_last_step = 0, failed_attempts = 0, first_failure_at = NULL, locked_until = NULL, updated_at = now()
          WHERE username = $1 RETURNING username, role),
       ${storeRecoveryCodesCte(schema, 'u', '$4', '$5')}
       SELECT u.role, ARRAY(SELECT id::text FROM "${schema}".sessions s
                              WHERE s.username = u.username AND s.revoked_at IS NULL AND s.expires_at > now()) AS sessions
         FROM u`,
      [username, sealed.ciphertext, sealed.keyId, codes.ids, codes.hashes],
    ),
  );
  const r = rows[0] as { role: Role; sessions: string[] } | undefined;
  if (r === undefined)
    throw new ApiError('E_API_NOT_FOUND', `no user ${username}`, { field: `${fieldPrefix}username` });
  return { username, role: r.role, otpauthUri: totp.uri, recoveryCodes: codes.codes, sessions: r.sessions };
}

/**
 * Seals the TOTP secret and runs `write` with it; a key rotation that retired the key in between makes the foreign
 * key refuse the write (SQLSTATE 23503): sealed again with the new key, twice at most.
 */
async function withSealedTotp(
  keyring: Keyring,
  username: string,
  secret: string,
  write: (sealed: { ciphertext: string; keyId: string }) => Promise<{ rows: unknown[] }>,
): Promise<unknown[]> {
  for (let attempt = 0; ; attempt++) {
    const sealed = await keyring.encrypt(secret, totpContext(username));
    try {
      return (await write(sealed)).rows;
    } catch (e) {
      if ((e as { code?: string }).code !== '23503' || attempt >= 2) throw e;
    }
  }
}

function bad(field: string, message: string): never {
  throw new ApiError('E_API_BAD_REQUEST', `${field} ${message}`, { field });
}
