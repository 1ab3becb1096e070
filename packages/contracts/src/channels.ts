import type { BreakerState } from './breaker.js';
import type { HealthStatus } from './health.js';

// ---------------------------------------------------------------- payloads: @cryptoscalp/cache

/** Context of the `cryptoscalp:cache:operation` tracing channel. `tier` and `hit` are set before the end event. */
export interface CacheOperationContext {
  component: string;
  operation: 'get' | 'set' | 'delete' | 'getOrSet' | 'mget' | 'mset' | 'deleteMany' | 'invalidateTags' | 'clear';
  namespace: string;
  key?: string;
  tier?: 'l1' | 'l2' | 'loader';
  hit?: boolean;
}

/** Payload of `cryptoscalp:cache:breaker`. */
export interface CacheBreakerEvent {
  component: string;
  state: BreakerState;
}

/** Payload of `cryptoscalp:cache:bus`. */
export interface CacheBusEvent {
  component: string;
  state: 'up' | 'down';
  /** The new L1 epoch (entries from older epochs are no longer served from L1 without revalidation). */
  epoch: number;
}

/** Payload of `cryptoscalp:cache:error`. */
export interface CacheErrorEvent {
  component: string;
  /** What failed: `l2`, `loader`, `serialize`, `bus`, `timeout`, `listener` (a hook listener threw). */
  kind: string;
  operation: string;
  error: unknown;
}

// ---------------------------------------------------------------- payloads: @cryptoscalp/db-pool

/** Context of the `cryptoscalp:db:query` tracing channel. */
export interface QueryTraceContext {
  component: string;
  operation: 'query' | 'transaction';
  /** Normalized SQL (for a transaction: `transaction`). */
  statement: string;
  name?: string | undefined;
  role: 'read' | 'write';
  /** `host:port`. */
  host: string;
  /** Set before the end event on success. */
  rowCount?: number;
  /** Set by the tracing channel on failure. */
  error?: unknown;
  result?: unknown;
}

/** Payload of `cryptoscalp:db:failover`. */
export interface FailoverEvent {
  component: string;
  /** The old primary `host:port`. */
  from: string;
  /** The new primary `host:port`, or undefined if none was found. */
  to: string | undefined;
  durationMs: number;
  reason: string;
}

/** Payload of `cryptoscalp:db:breaker`. */
export interface BreakerEvent {
  component: string;
  host: string;
  state: BreakerState;
}

/** Payload of `cryptoscalp:db:slow-query`. */
export interface SlowQueryEvent {
  component: string;
  statement: string;
  name: string | undefined;
  host: string;
  role: 'read' | 'write';
  durationMs: number;
}

/** Payload of `cryptoscalp:db:connection-error`. */
export interface ConnectionErrorEvent {
  component: string;
  host: string;
  message: string;
  code: string | undefined;
}

/** Payload of `cryptoscalp:db:replica`. */
export interface ReplicaStateEvent {
  component: string;
  host: string;
  routable: boolean;
  lagMs: number | undefined;
  reason: string;
}

// ---------------------------------------------------------------- payloads: @cryptoscalp/ws-manager

/** Logical state of one managed WebSocket connection. */
export type ConnectionState = 'idle' | 'connecting' | 'open' | 'reconnecting' | 'closed';

/** Payload of `cryptoscalp:ws:state`. */
export interface StateChange {
  component: string;
  exchange: string;
  /** The connection's id, unique within its manager: one state per connection. */
  connection: string;
  /** The endpoint serving the connection, once one was opened (kept while reconnecting). */
  endpoint: string | undefined;
  from: ConnectionState;
  to: ConnectionState;
}

/** Payload of `cryptoscalp:ws:gap`. */
export interface GapInfo {
  component: string;
  exchange: string;
  /** The connection's id (`<exchange>#<n>`), as in {@link StateChange.connection}. */
  connection: string;
  /** The endpoint serving the connection when the gap was found (undefined if no socket was open). */
  endpoint: string | undefined;
  stream: string;
  /** The sequence expected next. */
  expected: number;
  /** The first sequence actually available. */
  received: number;
  /** Whether a resync was started for it. */
  resync: boolean;
}

/** Payload of `cryptoscalp:ws:resync`. */
export interface ResyncInfo {
  component: string;
  exchange: string;
  /** The connection's id (`<exchange>#<n>`), as in {@link StateChange.connection}. */
  connection: string;
  /** The endpoint serving the connection at this phase (undefined if no socket was open). */
  endpoint: string | undefined;
  stream: string;
  phase: 'start' | 'done' | 'error';
  /** Snapshot sequence (phase `done`). */
  sequence?: number;
  /** Duration in ms (phases `done`, `error`). */
  durationMs?: number;
  /** Error message (phase `error`). */
  error?: string;
}

/** Payload of `cryptoscalp:ws:malformed`. */
export interface MalformedInfo {
  component: string;
  exchange: string;
  /** The connection's id (`<exchange>#<n>`), as in {@link StateChange.connection}. */
  connection: string;
  /** The endpoint whose socket sent the frame. */
  endpoint: string | undefined;
  reason: 'decode' | 'oversize';
  bytes: number;
}

/** Payload of `cryptoscalp:ws:hub` (the stream hub's client and authorization events). */
export interface HubEvent {
  component: string;
  event: string;
  clientId?: string;
  topic?: string;
  status?: number;
  reason?: string;
}

// ---------------------------------------------------------------- payloads: @cryptoscalp/health

/** Context of the `cryptoscalp:health:check` tracing channel; `status` and `timedOut` are set before the end event. */
export interface CheckTraceContext {
  component: string;
  operation: 'check';
  check: string;
  kind: 'readiness' | 'liveness';
  critical: boolean;
  status?: string;
  timedOut?: boolean;
}

/** Payload of `cryptoscalp:health:status`: a check's status changed (`from` is `unknown` at first). */
export interface HealthStatusEvent {
  component: string;
  check: string;
  kind: 'readiness' | 'liveness';
  from: HealthStatus | 'unknown';
  to: HealthStatus;
}

/** Payload of `cryptoscalp:health:shutdown`: the shutdown phase changed. */
export interface HealthShutdownEvent {
  component: string;
  phase: 'running' | 'draining' | 'closing' | 'cleanup' | 'stopped';
  reason: string;
}

// ---------------------------------------------------------------- payloads: @cryptoscalp/monitoring

/** Payload of `cryptoscalp:monitoring:alert`: an alert event of `@cryptoscalp/monitoring` plus the instance name. */
export interface MonitoringAlertEvent {
  component: string;
  type: string;
  [field: string]: unknown;
}

// ---------------------------------------------------------------- the registry

/**
 * The channel prefix of each package: `cryptoscalp:<prefix>:<event>`. `db-pool` publishes as `db` and
 * `ws-manager` as `ws`: these short prefixes are the official ones (dashboards and alert rules already use them).
 */
export const CHANNEL_PREFIXES = {
  cache: 'cache',
  'db-pool': 'db',
  'ws-manager': 'ws',
  health: 'health',
  monitoring: 'monitoring',
} as const;

/** A publishing package of the suite (its name without `@cryptoscalp/`). */
export type ChannelPackage = keyof typeof CHANNEL_PREFIXES;

/** How a channel publishes: `tracing` is a `diagnostics_channel.tracingChannel` (start/end/asyncStart/asyncEnd/error), `plain` a `channel`. */
export type ChannelKind = 'tracing' | 'plain';

/** What the registry knows of one channel. */
export interface ChannelInfo {
  readonly package: ChannelPackage;
  readonly kind: ChannelKind;
}

/** Payload (plain channels) or context (tracing channels) of every registered channel, by channel name. */
export interface ChannelPayloads {
  'cryptoscalp:cache:operation': CacheOperationContext;
  'cryptoscalp:cache:breaker': CacheBreakerEvent;
  'cryptoscalp:cache:bus': CacheBusEvent;
  'cryptoscalp:cache:error': CacheErrorEvent;
  'cryptoscalp:db:query': QueryTraceContext;
  'cryptoscalp:db:failover': FailoverEvent;
  'cryptoscalp:db:breaker': BreakerEvent;
  'cryptoscalp:db:slow-query': SlowQueryEvent;
  'cryptoscalp:db:connection-error': ConnectionErrorEvent;
  'cryptoscalp:db:replica': ReplicaStateEvent;
  'cryptoscalp:ws:state': StateChange;
  'cryptoscalp:ws:gap': GapInfo;
  'cryptoscalp:ws:resync': ResyncInfo;
  'cryptoscalp:ws:malformed': MalformedInfo;
  'cryptoscalp:ws:hub': HubEvent;
  'cryptoscalp:health:check': CheckTraceContext;
  'cryptoscalp:health:status': HealthStatusEvent;
  'cryptoscalp:health:shutdown': HealthShutdownEvent;
  'cryptoscalp:monitoring:alert': MonitoringAlertEvent;
}

/** A registered channel name. */
export type ChannelName = keyof ChannelPayloads;

/**
 * Every `diagnostics_channel` name the suite publishes on, with its package and kind. A package publishes only on
 * names listed here (the conformance suite checks it), and `@cryptoscalp/monitoring` subscribes to every one.
 */
export const CHANNELS = {
  'cryptoscalp:cache:operation': { package: 'cache', kind: 'tracing' },
  'cryptoscalp:cache:breaker': { package: 'cache', kind: 'plain' },
  'cryptoscalp:cache:bus': { package: 'cache', kind: 'plain' },
  'cryptoscalp:cache:error': { package: 'cache', kind: 'plain' },
  'cryptoscalp:db:query': { package: 'db-pool', kind: 'tracing' },
  'cryptoscalp:db:failover': { package: 'db-pool', kind: 'plain' },
  'cryptoscalp:db:breaker': { package: 'db-pool', kind: 'plain' },
  'cryptoscalp:db:slow-query': { package: 'db-pool', kind: 'plain' },
  'cryptoscalp:db:connection-error': { package: 'db-pool', kind: 'plain' },
  'cryptoscalp:db:replica': { package: 'db-pool', kind: 'plain' },
  'cryptoscalp:ws:state': { package: 'ws-manager', kind: 'plain' },
  'cryptoscalp:ws:gap': { package: 'ws-manager', kind: 'plain' },
  'cryptoscalp:ws:resync': { package: 'ws-manager', kind: 'plain' },
  'cryptoscalp:ws:malformed': { package: 'ws-manager', kind: 'plain' },
  'cryptoscalp:ws:hub': { package: 'ws-manager', kind: 'plain' },
  'cryptoscalp:health:check': { package: 'health', kind: 'tracing' },
  'cryptoscalp:health:status': { package: 'health', kind: 'plain' },
  'cryptoscalp:health:shutdown': { package: 'health', kind: 'plain' },
  'cryptoscalp:monitoring:alert': { package: 'monitoring', kind: 'plain' },
} as const satisfies Record<ChannelName, ChannelInfo>;

/** Every registered channel name, in registry order. */
export const CHANNEL_NAMES = Object.keys(CHANNELS) as ChannelName[];

/** Whether `name` is a registered channel. */
export function isChannelName(name: string): name is ChannelName {
  return Object.hasOwn(CHANNELS, name);
}
