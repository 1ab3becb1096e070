/**
 * SQLSTATE classification. Pure functions over the five-character codes PostgreSQL reports.
 */

const TRANSIENT = new Set(['40001', '40P01', '57P01', '57P02', '57P03', '53300']);
const NOT_PRIMARY = new Set(['25006', '57P01', '57P03']);

/** True when the SQLSTATE means "try again": connection exceptions (class 08), serialization failure, deadlock, shutdown, too many connections. */
export function isTransientSqlState(sqlState: string | undefined): boolean {
  if (sqlState === undefined) return false;
  return sqlState.startsWith('08') || TRANSIENT.has(sqlState);
}

/** True when the SQLSTATE means the host is no longer (or not yet) a writable primary: read-only transaction, admin shutdown, cannot connect now, connection exceptions. */
export function isNotPrimarySqlState(sqlState: string | undefined): boolean {
  if (sqlState === undefined) return false;
  return sqlState.startsWith('08') || NOT_PRIMARY.has(sqlState);
}

/** True for serialization failure (40001) and deadlock (40P01): a transaction may be re-run. */
export function isSerializationSqlState(sqlState: string | undefined): boolean {
  return sqlState === '40001' || sqlState === '40P01';
}

/** True for `query_canceled` (57014), which a statement timeout or a cancel request produces. */
export function isCanceledSqlState(sqlState: string | undefined): boolean {
  return sqlState === '57014';
}

/** A SQLSTATE-like five character code from an unknown error (a pg `DatabaseError` has `code`). */
export function sqlStateOf(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? code : undefined;
}
