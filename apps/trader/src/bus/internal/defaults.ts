/**
 * The option defaults of the buses (documented as `@default` in `../types.ts`), in one place so the Redis and
 * in-memory implementations of the same interface cannot drift apart.
 */

/** Defaults of `RedisEventLogOptions` and `MemoryEventLogOptions`. */
export const EVENT_LOG_DEFAULTS = {
  name: 'event-log',
  maxLength: 100_000,
  batchSize: 1_000,
  /** Redis only. */
  maxPending: 100_000,
  /** Redis only. */
  flushTimeoutMs: 5_000,
  /** Redis only: acknowledged records kept to re-append a tail Redis lost. */
  repairWindow: 10_000,
} as const;

/** Defaults of `RedisCommandBusOptions` and `MemoryCommandBusOptions`. */
export const COMMAND_BUS_DEFAULTS = {
  name: 'command-bus',
  maxPending: 10_000,
  replyCacheSize: 10_000,
  timeoutMs: 5_000,
  /** Redis only: MAXLEN of the commands stream. */
  maxLength: 100_000,
} as const;
