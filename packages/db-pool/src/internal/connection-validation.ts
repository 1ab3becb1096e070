import type { PooledConnection } from './pooled-connection.js';

/**
 * Whether a connection can be used as is: not broken, not past its lifetime, and (with `validateAfterIdleMs` > 0)
 * not idle longer than that. One that is merely idle too long is checked with {@link validate}; the others are replaced.
 */
export function isUsable(conn: PooledConnection, now: number, validateAfterIdleMs: number): boolean {
  if (conn.broken || now >= conn.expiresAt) return false;
  return validateAfterIdleMs === 0 || now - conn.lastUsedAt <= validateAfterIdleMs;
}

/** Checks a connection idle too long with `select 1`; a failure marks it broken. */
export async function validate(conn: PooledConnection): Promise<boolean> {
  try {
    await conn.client.query('select 1');
    conn.lastUsedAt = Date.now();
    return true;
  } catch {
    conn.broken = true;
    return false;
  }
}
