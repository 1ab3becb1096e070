import { parseLsn } from './internal/host-entry.js';
import type { Transaction } from './transaction.js';
import type { QueryOptions, QueryResult, TransactionOptions } from './types.js';

/** @internal what a session needs from the manager. */
export interface SessionHost {
  execute<R>(
    text: string,
    params: unknown[] | undefined,
    options: QueryOptions | undefined,
    session: Session | undefined,
  ): Promise<QueryResult<R>>;
  runTransaction<T>(
    fn: (tx: Transaction) => Promise<T>,
    options: TransactionOptions | undefined,
    session: Session | undefined,
  ): Promise<T>;
}

/** Higher than any real LSN: no replica qualifies. */
const UNKNOWN_LSN = (1n << 64n) - 1n;

/**
 * A read-your-writes session: after a write through the session, its reads go only to
 * replicas known to have replayed that write's WAL position (`pg_current_wal_lsn()` after
 * the write, `pg_last_wal_replay_lsn()` on the replicas), else to the primary.
 */
export class Session {
  /** WAL position of the session's last write, as a `pg_lsn` string. */
  lastWriteLsn: string | undefined;
  /** @internal */
  minLsn: bigint | undefined;

  /** @internal use {@link PoolManager.session}. */
  constructor(private readonly host: SessionHost) {}

  /** Like {@link PoolManager.query}, with read-your-writes. */
  query<R = Record<string, unknown>>(
    text: string,
    params?: unknown[],
    options?: QueryOptions,
  ): Promise<QueryResult<R>> {
    return this.host.execute<R>(text, params, options, this);
  }

  /** Like {@link PoolManager.transaction}; the commit's WAL position is remembered. */
  transaction<T>(fn: (tx: Transaction) => Promise<T>, options?: TransactionOptions): Promise<T> {
    return this.host.runTransaction(fn, options, this);
  }

  /**
   * @internal records a write's WAL position (keeps the highest). An unknown position (the
   * read after the write failed) pins reads to the primary until a later write's is known.
   */
  noteLsn(lsn: string | undefined): void {
    const parsed = parseLsn(lsn);
    if (parsed === undefined) {
      this.minLsn = UNKNOWN_LSN;
      return;
    }
    if (this.minLsn === undefined || this.minLsn === UNKNOWN_LSN || parsed > this.minLsn) {
      this.minLsn = parsed;
      this.lastWriteLsn = lsn;
    }
  }
}
