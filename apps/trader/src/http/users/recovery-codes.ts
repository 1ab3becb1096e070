import { randomBytes } from 'node:crypto';
import type { Queryable } from '../types.js';
import { hashPassword, verifyPassword } from './passwords.js';

/** Recovery codes issued per user at enrolment and at an MFA reset. */
export const RECOVERY_CODE_COUNT = 10;

const ALPHABET = 'abcdefghijklmnopqrstuvwxyz234567';

/**
 * A new recovery code: 16 base32 characters in four groups (`abcd-efgh-ijkl-mnop`). The first group is its id (how
 * it is found, stored in the clear); the other 12 characters (60 bits) are the secret, stored as an argon2id hash.
 */
function newCode(): string {
  const bytes = randomBytes(16);
  let s = '';
  for (const b of bytes) s += ALPHABET[b & 31];
  return `${s.slice(0, 4)}-${s.slice(4, 8)}-${s.slice(8, 12)}-${s.slice(12, 16)}`;
}

/** A typed code without spaces and dashes, lowercase; `undefined` when it cannot be a recovery code. */
export function normalizeRecoveryCode(code: string): { id: string; secret: string } | undefined {
  const c = typeof code === 'string' ? code.toLowerCase().replace(/[\s-]/g, '') : '';
  if (!/^[a-z2-7]{16}$/.test(c)) return undefined;
  return { id: c.slice(0, 4), secret: c.slice(4) };
}

/** New recovery codes and what is stored of them (the id and the argon2id hash of each). */
export interface PreparedRecoveryCodes {
  codes: string[];
  ids: string[];
  hashes: string[];
}

/** {@link RECOVERY_CODE_COUNT} new codes, hashed (the argon2id hashes run in parallel on libuv's pool). */
export async function prepareRecoveryCodes(): Promise<PreparedRecoveryCodes> {
  const codes: string[] = [];
  const ids = new Set<string>();
  while (codes.length < RECOVERY_CODE_COUNT) {
    const c = newCode();
    const id = c.slice(0, 4);
    if (ids.has(id)) continue;
    ids.add(id);
    codes.push(c);
  }
  const hashes = await Promise.all(
    codes.map((c) => hashPassword((normalizeRecoveryCode(c) as { secret: string }).secret)),
  );
  return { codes, ids: [...ids], hashes };
}

/**
 * SQL that replaces the recovery codes of the users `users` returns (a CTE name with a `username` column) with the
 * prepared ones in the parameters `ids` and `hashes`, as data-modifying CTEs (so they join the statement that creates
 * or resets the user, and nothing is written when no user was).
 */
export function storeRecoveryCodesCte(schema: string, users: string, ids: string, hashes: string): string {
  return `gone AS (DELETE FROM "${schema}".recovery_codes WHERE username IN (SELECT username FROM ${users})),
  codes AS (INSERT INTO "${schema}".recovery_codes (username, code_id, code_hash)
            SELECT x.username, t.id, t.hash FROM ${users} x CROSS JOIN unnest(${ids}::text[], ${hashes}::text[]) AS t(id, hash)
            RETURNING 1)`;
}

/** Uses one recovery code of `username`: `ok` when it matched an unused code, which is then spent; `left` unused. */
export async function useRecoveryCode(
  pool: Queryable,
  schema: string,
  username: string,
  code: string,
): Promise<{ ok: boolean; left: number }> {
  const c = normalizeRecoveryCode(code);
  const { rows } = await pool.query(
    `SELECT id::text, code_hash FROM "${schema}".recovery_codes WHERE username = $1 AND code_id = $2 AND used_at IS NULL`,
    [username, c?.id ?? ''],
  );
  const candidates = rows as { id: string; code_hash: string }[];
  let ok = false;
  // Verified against a dummy hash when there is no such code, so time does not tell which ids exist.
  if (candidates.length === 0) await verifyPassword(undefined, c?.secret ?? '');
  for (const row of candidates) {
    if (c === undefined || !(await verifyPassword(row.code_hash, c.secret))) continue;
    // Spent atomically: of two logins with one code, one succeeds.
    ok =
      (
        await pool.query(
          `UPDATE "${schema}".recovery_codes SET used_at = now() WHERE id = $1 AND used_at IS NULL RETURNING 1`,
          [row.id],
        )
      ).rows.length === 1;
    break;
  }
  const left = await pool.query(
    `SELECT count(*)::int AS n FROM "${schema}".recovery_codes WHERE username = $1 AND used_at IS NULL`,
    [username],
  );
  return { ok, left: (left.rows[0] as { n: number }).n };
}
