/**
 * Every default of {@link PoolManager}, in one documented object.
 */
export const DEFAULTS = {
  /** Component name. */
  name: 'postgres',
  pool: {
    max: 10,
    min: 0,
    idleTimeoutMs: 30_000,
    validateAfterIdleMs: 5_000,
    maxLifetimeMs: 1_800_000,
    lifetimeJitter: 0.2,
    maxWaitingClients: 1_000,
    acquireTimeoutMs: 10_000,
    connectTimeoutMs: 5_000,
    evictionRunIntervalMs: 1_000,
  },
  statementTimeoutMs: 0,
  queryTimeoutMs: 0,
  prepare: true,
  retry: {
    maxAttempts: 3,
    baseDelayMs: 10,
    maxDelayMs: 1_000,
    budgetRatio: 0.1,
    budgetMinPerSec: 10,
  },
  breaker: {
    enabled: true,
    errorThresholdPercentage: 50,
    resetTimeoutMs: 5_000,
    rollingCountTimeoutMs: 10_000,
    volumeThreshold: 20,
    slowCallMs: 5_000,
  },
  replica: {
    maxReplicaLagMs: 1_000,
    lagCheckIntervalMs: 1_000,
    balance: 'least-outstanding' as 'least-outstanding' | 'round-robin',
    fallbackToPrimary: true,
  },
  failover: {
    probeIntervalMs: 250,
    timeoutMs: 30_000,
    progressIntervalMs: 5_000,
  },
  slowQueryMs: 1_000,
  maxTrackedStatements: 500,
} as const;
