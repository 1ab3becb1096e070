import type { Cluster, Redis } from 'ioredis';
import type { Queryable } from '../types.js';

/**
 * The revocation list every gateway checks on every request carrying a session (`sid`), with no in-process cache: a
 * revoked session's access tokens are refused from the next request on, on every gateway.
 *
 * With Redis: one key per revoked session, living as long as the session's longest possible access token. Without:
 * the `sessions` table in PostgreSQL (its `revoked_at`), which is also written in the Redis case.
 */
export interface RevocationList {
  /** Adds the session to the list (the `sessions` row is revoked by the caller). */
  revoke(sid: string): Promise<void>;
  /** True when the session was revoked (or, without Redis, is unknown). */
  isRevoked(sid: string): Promise<boolean>;
}

/** Redis keys `<prefix><sid>` with a TTL of `ttlSec` (the access token lifetime plus clock tolerance). */
export function redisRevocationList(redis: Redis | Cluster, prefix: string, ttlSec: number): RevocationList {
  return {
    async revoke(sid) {
      await redis.set(`${prefix}${sid}`, '1', 'EX', ttlSec);
    },
    async isRevoked(sid) {
      return (await redis.exists(`${prefix}${sid}`)) > 0;
    },
  };
}

/** The `sessions` table itself: a session is valid while its row exists and is not revoked. */
export function postgresRevocationList(pool: Queryable, sessionsTable: string): RevocationList {
  return {
    async revoke() {
      // The row's revoked_at, written by the caller, is the list.
    },
    async isRevoked(sid) {
      const { rows } = await pool.query(`SELECT 1 FROM ${sessionsTable} WHERE id = $1 AND revoked_at IS NULL`, [sid]);
      return rows.length === 0;
    },
  };
}
