/**
 * Every default of `CacheManagerOptions` in one place.
 */
export const DEFAULT_OPTIONS = {
  /** @default 'cache' */
  name: 'cache',
  /** @default 'cache' */
  namespace: 'cache',
  l1: {
    /** @default 100000 */
    maxEntries: 100_000,
    /** @default 0 (no byte limit) */
    maxBytes: 0,
    /** @default 'lru' */
    policy: 'lru' as 'lru' | 'lfu',
    /** @default 1000 */
    sweepIntervalMs: 1_000,
    /** @default 2000 */
    sweepBatch: 2_000,
  },
  /** @default 60000 (1 minute) */
  ttl: 60_000,
  /** @default 0 */
  grace: 0,
  /** @default 0 */
  timeout: 0,
  /** @default 0 (none) */
  hardTimeout: 0,
  /** @default 500 */
  commandTimeout: 500,
  /** @default true */
  failOpen: true,
  compression: {
    /** @default 4096 */
    threshold: 4_096,
    /** @default 1 */
    level: 1,
  },
  breaker: {
    /** @default 50 */
    errorThresholdPercentage: 50,
    /** @default 2000 */
    resetTimeoutMs: 2_000,
    /** @default 5 */
    volumeThreshold: 5,
    /** @default 10000 */
    rollingWindowMs: 10_000,
  },
  bus: {
    /** @default 500 */
    heartbeatMs: 500,
  },
  lease: {
    /** @default 5000 */
    ttlMs: 5_000,
    /** @default 10000 */
    waitTimeoutMs: 10_000,
  },
  /** @default 1024 */
  maxKeyLength: 1_024,
  /** @default 100 */
  healthWarnLatencyMs: 100,
} as const;
