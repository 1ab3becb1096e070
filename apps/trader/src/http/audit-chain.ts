import { createHash } from 'node:crypto';
import { AUDIT_CHAIN_GENESIS, auditCanonicalSql } from './audit-log.js';
import { ApiError } from './errors.js';
import type { Queryable } from './types.js';

/** What {@link verifyAuditChain} found. */
export interface AuditChainReport {
  /** True when every chained row links to the one before and its hash matches its content. */
  ok: boolean;
  /** Rows checked (chained ones). */
  rows: number;
  /** Rows written before the table was chained (no hash), at its start. */
  unchained: number;
  /** The last row's id and hash: keep it elsewhere to detect a cut tail later (a chain cannot show that alone). */
  head?: { id: string; hash: string };
  /** The first broken row and why. */
  broken?: { id: string; reason: string };
}

const IDENT = /^[a-z_][a-z0-9_]{0,62}$/;

/**
 * Walks the audit log of `schema` in id order and recomputes each row's hash from its columns as they are now: a row
 * changed, inserted or removed in the middle (by someone who bypassed the append-only trigger) breaks the chain there.
 * Reads in pages of `pageSize` rows.
 * @throws ApiError `E_API_INVALID_OPTION` for a bad schema name.
 */
export async function verifyAuditChain(pool: Queryable, schema: string, pageSize = 5_000): Promise<AuditChainReport> {
  if (!IDENT.test(schema))
    throw new ApiError('E_API_INVALID_OPTION', 'schema must be a lowercase SQL identifier', { field: 'schema' });
  const sql = `SELECT id::text AS id, prev_hash, hash, ${auditCanonicalSql('r')} AS canonical
                 FROM "${schema}".audit_log r WHERE r.id > $1::bigint ORDER BY r.id LIMIT $2`;
  let after = '0';
  let prev: string | undefined;
  let rows = 0;
  let unchained = 0;
  for (;;) {
    const page = (await pool.query(sql, [after, pageSize])).rows as {
      id: string;
      prev_hash: string | null;
      hash: string | null;
      canonical: string;
    }[];
    for (const r of page) {
      after = r.id;
      if (r.hash === null && prev === undefined) {
        unchained++;
        continue;
      }
      const broken = (reason: string): AuditChainReport => ({
        ok: false,
        rows,
        unchained,
        broken: { id: r.id, reason },
      });
      if (r.hash === null || r.prev_hash === null) return broken('row has no hash');
      if (r.prev_hash !== (prev ?? AUDIT_CHAIN_GENESIS))
        return broken('prev_hash is not the hash of the row before (a row was removed or inserted)');
      const hash = createHash('sha256')
        .update(r.prev_hash + r.canonical, 'utf8')
        .digest('hex');
      if (hash !== r.hash) return broken('hash does not match the row (the row was modified)');
      prev = r.hash;
      rows++;
    }
    if (page.length < pageSize)
      return { ok: true, rows, unchained, ...(prev === undefined ? {} : { head: { id: after, hash: prev } }) };
  }
}
