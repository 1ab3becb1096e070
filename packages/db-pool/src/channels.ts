import diagnosticsChannel from 'node:diagnostics_channel';
import type { ChannelName, QueryTraceContext } from '@cryptoscalp/contracts';

/** Tracing channel for every query and transaction. Context: {@link QueryTraceContext}. */
export const QUERY_CHANNEL = 'cryptoscalp:db:query' satisfies ChannelName;
/** Plain channel: a primary failover happened. Payload: {@link FailoverEvent}. */
export const FAILOVER_CHANNEL = 'cryptoscalp:db:failover' satisfies ChannelName;
/** Plain channel: a host's breaker changed state. Payload: {@link BreakerEvent}. */
export const BREAKER_CHANNEL = 'cryptoscalp:db:breaker' satisfies ChannelName;
/** Plain channel: a query ran longer than `slowQueryMs`. Payload: {@link SlowQueryEvent}. */
export const SLOW_QUERY_CHANNEL = 'cryptoscalp:db:slow-query' satisfies ChannelName;
/** Plain channel: a pooled connection failed (idle connection killed, network drop). Payload: {@link ConnectionErrorEvent}. */
export const CONNECTION_ERROR_CHANNEL = 'cryptoscalp:db:connection-error' satisfies ChannelName;
/** Plain channel: a replica entered or left the routable set. Payload: {@link ReplicaStateEvent}. */
export const REPLICA_CHANNEL = 'cryptoscalp:db:replica' satisfies ChannelName;

export type {
  BreakerEvent,
  ConnectionErrorEvent,
  FailoverEvent,
  QueryTraceContext,
  ReplicaStateEvent,
} from '@cryptoscalp/contracts';

/** @internal channel objects, created once. */
export const channels = {
  query: diagnosticsChannel.tracingChannel<QueryTraceContext>(QUERY_CHANNEL),
  failover: diagnosticsChannel.channel(FAILOVER_CHANNEL),
  breaker: diagnosticsChannel.channel(BREAKER_CHANNEL),
  slowQuery: diagnosticsChannel.channel(SLOW_QUERY_CHANNEL),
  connectionError: diagnosticsChannel.channel(CONNECTION_ERROR_CHANNEL),
  replica: diagnosticsChannel.channel(REPLICA_CHANNEL),
};
