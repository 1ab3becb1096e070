import diagnostics from 'node:diagnostics_channel';

/** Tracing channel of every cache operation (context: {@link CacheOperationContext}). */
export const OPERATION_CHANNEL = 'cryptoscalp:cache:operation';
/** Plain channel: circuit breaker state changes, payload {@link CacheBreakerEvent}. */
export const BREAKER_CHANNEL = 'cryptoscalp:cache:breaker';
/** Plain channel: invalidation bus up/down, payload {@link CacheBusEvent}. */
export const BUS_CHANNEL = 'cryptoscalp:cache:bus';
/** Plain channel: errors swallowed by fail-open or background work, payload {@link CacheErrorEvent}. */
export const ERROR_CHANNEL = 'cryptoscalp:cache:error';

/** Context object of {@link OPERATION_CHANNEL}. `tier` and `hit` are set before the end event. */
export interface CacheOperationContext {
  component: string;
  operation: 'get' | 'set' | 'delete' | 'getOrSet' | 'mget' | 'mset' | 'deleteMany' | 'invalidateTags' | 'clear';
  namespace: string;
  key?: string;
  tier?: 'l1' | 'l2' | 'loader';
  hit?: boolean;
}

/** Payload of {@link BREAKER_CHANNEL}. */
export interface CacheBreakerEvent {
  component: string;
  state: 'open' | 'halfOpen' | 'closed';
}

/** Payload of {@link BUS_CHANNEL}. */
export interface CacheBusEvent {
  component: string;
  state: 'up' | 'down';
  /** The new L1 epoch (entries from older epochs are no longer served from L1 without revalidation). */
  epoch: number;
}

/** Payload of {@link ERROR_CHANNEL}. */
export interface CacheErrorEvent {
  component: string;
  /** What failed: `l2`, `loader`, `serialize`, `bus`, `timeout`. */
  kind: string;
  operation: string;
  error: unknown;
}

/** @internal */
export const operationChannel = diagnostics.tracingChannel<CacheOperationContext, CacheOperationContext>(
  OPERATION_CHANNEL,
);
/** @internal */
export const breakerChannel = diagnostics.channel(BREAKER_CHANNEL);
/** @internal */
export const busChannel = diagnostics.channel(BUS_CHANNEL);
/** @internal */
export const errorChannel = diagnostics.channel(ERROR_CHANNEL);
