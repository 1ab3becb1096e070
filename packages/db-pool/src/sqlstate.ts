/**
 * SQLSTATE classification. Pure functions over the five-character codes PostgreSQL reports.
 */

/**
 * Connect failures that waiting cannot cure: unknown database (3D000), authentication and
 * unknown role (class 28), no CONNECT privilege (42501); unknown host name (ENOTFOUND; EAI_AGAIN,
 * a DNS server that did not answer, stays transient); a TLS certificate the client rejects.
 */
const PERMANENT_CONNECT = new Set([
  '3D000',
  '42501',
  'ENOTFOUND',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'CERT_HAS_EXPIRED',
]);

/** True when a connect attempt failed for a reason retrying cannot fix (see {@link PERMANENT_CONNECT}). */
export function isPermanentConnectError(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const code = (error as { code?: unknown }).code;
  if (typeof code !== 'string') return false;
  return PERMANENT_CONNECT.has(code) || (code.length === 5 && code.startsWith('28'));
}

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
