import { performance } from 'node:perf_hooks';
import type pg from 'pg';
import type { PooledConnection } from './host-pool.js';
import type { HostEntry } from './internal/host-entry.js';
import type { StatementCache } from './internal/statement-cache.js';
import { submit } from './internal/submit.js';
import type { QueryResult } from './types.js';

/** Options of a statement inside a transaction. */
export interface TransactionQueryOptions {
  /** Prepared statement name (overrides the automatic one). */
  name?: string;
  /** Prepare this statement (overrides the manager's `prepare`). */
  prepare?: boolean;
}

/**
 * The handle a transaction callback receives: statements run on the transaction's one
 * connection. Do not keep it after the callback returns.
 */
export class Transaction {
  /** @internal set when a statement gave up and the connection is released by the cancel path. */
  handedOff = false;
  /** @internal */
  finished = false;

  /** @internal created by {@link PoolManager.transaction}. */
  constructor(
    private readonly host: HostEntry,
    /** @internal */ readonly conn: PooledConnection,
    private readonly statements: StatementCache,
    private readonly prepare: boolean,
    private readonly deadlineAt: number,
    private readonly timeoutMs: number,
    private readonly signal: AbortSignal | undefined,
  ) {}

  /** `host:port` of the primary the transaction runs on. */
  get hostLabel(): string {
    return this.host.label;
  }

  /** Runs a statement in the transaction. */
  async query<R = Record<string, unknown>>(
    text: string,
    params?: unknown[],
    options?: TransactionQueryOptions,
  ): Promise<QueryResult<R>> {
    if (this.finished) throw new Error('transaction already finished');
    const started = performance.now();
    const info = this.statements.lookup(text);
    const name = options?.name ?? ((options?.prepare ?? this.prepare) ? info.preparedName : undefined);
    try {
      const r = await this.raw(text, params, name);
      const durationMs = performance.now() - started;
      info.entry.record(durationMs, r.rowCount ?? 0, false);
      return {
        rows: r.rows as R[],
        rowCount: r.rowCount ?? 0,
        fields: r.fields,
        durationMs,
        host: this.host.label,
        role: 'write',
      };
    } catch (error) {
      info.entry.record(performance.now() - started, 0, true);
      throw error;
    }
  }

  /** @internal runs a statement with the transaction's deadline and signal; errors are mapped. */
  async raw(text: string, values?: unknown[], name?: string): Promise<pg.QueryResult> {
    const pool = this.host.pool;
    try {
      const pending = submit(this.conn.client, text, values, name);
      if (this.deadlineAt === 0 && this.signal === undefined) return await pending;
      const g = pool.guard(this.conn, pending, this.deadlineAt, this.timeoutMs, this.signal);
      try {
        return await g.promise;
      } finally {
        if (g.deferred) {
          // The backend is being cancelled; the session's transaction state is unknown to us:
          // the connection is destroyed once the query comes back (the server rolls back).
          this.conn.broken = true;
          this.handedOff = true;
        }
      }
    } catch (error) {
      throw pool.mapError(error, this.conn, name, this.timeoutMs);
    }
  }
}
