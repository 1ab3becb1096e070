export { bearerAuthorize } from './bearer-authorize.js';
export { HEALTH_CHECK_CHANNEL, HEALTH_SHUTDOWN_CHANNEL, HEALTH_STATUS_CHANNEL } from './channels.js';
export {
  DEFAULT_BENCHMARK,
  DEFAULT_EVENT_LOOP_DELAY,
  DEFAULT_HANDLER_OPTIONS,
  DEFAULT_HEAP,
  DEFAULT_REGISTRY_OPTIONS,
  DEFAULTS,
} from './defaults.js';
export {
  HEALTH_ERROR_BRAND,
  HealthError,
  HealthErrorCode,
  type HealthErrorCodeValue,
  type HealthErrorContext,
  isHealthError,
  isHealthOptionError,
} from './errors.js';
export { createHealthHandler } from './health-handler.js';
export {
  type FastifyInstanceLike,
  type FastifyReplyLike,
  type FastifyRequestLike,
  type HealthPluginOptions,
  healthPlugin,
} from './health-plugin.js';
export {
  HealthRegistry,
  type LivenessStateValue,
  ReadinessState,
  type ReadinessStateValue,
} from './health-registry.js';
export { type ClosableIndicator, createEventLoopDelayIndicator, createHeapIndicator } from './liveness-checks.js';
export type {
  AttachableServer,
  AuthorizeFunction,
  AuthorizeResult,
  BenchmarkOptions,
  BenchmarkReport,
  CheckStats,
  ComponentBenchmark,
  EventLoopDelayCheckOptions,
  ExitFunction,
  HealthCheckEntry,
  HealthCheckResult,
  HealthHandler,
  HealthHandlerOptions,
  HealthIndicator,
  HealthRegistryOptions,
  HealthResponse,
  HealthStats,
  HealthStatus,
  HeapCheckOptions,
  Hook,
  HookDisposable,
  HookListener,
  NextFunction,
  RegisterOptions,
  ShutdownHandler,
  ShutdownHandlerOptions,
  ShutdownHandlerReport,
  ShutdownPhase,
  ShutdownReport,
} from './types.js';
