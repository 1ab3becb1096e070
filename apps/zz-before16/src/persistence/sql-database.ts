/** Runs SQL: a `@cryptoscalp/db-pool` PoolManager, its Transaction, or a pg.Pool adapter. */
export interface SqlRunner {
  query(text: string, params?: unknown[]): Promise<{ rows: Record<string, unknown>[] }>;
}

/** A database that also runs a function in a transaction (PoolManager's shape). */
export interface SqlDatabase extends SqlRunner {
  transaction<T>(fn: (tx: SqlRunner) => Promise<T>): Promise<T>;
}
