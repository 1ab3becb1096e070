import { ConnectionError, isDbPoolError, QueryError, QueryTimeoutError } from '../errors.js';
import { sqlStateOf } from '../sqlstate.js';
import type { PooledConnection } from './pooled-connection.js';

/**
 * Maps a pg error to a typed error (QueryError with its SQLSTATE, QueryTimeoutError for a server statement timeout,
 * ConnectionError otherwise) and marks the connection broken when the session is gone. Typed errors pass through.
 */
export function mapPgError(
  error: unknown,
  conn: PooledConnection | undefined,
  name: string | undefined,
  timeoutMs: number,
  label: string,
): unknown {
  if (isDbPoolError(error)) return error;
  const sqlState = sqlStateOf(error);
  const e = error as Error & { severity?: string; detail?: string; constraint?: string };
  if (sqlState !== undefined) {
    if (conn !== undefined && (e.severity === 'FATAL' || e.severity === 'PANIC' || sqlState.startsWith('08')))
      conn.broken = true;
    if (sqlState === '57014' && /statement timeout/i.test(e.message)) {
      return new QueryTimeoutError(timeoutMs > 0 ? timeoutMs : (conn?.statementTimeoutMs ?? 0), {
        host: label,
        cause: error,
      });
    }
    return new QueryError(e.message, {
      sqlState,
      statementName: name,
      detail: e.detail,
      constraint: e.constraint,
      host: label,
      cause: error,
    });
  }
  if (conn !== undefined) conn.broken = true;
  const message = e instanceof Error ? e.message : String(error);
  const sent = !/not queryable/.test(message);
  return new ConnectionError(`connection to ${label} failed: ${message}`, {
    host: label,
    sent,
    cause: error,
  });
}
