import diagnosticsChannel from 'node:diagnostics_channel';

/** Tracing channel for every query and transaction. Context: {@link QueryTraceContext}. */
export const QUERY_CHANNEL = 'cryptoscalp:db:query';
/** Plain channel: a primary failover happened. Payload: {@link FailoverEvent}. */
export const FAILOVER_CHANNEL = 'cryptoscalp:db:failover';
/** Plain channel: a host's breaker changed state. Payload: {@link BreakerEvent}. */
export const BREAKER_CHANNEL = 'cryptoscalp:db:breaker';
/** Plain channel: a query ran longer than `slowQueryMs`. Payload: {@link SlowQueryEvent}. */
export const SLOW_QUERY_CHANNEL = 'cryptoscalp:db:slow-query';
/** Plain channel: a pooled connection failed (idle connection killed, network drop). Payload: {@link ConnectionErrorEvent}. */
export const CONNECTION_ERROR_CHANNEL = 'cryptoscalp:db:connection-error';
/** Plain channel: a replica entered or left the routable set. Payload: {@link ReplicaStateEvent}. */
export const REPLICA_CHANNEL = 'cryptoscalp:db:replica';

/** Context object of the `cryptoscalp:db:query` tracing channel. */
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
  state: 'open' | 'half-open' | 'closed';
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

/** @internal channel objects, created once. */
export const channels = {
  query: diagnosticsChannel.tracingChannel<QueryTraceContext>(QUERY_CHANNEL),
  failover: diagnosticsChannel.channel(FAILOVER_CHANNEL),
  breaker: diagnosticsChannel.channel(BREAKER_CHANNEL),
  slowQuery: diagnosticsChannel.channel(SLOW_QUERY_CHANNEL),
  connectionError: diagnosticsChannel.channel(CONNECTION_ERROR_CHANNEL),
  replica: diagnosticsChannel.channel(REPLICA_CHANNEL),
};
