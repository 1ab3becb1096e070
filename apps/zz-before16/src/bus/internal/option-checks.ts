import { integerAtLeast, nonEmptyString, type OptionCheck, redisTarget } from './options.js';

/**
 * The option rules shared by implementations of the same interface, so an option means (and is refused) the same
 * on the Redis and the in-memory side. Each implementation spreads these and adds its own options' rules.
 */

/** Options of every Redis implementation: where to connect and the key prefix. Both required. */
export const REDIS_TARGET_CHECKS: Record<'redis' | 'key', OptionCheck> = {
  redis: redisTarget,
  key: nonEmptyString,
};

/** Options of both event logs. */
export const EVENT_LOG_CHECKS: Record<string, OptionCheck> = {
  maxLength: integerAtLeast(1),
  name: nonEmptyString,
  batchSize: integerAtLeast(1),
};

/** Options of both command buses. */
export const COMMAND_BUS_CHECKS: Record<string, OptionCheck> = {
  maxPending: integerAtLeast(1),
  name: nonEmptyString,
  origin: nonEmptyString,
  replyCacheSize: integerAtLeast(1),
  timeoutMs: integerAtLeast(1),
};
