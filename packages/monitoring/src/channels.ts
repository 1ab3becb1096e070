/** Tracing channel of `@cryptoscalp/cache` operations (context: component, operation, namespace, key?, tier?, hit?). */
export const CACHE_OPERATION_CHANNEL = 'cryptoscalp:cache:operation';
/** Tracing channel of `@cryptoscalp/db-pool` queries (context: component, operation, statement, name?, role, host, rowCount?). */
export const DB_QUERY_CHANNEL = 'cryptoscalp:db:query';
/** Plain channel: cache circuit breaker state `{ component, state }`. */
export const CACHE_BREAKER_CHANNEL = 'cryptoscalp:cache:breaker';
/** Plain channel: database failover `{ component, ... }`. */
export const DB_FAILOVER_CHANNEL = 'cryptoscalp:db:failover';
/** Plain channel: database circuit breaker state `{ component, state }`. */
export const DB_BREAKER_CHANNEL = 'cryptoscalp:db:breaker';
/** Plain channel: slow query `{ component, ... }`. */
export const DB_SLOW_QUERY_CHANNEL = 'cryptoscalp:db:slow-query';
/** Plain channel: WebSocket connection state `{ component, exchange, endpoint, from, to }`. */
export const WS_STATE_CHANNEL = 'cryptoscalp:ws:state';
/** Plain channel: sequence gap detected `{ component, ... }`. */
export const WS_GAP_CHANNEL = 'cryptoscalp:ws:gap';
/** Plain channel: order book resync `{ component, ... }`. */
export const WS_RESYNC_CHANNEL = 'cryptoscalp:ws:resync';
/** Plain channel: malformed message `{ component, ... }`. */
export const WS_MALFORMED_CHANNEL = 'cryptoscalp:ws:malformed';
/** Plain channel: stream hub events `{ component, ... }`. */
export const WS_HUB_CHANNEL = 'cryptoscalp:ws:hub';

/** Every plain state channel that `Monitoring.watch()` counts into `cryptoscalp_events_total{channel,component}`. */
export const STATE_CHANNELS: readonly string[] = [
  CACHE_BREAKER_CHANNEL,
  DB_FAILOVER_CHANNEL,
  DB_BREAKER_CHANNEL,
  DB_SLOW_QUERY_CHANNEL,
  WS_STATE_CHANNEL,
  WS_GAP_CHANNEL,
  WS_RESYNC_CHANNEL,
  WS_MALFORMED_CHANNEL,
  WS_HUB_CHANNEL,
];

/** Channels whose `state` field feeds `cryptoscalp_breaker_state`. */
export const BREAKER_CHANNELS: readonly string[] = [CACHE_BREAKER_CHANNEL, DB_BREAKER_CHANNEL];

/**
 * Plain channel published by this package on every alert event (pending, firing, resolved, notified,
 * escalated, acknowledged, silenced, inhibited, notification_failed). Payload: an {@link AlertEvent}
 * plus `component` (the Monitoring instance name).
 */
export const MONITORING_ALERT_CHANNEL = 'cryptoscalp:monitoring:alert';
