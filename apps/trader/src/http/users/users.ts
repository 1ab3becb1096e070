import { ApiError } from '../errors.js';
import { isRole } from '../roles.js';
import type { Queryable, Role } from '../types.js';
import { hashPassword } from './passwords.js';
import { newTotp } from './totp.js';

/** What {@link createUser} needs. */
export interface NewUser {
  username: string;
  role: Role;
  password: string;
}

const USERNAME = /^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/;
/** NIST SP 800-63B: at least 8; we ask 12 of people who can move money. 1024 bounds the hashing work. */
const PASSWORD_MIN = 12;
const PASSWORD_MAX = 1024;

/**
 * Creates a user with an argon2id password hash and a fresh TOTP secret, and returns the `otpauth://` URI to enrol
 * it (shown once: it is not stored anywhere else in readable form once encryption at rest lands).
 * @throws ApiError `E_API_BAD_REQUEST` naming `username`, `role` or `password` (after `fieldPrefix`, e.g. `body.`);
 * 409 when the username is taken.
 */
export async function createUser(
  pool: Queryable,
  schema: string,
  user: NewUser,
  totpIssuer: string,
  fieldPrefix = '',
): Promise<{ username: string; role: Role; otpauthUri: string }> {
  if (typeof user.username !== 'string' || !USERNAME.test(user.username))
    bad(
      `${fieldPrefix}username`,
      'must be 1-64 characters: letters, digits, ".", "_", "@", "-", starting with a letter or digit',
    );
  if (!isRole(user.role)) bad(`${fieldPrefix}role`, 'must be viewer, trader or admin');
  if (typeof user.password !== 'string' || user.password.length < PASSWORD_MIN || user.password.length > PASSWORD_MAX)
    bad(`${fieldPrefix}password`, `must be ${PASSWORD_MIN} to ${PASSWORD_MAX} characters`);
  const totp = newTotp(totpIssuer, user.username);
  const hash = await hashPassword(user.password);
  const { rows } = await pool.query(
    `INSERT INTO "${schema}".users (username, role, password_hash, totp_secret_plain) VALUES ($1, $2, $3, $4)
     ON CONFLICT (username) DO NOTHING RETURNING username`,
    [user.username, user.role, hash, totp.secret],
  );
  if (rows.length === 0)
    throw new ApiError('E_API_BAD_REQUEST', `username ${user.username} exists`, {
      status: 409,
      field: `${fieldPrefix}username`,
    });
  return { username: user.username, role: user.role, otpauthUri: totp.uri };
}

function bad(field: string, message: string): never {
  throw new ApiError('E_API_BAD_REQUEST', `${field} ${message}`, { field });
}
