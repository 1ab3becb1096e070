const BRAND = Symbol.for('cryptoscalp.db-pool.error');

/** Stable error codes of `@cryptoscalp/db-pool`. */
export const DbPoolErrorCode = {
  /** An option (constructor or per call) is invalid; `field` names it. */
  INVALID_OPTION: 'E_DB_INVALID_OPTION',
  /** The server rejected a statement ({@link QueryError}). */
  QUERY: 'E_DB_QUERY',
  /** The pool's wait queue is full. */
  POOL_QUEUE_FULL: 'E_DB_POOL_QUEUE_FULL',
  /** No connection could be had within `acquireTimeoutMs`. */
  POOL_ACQUIRE_TIMEOUT: 'E_DB_POOL_ACQUIRE_TIMEOUT',
  /** The query's deadline passed. */
  QUERY_TIMEOUT: 'E_DB_QUERY_TIMEOUT',
  /** The caller's `AbortSignal` fired. */
  ABORTED: 'E_DB_ABORTED',
  /** The connection was lost after COMMIT was sent: outcome unknown. */
  COMMIT_UNKNOWN: 'E_DB_COMMIT_UNKNOWN',
  /** The host's circuit breaker is open. */
  CIRCUIT_OPEN: 'E_DB_CIRCUIT_OPEN',
  /** A connection failed; `permanent` tells a configuration error (unknown database, authentication, DNS) from a transient one. */
  CONNECTION: 'E_DB_CONNECTION',
  /** No configured primary host accepted writes within the failover timeout. */
  NO_PRIMARY: 'E_DB_NO_PRIMARY',
  /** The manager (or backend) was closed. */
  CLOSED: 'E_DB_CLOSED',
  /** A ClickHouse call failed. */
  CLICKHOUSE: 'E_DB_CLICKHOUSE',
} as const;

/** One of {@link DbPoolErrorCode}'s values. */
export type DbPoolErrorCode = (typeof DbPoolErrorCode)[keyof typeof DbPoolErrorCode];

/** Context fields an error may carry. */
export interface DbPoolErrorContext {
  /** `host:port` the operation ran against. */
  host?: string;
  /** The option field that was invalid (for `E_DB_INVALID_OPTION`). */
  field?: string;
  /** The underlying error. */
  cause?: unknown;
}

/**
 * Base class of every error thrown by `@cryptoscalp/db-pool`. Carries a stable `code`,
 * context fields and `cause`. Use {@link isDbPoolError} rather than `instanceof`: it also
 * works across duplicate installs of the package.
 */
export class DbPoolError extends Error {
  override name = 'DbPoolError';
  /** Stable machine-readable code. */
  readonly code: DbPoolErrorCode;
  /** `host:port` the operation ran against, when known. */
  readonly host: string | undefined;
  /** The option field that was invalid, for `E_DB_INVALID_OPTION`. */
  readonly field: string | undefined;
  /** Brand for cross-install type guards. */
  readonly [BRAND] = true;

  constructor(code: DbPoolErrorCode, message: string, context: DbPoolErrorContext = {}) {
    super(message, context.cause === undefined ? undefined : { cause: context.cause });
    this.code = code;
    this.host = context.host;
    this.field = context.field;
  }
}

/** Thrown at construction when an option is invalid; `field` names it. */
export class InvalidOptionError extends DbPoolError {
  override name = 'InvalidOptionError';
  constructor(field: string, message: string) {
    super('E_DB_INVALID_OPTION', `invalid option ${field}: ${message}`, { field });
  }
}

/**
 * The server rejected a statement (syntax, constraint, permission...). Carries the SQLSTATE
 * and the statement name. Never retried by the manager unless the SQLSTATE is transient.
 */
export class QueryError extends DbPoolError {
  override name = 'QueryError';
  /** Five-character SQLSTATE reported by the server, e.g. `23505`. */
  readonly sqlState: string;
  /** Name of the statement (the `name` query option or the auto-prepared name), if any. */
  readonly statementName: string | undefined;
  /** The server's detail message, if any. */
  readonly detail: string | undefined;
  /** The constraint that was violated, if any. */
  readonly constraint: string | undefined;

  constructor(
    message: string,
    fields: {
      sqlState: string;
      statementName?: string;
      detail?: string;
      constraint?: string;
      host?: string;
      cause?: unknown;
    },
  ) {
    super('E_DB_QUERY', message, { host: fields.host, cause: fields.cause });
    this.sqlState = fields.sqlState;
    this.statementName = fields.statementName;
    this.detail = fields.detail;
    this.constraint = fields.constraint;
  }
}

/** The pool's wait queue is full (`E_DB_POOL_QUEUE_FULL`) or a connection could not be had in time (`E_DB_POOL_ACQUIRE_TIMEOUT`). */
export class PoolExhaustedError extends DbPoolError {
  override name = 'PoolExhaustedError';
  constructor(
    code: 'E_DB_POOL_QUEUE_FULL' | 'E_DB_POOL_ACQUIRE_TIMEOUT',
    message: string,
    context: DbPoolErrorContext = {},
  ) {
    super(code, message, context);
  }
}

/** The query's deadline passed (client timer or the server's `statement_timeout`). The server-side query was cancelled. */
export class QueryTimeoutError extends DbPoolError {
  override name = 'QueryTimeoutError';
  /** The deadline that was exceeded, in milliseconds. */
  readonly timeoutMs: number;
  constructor(timeoutMs: number, context: DbPoolErrorContext = {}) {
    super('E_DB_QUERY_TIMEOUT', `query timed out after ${timeoutMs} ms`, context);
    this.timeoutMs = timeoutMs;
  }
}

/** The caller's `AbortSignal` fired. The server-side query was cancelled. */
export class QueryAbortedError extends DbPoolError {
  override name = 'QueryAbortedError';
  constructor(context: DbPoolErrorContext = {}) {
    super('E_DB_ABORTED', 'query aborted by the caller', context);
  }
}

/**
 * The connection was lost after COMMIT (or an auto-committed write) was sent and before the
 * server answered: the write may or may not have been committed. Never retried; the caller
 * must reconcile (e.g. look the row up by its idempotency key).
 */
export class CommitUnknownError extends DbPoolError {
  override name = 'CommitUnknownError';
  constructor(context: DbPoolErrorContext = {}) {
    super('E_DB_COMMIT_UNKNOWN', 'connection lost before the commit was acknowledged: outcome unknown', context);
  }
}

/** The host's circuit breaker is open: calls fail fast until it half-opens. */
export class CircuitOpenError extends DbPoolError {
  override name = 'CircuitOpenError';
  constructor(context: DbPoolErrorContext = {}) {
    super('E_DB_CIRCUIT_OPEN', `circuit breaker open for ${context.host ?? 'host'}`, context);
  }
}

/**
 * A connection failed (refused, reset, terminated) before the server answered. `permanent`
 * marks a failure that waiting cannot cure (unknown database, authentication, unknown host name):
 * it is thrown at once, never retried nor waited out.
 */
export class ConnectionError extends DbPoolError {
  override name = 'ConnectionError';
  /** Whether the statement may have reached the server. */
  readonly sent: boolean;
  /** A configuration error (see {@link isPermanentConnectError}): retrying or failing over cannot help. */
  readonly permanent: boolean;
  constructor(message: string, context: DbPoolErrorContext & { sent: boolean; permanent?: boolean }) {
    super('E_DB_CONNECTION', message, context);
    this.sent = context.sent;
    this.permanent = context.permanent ?? false;
  }
}

/** No configured primary host accepted writes within the failover timeout. */
export class NoPrimaryError extends DbPoolError {
  override name = 'NoPrimaryError';
  constructor(message: string, context: DbPoolErrorContext = {}) {
    super('E_DB_NO_PRIMARY', message, context);
  }
}

/** The manager (or backend) was closed. */
export class ClosedError extends DbPoolError {
  override name = 'ClosedError';
  constructor() {
    super('E_DB_CLOSED', 'the pool manager is closed');
  }
}

/** True for any error thrown by this package, across duplicate installs. */
export function isDbPoolError(error: unknown): error is DbPoolError {
  return typeof error === 'object' && error !== null && (error as Record<symbol, unknown>)[BRAND] === true;
}

function hasCode(error: unknown, code: DbPoolErrorCode): boolean {
  return isDbPoolError(error) && error.code === code;
}

/** True for a {@link QueryError}. */
export function isQueryError(error: unknown): error is QueryError {
  return hasCode(error, 'E_DB_QUERY');
}
/** True for a {@link PoolExhaustedError} (queue full or acquire timeout). */
export function isPoolExhaustedError(error: unknown): error is PoolExhaustedError {
  return hasCode(error, 'E_DB_POOL_QUEUE_FULL') || hasCode(error, 'E_DB_POOL_ACQUIRE_TIMEOUT');
}
/** True for a {@link QueryTimeoutError}. */
export function isQueryTimeoutError(error: unknown): error is QueryTimeoutError {
  return hasCode(error, 'E_DB_QUERY_TIMEOUT');
}
/** True for a {@link CommitUnknownError}. */
export function isCommitUnknownError(error: unknown): error is CommitUnknownError {
  return hasCode(error, 'E_DB_COMMIT_UNKNOWN');
}
/** True for a {@link CircuitOpenError}. */
export function isCircuitOpenError(error: unknown): error is CircuitOpenError {
  return hasCode(error, 'E_DB_CIRCUIT_OPEN');
}
