/**
 * Every default of `CacheManagerOptions` in one place.
 */
export const DEFAULTS = {
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
  ttlMs: 60_000,
  /** @default 0 */
  graceMs: 0,
  /** @default 0 */
  timeoutMs: 0,
  /** @default 0 (none) */
  hardTimeoutMs: 0,
  /** @default 500 */
  commandTimeoutMs: 500,
  /** @default true */
  failOpen: true,
  compression: {
    /** @default 4096 */
    thresholdBytes: 4_096,
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

/**
 * The defaults under their names from before the unit suffixes (`ttl`, `grace`, `timeout`, `hardTimeout`,
 * `commandTimeout`, `compression.threshold`) beside the new ones.
 * @deprecated Use {@link DEFAULTS}; removed in the next major version.
 */
export const DEFAULT_OPTIONS = {
  ...DEFAULTS,
  ttl: DEFAULTS.ttlMs,
  grace: DEFAULTS.graceMs,
  timeout: DEFAULTS.timeoutMs,
  hardTimeout: DEFAULTS.hardTimeoutMs,
  commandTimeout: DEFAULTS.commandTimeoutMs,
  compression: { ...DEFAULTS.compression, threshold: DEFAULTS.compression.thresholdBytes },
} as const;
