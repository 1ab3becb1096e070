import { TraderError } from '../../errors.js';

/** Checks one option value; throws through {@link invalidOption}. */
export type OptionCheck = (value: unknown, field: string) => void;

/** Throws the bus's construction error: `E_TRADER_INVALID_OPTION` naming the field. */
export function invalidOption(field: string, message: string): never {
  throw new TraderError('E_TRADER_INVALID_OPTION', `invalid option ${field}: ${message}`, { field });
}

/**
 * Validates an options object once, at construction: every key must be known (a misspelt key would otherwise be
 * silently ignored and its default used), required keys present, and each given value pass its check.
 */
export function checkOptions(options: unknown, checks: Record<string, OptionCheck>, required: string[] = []): void {
  if (options === null || typeof options !== 'object' || Array.isArray(options))
    invalidOption('options', 'must be an object');
  const o = options as Record<string, unknown>;
  for (const key of Object.keys(o)) if (!(key in checks)) invalidOption(key, 'unknown option');
  for (const key of required) if (o[key] === undefined) invalidOption(key, 'is required');
  for (const [key, check] of Object.entries(checks)) if (o[key] !== undefined) check(o[key], key);
}

/** A check for an integer >= `min`. */
export function integerAtLeast(min: number): OptionCheck {
  return (value, field) => {
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min)
      invalidOption(field, `must be an integer >= ${min}`);
  };
}

/** A check for a non-empty string. */
export const nonEmptyString: OptionCheck = (value, field) => {
  if (typeof value !== 'string' || value.length === 0) invalidOption(field, 'must be a non-empty string');
};

/** A check for a `redis://` / `rediss://` URL or an ioredis client (duck-typed: it must be able to `duplicate()`). */
export const redisTarget: OptionCheck = (value, field) => {
  if (typeof value === 'string') {
    if (!/^rediss?:\/\//.test(value)) invalidOption(field, 'must be a redis:// URL or an ioredis client');
    return;
  }
  const client = value as Record<string, unknown> | null;
  if (
    client === null ||
    typeof client !== 'object' ||
    typeof client.duplicate !== 'function' ||
    typeof client.xadd !== 'function'
  )
    invalidOption(field, 'must be a redis:// URL or an ioredis client');
};

/** Checks an offset argument (an integer >= 0) of a log call. */
export function checkOffset(offset: unknown, field: string): void {
  if (typeof offset !== 'number' || !Number.isSafeInteger(offset) || offset < 0)
    invalidOption(field, 'must be an integer >= 0');
}

/** Checks the arguments of `EventLog.read`: an offset >= 0 and a `limit` >= 1. */
export function checkReadArgs(afterOffset: unknown, limit: unknown): void {
  checkOffset(afterOffset, 'afterOffset');
  if (typeof limit !== 'number' || !Number.isSafeInteger(limit) || limit < 1)
    invalidOption('limit', 'must be an integer >= 1');
}

/** Checks the arguments of `EventLog.saveSnapshot`: an offset >= 0 and the snapshot as a string. */
export function checkSnapshotArgs(offset: unknown, json: unknown): void {
  checkOffset(offset, 'offset');
  if (typeof json !== 'string') invalidOption('json', 'must be a string');
}

/** Checks the arguments of `CommandBus.send` and returns the effective timeout. */
export function checkSend(type: unknown, options: unknown, defaultTimeoutMs: number): number {
  if (typeof type !== 'string' || type.length === 0) invalidOption('type', 'must be a non-empty string');
  if (options === null || typeof options !== 'object') invalidOption('options', 'must be an object');
  const { timeoutMs = defaultTimeoutMs, id } = options as { timeoutMs?: unknown; id?: unknown };
  if (typeof timeoutMs !== 'number' || !Number.isSafeInteger(timeoutMs) || timeoutMs < 1)
    invalidOption('timeoutMs', 'must be an integer >= 1');
  if (id !== undefined && (typeof id !== 'string' || id.length === 0))
    invalidOption('id', 'must be a non-empty string');
  return timeoutMs;
}
