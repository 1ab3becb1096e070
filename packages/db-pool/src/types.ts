import type { SlowQueryEvent } from '@cryptoscalp/contracts';
import type { ClientConfig, FieldDef } from 'pg';

/** Which kind of host a query is for: `write` goes to the primary, `read` to a healthy replica (or the primary). */
export type QueryRole = 'read' | 'write';

/** Transaction isolation levels. */
export type IsolationLevel = 'read committed' | 'repeatable read' | 'serializable';

/** Priorities of pool waiters: lower goes first. */
export const Priority = {
  /** Order writes: ahead of everything. */
  write: 0,
  /** Ordinary reads. */
  read: 1,
  /** Analytics and reports: behind everything. */
  analytics: 2,
} as const;

/**
 * One PostgreSQL host: a `connectionString` or the fields of pg's `ClientConfig`
 * (host, port, user, password, database, ssl...). Unknown pg fields are passed through.
 */
export type HostConfig = ClientConfig & {
  /** `postgres://user:pass@host:port/db`. */
  connectionString?: string;
};

/** Pool settings for each host. */
export interface PoolOptions {
  /** Maximum connections per host. @default 10 */
  max?: number;
  /** Connections kept open even when idle (warm). @default 0 */
  min?: number;
  /** An idle connection above `min` is closed after this long. @default 30000 */
  idleTimeoutMs?: number;
  /** A connection idle longer than this is validated (`select 1`) before it is handed out. @default 5000 */
  validateAfterIdleMs?: number;
  /** Maximum lifetime of a connection; each gets a randomized lifetime in `[maxLifetimeMs*(1-lifetimeJitter), maxLifetimeMs]`. 0 disables. @default 1800000 */
  maxLifetimeMs?: number;
  /** Fraction of `maxLifetimeMs` used as random jitter, in [0, 1]. @default 0.2 */
  lifetimeJitter?: number;
  /** Callers allowed to wait for a connection; one more fails fast with `E_DB_POOL_QUEUE_FULL`. @default 1000 */
  maxWaitingClients?: number;
  /** How long a caller may wait for a connection before `E_DB_POOL_ACQUIRE_TIMEOUT`. @default 10000 */
  acquireTimeoutMs?: number;
  /** TCP connect + startup timeout for a new connection. @default 5000 */
  connectTimeoutMs?: number;
  /** How often idle connections are checked for eviction. @default 1000 */
  evictionRunIntervalMs?: number;
}

/** Retry policy for transient errors. */
export interface RetryOptions {
  /** Attempts in total, including the first. 1 disables retries. @default 3 */
  maxAttempts?: number;
  /** Base delay of the decorrelated-jitter backoff. @default 10 */
  baseDelayMs?: number;
  /** Cap on one backoff delay. @default 1000 */
  maxDelayMs?: number;
  /** Retry budget: each call deposits this fraction of a retry token; each retry spends one. @default 0.1 */
  budgetRatio?: number;
  /** Retry budget: tokens available at start and the floor refilled each second. @default 10 */
  budgetMinPerSec?: number;
}

/** Circuit breaker per host (opossum). */
export interface BreakerOptions {
  /** Turn the breaker off. @default true */
  enabled?: boolean;
  /** Failure percentage in the rolling window that opens the breaker. @default 50 */
  errorThresholdPercentage?: number;
  /** Time the breaker stays open before letting a trial call through. @default 5000 */
  resetTimeoutMs?: number;
  /** Rolling statistics window. @default 10000 */
  rollingCountTimeoutMs?: number;
  /** Minimum calls in the window before the breaker may open. @default 20 */
  volumeThreshold?: number;
  /** A successful call slower than this counts as a failure for the breaker (the caller still gets its result). 0 disables. @default 5000 */
  slowCallMs?: number;
}

/** Replica routing. */
export interface ReplicaOptions {
  /** A replica whose replay lag exceeds this is skipped. @default 1000 */
  maxReplicaLagMs?: number;
  /** How often replica lag and health are checked. @default 1000 */
  lagCheckIntervalMs?: number;
  /** How reads are spread among healthy replicas. @default 'least-outstanding' */
  balance?: 'least-outstanding' | 'round-robin';
  /** Send reads to the primary when no replica is healthy. @default true */
  fallbackToPrimary?: boolean;
}

/** Failover among the primary hosts. */
export interface FailoverOptions {
  /** Interval between probe rounds while looking for a primary. @default 250 */
  probeIntervalMs?: number;
  /**
   * Give up looking for a primary after this long (callers get `E_DB_NO_PRIMARY`). Only transient
   * failures (refused, timed out, `57P03` starting up) are waited out; a permanent one (unknown database,
   * authentication, unknown host name) fails at once. @default 30000
   */
  timeoutMs?: number;
  /** While waiting for a primary, report progress (`onConnectWait`, else a process warning) this often. @default 5000 */
  progressIntervalMs?: number;
}

/** Progress of a wait for a writable primary, passed to `onConnectWait`. */
export interface ConnectWaitEvent {
  component: string;
  /** `host:port` of every primary candidate probed. */
  hosts: string[];
  /** Probe rounds so far. */
  attempts: number;
  elapsedMs: number;
  /** When the wait gives up (`failover.timeoutMs`). */
  timeoutMs: number;
  /** What the last round saw, per host. */
  lastError: string;
}

export type { SlowQueryEvent } from '@cryptoscalp/contracts';

/** Options of {@link PoolManager}. */
export interface PoolManagerOptions {
  /** Component name used in health, stats and events. @default 'postgres' */
  name?: string;
  /** The primary: one host, or several hosts among which the writable one is discovered (`pg_is_in_recovery()`). */
  primary: HostConfig | HostConfig[];
  /** Read replicas. @default [] */
  replicas?: HostConfig[];
  /** Pool settings for every host. */
  pool?: PoolOptions;
  /** Server-side `statement_timeout` for queries without `timeoutMs`. 0 leaves the server default. @default 0 */
  statementTimeoutMs?: number;
  /** Client-side deadline for queries without `timeoutMs`. 0 means none. @default 0 */
  queryTimeoutMs?: number;
  /**
   * Prepare statements automatically (named prepared statement per distinct SQL text, cached per connection).
   * Set `false` where connections share a server session (PGlite behind a socket, PgBouncer in transaction
   * mode): then no named statement is created, unless a call passes `name` or `prepare: true` itself.
   * @default true
   */
  prepare?: boolean;
  /** Retry policy. */
  retry?: RetryOptions;
  /** Circuit breaker per host. */
  breaker?: BreakerOptions;
  /** Replica routing. */
  replica?: ReplicaOptions;
  /** Failover among primary hosts. */
  failover?: FailoverOptions;
  /** Queries slower than this are logged and published. 0 disables. @default 1000 */
  slowQueryMs?: number;
  /**
   * Called for each slow query (besides the channel). @default undefined
   * @deprecated Use the manager's hook, `db.onSlowQuery(listener)`, which can be added and disposed at any time.
   */
  onSlowQuery?: (event: SlowQueryEvent) => void;
  /**
   * Called every `failover.progressIntervalMs` while queries wait for a primary after transient
   * connect failures. Without it, the same report goes to `process.emitWarning` (code `E_DB_CONNECT_WAIT`).
   * @default undefined
   * @deprecated Use the manager's hook, `db.onConnectWait(listener)`.
   */
  onConnectWait?: (event: ConnectWaitEvent) => void;
  /** Distinct normalized statements tracked by `queryStats()`; beyond it they are counted under `<other>`. @default 500 */
  maxTrackedStatements?: number;
}

/** Options of one query. */
export interface QueryOptions {
  /** `write` (primary, the default) or `read` (replicas). @default 'write' */
  role?: QueryRole;
  /** Deadline in ms: sets `statement_timeout` on the server and a client timer that cancels the backend query. @default the manager's `queryTimeoutMs` */
  timeoutMs?: number;
  /** Abort the query (the backend query is cancelled). @default undefined */
  signal?: AbortSignal;
  /** Prepared statement name (overrides the automatic one). @default `cs_<sha1 of the text>` when prepared, else unnamed */
  name?: string;
  /** The statement may safely run twice: retried even after it may have reached the server. @default role === 'read' */
  idempotent?: boolean;
  /** Pool priority (0 first). @default 0 for writes, 1 for reads */
  priority?: number;
  /** Prepare this statement (overrides the manager's `prepare`). @default the manager's `prepare` */
  prepare?: boolean;
}

/** Result of a query. */
export interface QueryResult<R = Record<string, unknown>> {
  rows: R[];
  rowCount: number;
  fields: FieldDef[];
  /** Time from call to result, including queueing and retries. */
  durationMs: number;
  /** `host:port` that answered. */
  host: string;
  /** The role of the host that answered (`write` for the primary). */
  role: QueryRole;
}

/** Options of a transaction. */
export interface TransactionOptions {
  /** @default 'read committed' */
  isolation?: IsolationLevel;
  /** Re-runs of the callback after a serialization failure or deadlock (40001/40P01) or a failure before COMMIT was sent. @default 3 */
  retries?: number;
  /** `BEGIN READ ONLY`. @default false */
  readOnly?: boolean;
  /** Deadline for the whole transaction (SET LOCAL statement_timeout and a client timer). @default the manager's `queryTimeoutMs` */
  timeoutMs?: number;
  /** Abort the transaction. @default undefined */
  signal?: AbortSignal;
  /** Pool priority. @default 0 */
  priority?: number;
}

/** Statistics of one normalized statement. */
export interface StatementStats {
  statement: string;
  calls: number;
  errors: number;
  rows: number;
  totalMs: number;
  meanMs: number;
  p95Ms: number;
  p99Ms: number;
  maxMs: number;
}

/** The typed event hook of the suite (`onX(listener)` returns `{ dispose() }`); see `@cryptoscalp/contracts`. */
export type { HealthCheckResult, Hook, HookDisposable, HookListener } from '@cryptoscalp/contracts';

/** Health of one host inside {@link HealthCheckResult.details}. */
export interface HostHealth {
  host: string;
  role: 'primary' | 'replica' | 'standby' | 'unknown';
  reachable: boolean;
  latencyMs: number;
  lagMs?: number;
  status: 'pass' | 'warn' | 'fail';
  error?: string;
}
