/** Runs SQL: a `@cryptoscalp/db-pool` PoolManager, its Transaction, or a pg.Pool adapter. */
export interface SqlRunner {
  query(text: string, params?: unknown[]): Promise<{ rows: Record<string, unknown>[] }>;
}

/** A database that also runs a function in a transaction (PoolManager's shape). */
export interface SqlDatabase extends SqlRunner {
  /** `options`: a deadline for the whole transaction and an abort signal (PoolManager's `TransactionOptions`). */
  transaction<T>(fn: (tx: SqlRunner) => Promise<T>, options?: { timeoutMs?: number; signal?: AbortSignal }): Promise<T>;
}
