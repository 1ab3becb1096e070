import diagnostics from 'node:diagnostics_channel';
import type { CacheOperationContext, ChannelName } from '@cryptoscalp/contracts';

/** Tracing channel of every cache operation (context: {@link CacheOperationContext}). */
export const OPERATION_CHANNEL = 'cryptoscalp:cache:operation' satisfies ChannelName;
/** Plain channel: circuit breaker state changes, payload {@link CacheBreakerEvent}. */
export const BREAKER_CHANNEL = 'cryptoscalp:cache:breaker' satisfies ChannelName;
/** Plain channel: invalidation bus up/down, payload {@link CacheBusEvent}. */
export const BUS_CHANNEL = 'cryptoscalp:cache:bus' satisfies ChannelName;
/** Plain channel: errors swallowed by fail-open or background work, payload {@link CacheErrorEvent}. */
export const ERROR_CHANNEL = 'cryptoscalp:cache:error' satisfies ChannelName;

export type {
  CacheBreakerEvent,
  CacheBusEvent,
  CacheErrorEvent,
  CacheOperationContext,
} from '@cryptoscalp/contracts';

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
