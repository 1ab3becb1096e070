export { decorrelatedJitter, RetryBudget } from './backoff.js';
export {
  BREAKER_CHANNEL,
  type BreakerEvent,
  CONNECTION_ERROR_CHANNEL,
  type ConnectionErrorEvent,
  FAILOVER_CHANNEL,
  type FailoverEvent,
  QUERY_CHANNEL,
  type QueryTraceContext,
  REPLICA_CHANNEL,
  type ReplicaStateEvent,
  SLOW_QUERY_CHANNEL,
} from './channels.js';
export type { BreakerState } from './circuit-breaker.js';
export {
  CLICKHOUSE_DEFAULTS,
  ClickHouseBackend,
  type ClickHouseBackendOptions,
  type ClickHouseBatchOptions,
  type ClickHouseClientLike,
} from './clickhouse-backend.js';
export { DEFAULTS } from './defaults.js';
export {
  CircuitOpenError,
  ClosedError,
  CommitUnknownError,
  ConnectionError,
  DbPoolError,
  DbPoolErrorCode,
  type DbPoolErrorContext,
  InvalidOptionError,
  isCircuitOpenError,
  isCommitUnknownError,
  isDbPoolError,
  isPoolExhaustedError,
  isQueryError,
  isQueryTimeoutError,
  NoPrimaryError,
  PoolExhaustedError,
  QueryAbortedError,
  QueryError,
  QueryTimeoutError,
} from './errors.js';
export { normalizeStatement } from './normalize.js';
export {
  addIntervals,
  createPartitionedTable,
  maintainPartitions,
  type PartitionInterval,
  type PartitionMaintenanceResult,
  partitionName,
  partitionStart,
  type SqlRunner,
  type TimePartitionSpec,
  validatePartitionSpec,
} from './partitioning.js';
export { PoolManager } from './pool-manager.js';
export { Session } from './session.js';
export {
  isCanceledSqlState,
  isNotPrimarySqlState,
  isPermanentConnectError,
  isSerializationSqlState,
  isTransientSqlState,
  sqlStateOf,
} from './sqlstate.js';
export {
  ensureTimeSeriesTable,
  type TimeSeriesTableOptions,
  type TimeSeriesTableResult,
  timescaleAvailable,
} from './timescale.js';
export { Transaction, type TransactionQueryOptions } from './transaction.js';
export {
  type BreakerOptions,
  type ConnectWaitEvent,
  type FailoverOptions,
  type HealthCheckResult,
  type Hook,
  type HookDisposable,
  type HookListener,
  type HostConfig,
  type HostHealth,
  type IsolationLevel,
  type PoolManagerOptions,
  type PoolOptions,
  Priority,
  type QueryOptions,
  type QueryResult,
  type QueryRole,
  type ReplicaOptions,
  type RetryOptions,
  type SlowQueryEvent,
  type StatementStats,
  type TransactionOptions,
} from './types.js';
