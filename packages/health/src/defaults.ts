/** Defaults of {@link HealthRegistryOptions}, in one documented object. */
export const DEFAULT_REGISTRY_OPTIONS = {
  /** @default 'health' */
  name: 'health',
  /** Result cache TTL. @default 1000 ms */
  cacheTtlMs: 1_000,
  /** Check timeout. @default 2000 ms */
  timeoutMs: 2_000,
  /** Re-run checks in the background when their result reaches the TTL. @default true */
  backgroundRefresh: true,
  /** Liveness checks report warn instead of fail this long after construction. @default 0 ms */
  startupGracePeriodMs: 0,
  /** Delay between readiness turning 503 and closing the servers. @default 5000 ms */
  shutdownDelayMs: 5_000,
  /** Longest wait for in-flight requests once the servers stop accepting. @default 10000 ms */
  shutdownTimeoutMs: 10_000,
  /** Default timeout of one shutdown handler. @default 5000 ms */
  shutdownHandlerTimeoutMs: 5_000,
  /** @default false */
  handleSignals: false,
  /** @default true (process.exit) */
  exit: true,
} as const;

/** Defaults of the built-in event-loop delay check. */
export const DEFAULT_EVENT_LOOP_DELAY = {
  /** @default 200 ms */
  warnMs: 200,
  /** @default 2000 ms */
  failMs: 2_000,
  /** @default 10 ms */
  resolutionMs: 10,
} as const;

/** Defaults of the built-in heap check. */
export const DEFAULT_HEAP = {
  /** @default 0.85 */
  warnRatio: 0.85,
  /** @default 0.95 */
  failRatio: 0.95,
} as const;

/** Defaults of {@link HealthHandlerOptions}. */
export const DEFAULT_HANDLER_OPTIONS = {
  /** @default '/health' */
  basePath: '/health',
  /** @default true */
  protectMetrics: true,
} as const;

/** Defaults of {@link BenchmarkOptions}. */
export const DEFAULT_BENCHMARK = {
  /** @default 20 */
  rounds: 20,
  /** @default 2000 ms */
  budgetMs: 2_000,
  /** @default 10000 ms */
  minIntervalMs: 10_000,
} as const;

/**
 * Every default of the package in one object, by the options type it belongs to (the convention of the suite:
 * each package's `defaults.ts` exports `DEFAULTS`). The separate constants above are the same objects.
 */
export const DEFAULTS = {
  /** {@link HealthRegistryOptions}. */
  registry: DEFAULT_REGISTRY_OPTIONS,
  /** The built-in event-loop delay check. */
  eventLoopDelay: DEFAULT_EVENT_LOOP_DELAY,
  /** The built-in heap check. */
  heap: DEFAULT_HEAP,
  /** {@link HealthHandlerOptions}. */
  handler: DEFAULT_HANDLER_OPTIONS,
  /** {@link BenchmarkOptions}. */
  benchmark: DEFAULT_BENCHMARK,
} as const;
