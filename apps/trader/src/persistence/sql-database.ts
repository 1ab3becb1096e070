/** Runs SQL: a `@cryptoscalp/db-pool` PoolManager, its Transaction, or a pg.Pool adapter. */
export interface SqlRunner {
  query(text: string, params?: unknown[]): Promise<{ rows: Record<string, unknown>[] }>;
}

/** A database that also runs a function in a transaction (PoolManager's shape). */
export interface SqlDatabase extends SqlRunner {
  /** `options`: a deadline, an abort signal and re-runs on transient failures (PoolManager's `TransactionOptions`). */
  transaction<T>(
    fn: (tx: SqlRunner) => Promise<T>,
    options?: { timeoutMs?: number; signal?: AbortSignal; retries?: number },
  ): Promise<T>;
}
