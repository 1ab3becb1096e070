import type { Server as HttpServer, IncomingMessage, ServerResponse } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import type { HealthStatus } from '@cryptoscalp/contracts';

/** A node:http or node:https server that `HealthRegistry.attach` can close gracefully. */
export type AttachableServer = HttpServer | HttpsServer;

/** The typed event hook of the suite (`onX(listener)` returns `{ dispose() }`); see `@cryptoscalp/contracts`. */
export type {
  HealthCheckResult,
  HealthIndicator,
  HealthStatus,
  Hook,
  HookDisposable,
  HookListener,
} from '@cryptoscalp/contracts';

/** Options of {@link HealthRegistry.register} and {@link HealthRegistry.registerLiveness}. */
export interface RegisterOptions {
  /**
   * A critical check gates readiness: when it fails, readiness answers 503. A non-critical failing check only
   * turns readiness into `warn` (200). Ignored for liveness checks (every liveness check is critical to liveness).
   * @default false
   */
  critical?: boolean;
  /** Timeout of one run of this check; the signal passed to the indicator is aborted at this time. @default the registry's `timeoutMs` */
  timeoutMs?: number;
  /** How long a result is served without running the check again. @default the registry's `cacheTtlMs` */
  cacheTtlMs?: number;
  /** Measurement name in the `checks` key `component:measurement`. @default 'responseTime' */
  measurement?: string;
  /** IETF `componentType`, e.g. `datastore`, `component`, `system`. @default undefined */
  componentType?: string;
  /** IETF `componentId`, e.g. a database host id (must not be a connection string). @default undefined */
  componentId?: string;
}

/** Thresholds of the built-in event-loop delay liveness check (p99 over the window since the previous run). */
export interface EventLoopDelayCheckOptions {
  /** p99 delay at or above which the check warns, in ms. @default 200 */
  warnMs?: number;
  /** p99 delay at or above which the check fails, in ms. @default 2000 */
  failMs?: number;
  /** Sampling resolution of `monitorEventLoopDelay`, in ms. @default 10 */
  resolutionMs?: number;
}

/** Thresholds of the built-in heap liveness check (`heapUsed / heap_size_limit`). */
export interface HeapCheckOptions {
  /** Used fraction of the heap limit at or above which the check warns. @default 0.85 */
  warnRatio?: number;
  /** Used fraction of the heap limit at or above which the check fails. @default 0.95 */
  failRatio?: number;
}

/** Called with the exit code when the registry would exit the process after a signal-initiated shutdown. */
export type ExitFunction = (code: number) => void;

/** Options of the {@link HealthRegistry} constructor. */
export interface HealthRegistryOptions {
  /** Name of this registry in events (`component`) and stats. @default 'health' */
  name?: string;
  /** Service version reported as `version` in `/health/status`. @default undefined */
  version?: string;
  /** IETF `releaseId`. @default undefined */
  releaseId?: string;
  /** IETF `serviceId`. @default undefined */
  serviceId?: string;
  /** IETF `description`. @default undefined */
  description?: string;
  /** Default time a check result is served without running the check again, in ms. @default 1000 */
  cacheTtlMs?: number;
  /** Default timeout of one check run, in ms. A check still running then yields `fail` with output `timed out`. @default 2000 */
  timeoutMs?: number;
  /**
   * Re-run every check in the background when its result reaches `cacheTtlMs`, so results stay fresh however
   * rarely probes come. When false, a stale result is still served at once and refreshed in the background
   * on access (stale-while-revalidate).
   * @default true
   */
  backgroundRefresh?: boolean;
  /**
   * During this time after construction the liveness checks report `warn` instead of `fail`
   * (boot is heavy: module loading, JIT, cache warm-up), so a slow start does not get the pod restarted.
   * @default 0
   */
  startupGracePeriodMs?: number;
  /** Built-in event-loop delay liveness check, or `false` to leave it out. @default {} (enabled with defaults) */
  eventLoopDelay?: EventLoopDelayCheckOptions | false;
  /** Built-in heap liveness check, or `false` to leave it out. @default {} (enabled with defaults) */
  heap?: HeapCheckOptions | false;
  /** Time between readiness turning 503 and closing the servers, so load balancers stop routing first. @default 5000 */
  shutdownDelayMs?: number;
  /** Longest wait for in-flight requests after the servers stop accepting; then the remaining sockets are destroyed. @default 10000 */
  shutdownTimeoutMs?: number;
  /** Default timeout of one shutdown handler, in ms. @default 5000 */
  shutdownHandlerTimeoutMs?: number;
  /** Install SIGTERM and SIGINT handlers that run {@link HealthRegistry.shutdown} and then exit. @default false */
  handleSignals?: boolean;
  /**
   * What to do after a signal-initiated shutdown: `true` calls `process.exit(code)`, `false` does not exit,
   * a function is called with the exit code (tests). Code 0 when every step finished cleanly, else 1.
   * @default true
   */
  exit?: boolean | ExitFunction;
}

/** Options of {@link HealthRegistry.onShutdown}. */
export interface ShutdownHandlerOptions {
  /** Name in the shutdown report. @default `handler-<n>` */
  name?: string;
  /** Timeout of this handler; its signal is aborted then and shutdown moves on. @default the registry's `shutdownHandlerTimeoutMs` */
  timeoutMs?: number;
}

/** A shutdown handler: release a resource. The signal is aborted at the handler's timeout. */
export type ShutdownHandler = (signal: AbortSignal) => unknown;

/**
 * Shutdown phases, in order: `running` (normal), `draining` (readiness 503, still serving, waiting
 * `shutdownDelayMs`), `closing` (attached servers stop accepting; in-flight requests finish; idle keep-alive sockets
 * are closed), `cleanup` (shutdown handlers run), `stopped`.
 */
export type ShutdownPhase = 'running' | 'draining' | 'closing' | 'cleanup' | 'stopped';

/** Outcome of one shutdown handler. */
export interface ShutdownHandlerReport {
  /** The handler's name. */
  name: string;
  /** `ok`, `error` (it threw or rejected) or `timeout`. */
  outcome: 'ok' | 'error' | 'timeout';
  /** How long it ran, in ms. */
  durationMs: number;
  /** Sanitized error message for `error`. */
  error?: string;
}

/** What {@link HealthRegistry.shutdown} resolves to. */
export interface ShutdownReport {
  /** Why shutdown started, e.g. `SIGTERM` or `manual`. */
  reason: string;
  /** True when every step finished in time without errors (exit code 0). */
  clean: boolean;
  /** Total duration in ms. */
  durationMs: number;
  /** Sockets destroyed because they outlived `shutdownTimeoutMs`. */
  forcedConnections: number;
  /** Requests that were still in flight when the servers stopped accepting. */
  inFlightAtClose: number;
  /** One report per shutdown handler, in the order they ran. */
  handlers: ShutdownHandlerReport[];
}

/** One entry of an IETF `checks` array. */
export interface HealthCheckEntry {
  /** IETF `componentId` (from the register options). */
  componentId?: string;
  /** IETF `componentType` (from the register options). */
  componentType?: string;
  /** The indicator's value, or the check's duration in ms when it gave none. */
  observedValue?: number;
  /** Unit of `observedValue`. */
  observedUnit?: string;
  /** The check's status. */
  status: HealthStatus;
  /** ISO-8601 time of the observation. */
  time?: string;
  /** Sanitized explanation (first line, no connection strings, at most 200 characters). */
  output?: string;
  /** Extension: whether the check gates readiness. */
  critical?: boolean;
  /** Extension: component details (only on `/health/components/:name`). */
  details?: Record<string, unknown>;
}

/** An `application/health+json` document. */
export interface HealthResponse {
  /** Overall status. */
  status: HealthStatus;
  /** Service version. */
  version?: string;
  /** Release id. */
  releaseId?: string;
  /** Service id. */
  serviceId?: string;
  /** Service description. */
  description?: string;
  /** Why the status is what it is (`starting`, `shutting down`, `not found`, ...). */
  output?: string;
  /** Checks keyed `component:measurement`. */
  checks?: Record<string, HealthCheckEntry[]>;
  /** Extension (status endpoint): the shutdown phase. */
  phase?: ShutdownPhase;
  /** Extension (status endpoint): whether the startup phase is over. */
  started?: boolean;
  /** Extension (status endpoint): process uptime in seconds. */
  uptimeSeconds?: number;
}

/**
 * Result of an `authorize` hook: `true` allows; `false` answers 401 (with `WWW-Authenticate: Bearer`);
 * an object picks 401 or 403 explicitly.
 */
export type AuthorizeResult = boolean | { status: 401 | 403; wwwAuthenticate?: string };

/** Decides whether a request may read a detail endpoint. Throwing counts as 401. */
export type AuthorizeFunction = (req: IncomingMessage) => AuthorizeResult | Promise<AuthorizeResult>;

/** Settings of the `/health/benchmark` self-benchmark. */
export interface BenchmarkOptions {
  /** Round trips per component. @default 20 */
  rounds?: number;
  /** Total time budget of one benchmark over all components, in ms. @default 2000 */
  budgetMs?: number;
  /** Minimum time between two benchmarks; earlier requests get 429 with `Retry-After`. @default 10000 */
  minIntervalMs?: number;
}

/** Options of {@link createHealthHandler} (and of `healthPlugin`). */
export interface HealthHandlerOptions {
  /** Where the routes live. @default '/health' */
  basePath?: string;
  /** Source of `/health/metrics` (Prometheus text format 0.0.4); the route answers 404 when absent. @default undefined */
  metrics?: () => string | Promise<string>;
  /** Source of `/health/alerts` (recent alert events, serialized as `{ alerts }`); 404 when absent. @default undefined */
  alerts?: () => unknown;
  /** Enables `/health/benchmark` (`true` for the defaults); 404 when absent or false. @default undefined */
  benchmark?: boolean | BenchmarkOptions;
  /** Guards the detail endpoints (status, components, alerts, benchmark, and metrics unless `protectMetrics` is false). @default undefined (open) */
  authorize?: AuthorizeFunction;
  /** Whether `/health/metrics` goes through `authorize`. @default true */
  protectMetrics?: boolean;
}

/** An Express/Connect style `next`. */
export type NextFunction = (error?: unknown) => void;

/** A node:http request listener that is also Express/Connect middleware. */
export type HealthHandler = (req: IncomingMessage, res: ServerResponse, next?: NextFunction) => void;

/** Per-check counters in {@link HealthStats}. */
export interface CheckStats {
  /** Registered with `register` (readiness) or `registerLiveness`. */
  kind: 'readiness' | 'liveness';
  /** Whether it gates readiness. */
  critical: boolean;
  /** Status of the cached result, `unknown` before the first. */
  status: HealthStatus | 'unknown';
  /** Runs started. */
  runs: number;
  /** Runs that returned (or became) fail. */
  failures: number;
  /** Runs that timed out. */
  timeouts: number;
  /** Duration of the last run in ms. */
  lastDurationMs: number;
  /** Age of the cached result in ms (-1 before the first result). */
  ageMs: number;
}

/** What {@link HealthRegistry.stats} returns: cheap, synchronous, plain values. */
export interface HealthStats {
  /** Shutdown phase. */
  phase: ShutdownPhase;
  /** Whether the startup phase is over. */
  started: boolean;
  /** Current readiness (`fail` while starting or shutting down). */
  readiness: HealthStatus;
  /** Current liveness. */
  liveness: HealthStatus;
  /** Registered checks, built-in liveness checks included. */
  checks: number;
  /** Check runs started (all checks). */
  runs: number;
  /** Results served from the cache without starting a run. */
  cacheHits: number;
  /** Callers that joined a run already in flight (single-flight). */
  sharedRuns: number;
  /** Runs that timed out (all checks). */
  timeouts: number;
  /** Runs that failed (all checks). */
  failures: number;
  /** Exceptions thrown by `onStatusChange` / `onShutdownPhase` listeners (counted, never rethrown). */
  hookListenerErrors: number;
  /** Per-check figures by name. */
  perCheck: Record<string, CheckStats>;
}

/** Figures of one component in a self-benchmark, in ms. */
export interface ComponentBenchmark {
  /** Round trips done. */
  rounds: number;
  /** Round trips that failed or timed out. */
  errors: number;
  /** Fastest round trip. */
  minMs: number;
  /** Median round trip. */
  p50Ms: number;
  /** 99th percentile round trip. */
  p99Ms: number;
  /** Slowest round trip. */
  maxMs: number;
  /** Mean round trip. */
  meanMs: number;
}

/** What `/health/benchmark` answers. */
export interface BenchmarkReport {
  /** ISO-8601 start time. */
  startedAt: string;
  /** Total duration in ms. */
  durationMs: number;
  /** The time budget in ms. */
  budgetMs: number;
  /** Rounds asked per component. */
  roundsPerComponent: number;
  /** True when the time budget ran out before every round was done. */
  truncated: boolean;
  /** Figures per readiness component. */
  components: Record<string, ComponentBenchmark>;
}
