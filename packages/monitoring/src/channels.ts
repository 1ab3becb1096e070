import { CHANNEL_NAMES, CHANNELS, type ChannelName } from '@cryptoscalp/contracts';

/** Tracing channel of `@cryptoscalp/cache` operations (context: component, operation, namespace, key?, tier?, hit?). */
export const CACHE_OPERATION_CHANNEL = 'cryptoscalp:cache:operation' satisfies ChannelName;
/** Tracing channel of `@cryptoscalp/db-pool` queries (context: component, operation, statement, name?, role, host, rowCount?). */
export const DB_QUERY_CHANNEL = 'cryptoscalp:db:query' satisfies ChannelName;
/** Plain channel: cache circuit breaker state `{ component, state }`. */
export const CACHE_BREAKER_CHANNEL = 'cryptoscalp:cache:breaker' satisfies ChannelName;
/** Plain channel: database failover `{ component, ... }`. */
export const DB_FAILOVER_CHANNEL = 'cryptoscalp:db:failover' satisfies ChannelName;
/** Plain channel: database circuit breaker state `{ component, state }`. */
export const DB_BREAKER_CHANNEL = 'cryptoscalp:db:breaker' satisfies ChannelName;
/** Plain channel: slow query `{ component, ... }`. */
export const DB_SLOW_QUERY_CHANNEL = 'cryptoscalp:db:slow-query' satisfies ChannelName;
/** Plain channel: WebSocket connection state `{ component, exchange, endpoint, from, to }`. */
export const WS_STATE_CHANNEL = 'cryptoscalp:ws:state' satisfies ChannelName;
/** Plain channel: sequence gap detected `{ component, ... }`. */
export const WS_GAP_CHANNEL = 'cryptoscalp:ws:gap' satisfies ChannelName;
/** Plain channel: order book resync `{ component, ... }`. */
export const WS_RESYNC_CHANNEL = 'cryptoscalp:ws:resync' satisfies ChannelName;
/** Plain channel: malformed message `{ component, ... }`. */
export const WS_MALFORMED_CHANNEL = 'cryptoscalp:ws:malformed' satisfies ChannelName;
/** Plain channel: stream hub events `{ component, ... }`. */
export const WS_HUB_CHANNEL = 'cryptoscalp:ws:hub' satisfies ChannelName;

/**
 * Every plain channel of the `@cryptoscalp/contracts` registry: `Monitoring.watch()` counts each into
 * `cryptoscalp_events_total{channel,component}`. Derived from the registry, so a channel a package adds there is
 * counted without a change here.
 */
export const STATE_CHANNELS: readonly ChannelName[] = CHANNEL_NAMES.filter((name) => CHANNELS[name].kind === 'plain');

/**
 * Every tracing channel of the registry without a metric of its own (today `cryptoscalp:health:check`): each
 * start event is counted into `cryptoscalp_events_total{channel,component}`.
 */
export const TRACED_EVENT_CHANNELS: readonly ChannelName[] = CHANNEL_NAMES.filter(
  (name) => CHANNELS[name].kind === 'tracing' && name !== CACHE_OPERATION_CHANNEL && name !== DB_QUERY_CHANNEL,
);

/** Channels whose `state` field (a contracts `BreakerState`) feeds `cryptoscalp_breaker_state`. */
export const BREAKER_CHANNELS: readonly ChannelName[] = [CACHE_BREAKER_CHANNEL, DB_BREAKER_CHANNEL];

/**
 * Plain channel published by this package on every alert event (pending, firing, resolved, notified,
 * escalated, acknowledged, silenced, inhibited, notification_failed). Payload: an {@link AlertEvent}
 * plus `component` (the Monitoring instance name).
 */
export const MONITORING_ALERT_CHANNEL = 'cryptoscalp:monitoring:alert' satisfies ChannelName;
