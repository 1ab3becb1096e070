export type { BreakerState } from './breaker.js';
export {
  type BreakerEvent,
  type CacheBreakerEvent,
  type CacheBusEvent,
  type CacheErrorEvent,
  type CacheOperationContext,
  CHANNEL_NAMES,
  CHANNEL_PREFIXES,
  CHANNELS,
  type ChannelInfo,
  type ChannelKind,
  type ChannelName,
  type ChannelPackage,
  type ChannelPayloads,
  type CheckTraceContext,
  type ConnectionErrorEvent,
  type ConnectionState,
  type FailoverEvent,
  type GapInfo,
  type HealthShutdownEvent,
  type HealthStatusEvent,
  type HubEvent,
  isChannelName,
  type MalformedInfo,
  type MonitoringAlertEvent,
  type QueryTraceContext,
  type ReplicaStateEvent,
  type ResyncInfo,
  type SlowQueryEvent,
  type StateChange,
} from './channels.js';
export type { HealthCheckResult, HealthIndicator, HealthStatus } from './health.js';
export type { Hook, HookDisposable, HookListener, HookPayload } from './hook.js';
export { HookEmitter, type HookErrorReporter } from './hook-emitter.js';
export type { StatsRecord, StatsSource, StatsValue } from './stats.js';
