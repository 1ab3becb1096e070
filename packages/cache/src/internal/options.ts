import { DEFAULTS } from '../defaults.js';
import { invalidOption as invalid } from '../errors.js';
import type { CacheManagerOptions, RedisSettings, Serializer } from '../types.js';
import { checkKnownKeys } from './known-keys.js';

/** Namespace and tag names: no `:`, `#`, glob characters or spaces, so key patterns stay unambiguous. */
export const NAME_PATTERN = /^[A-Za-z0-9_.-]{1,128}$/;

/** The validated options with every default applied. */
export interface ResolvedOptions {
  name: string;
  namespace: string;
  redis: RedisSettings | undefined;
  l1:
    | { maxEntries: number; maxBytes: number; policy: 'lru' | 'lfu'; sweepIntervalMs: number; sweepBatch: number }
    | false;
  ttl: number;
  grace: number;
  timeout: number;
  hardTimeout: number;
  commandTimeout: number;
  failOpen: boolean;
  serializer: Serializer | undefined;
  compression: { threshold: number; level: number } | false;
  breaker: {
    errorThresholdPercentage: number;
    resetTimeoutMs: number;
    volumeThreshold: number;
    rollingWindowMs: number;
  };
  bus: { heartbeatMs: number; channel: string } | false;
  lease: { ttlMs: number; waitTimeoutMs: number };
  maxKeyLength: number;
  healthWarnLatencyMs: number;
}

const OPTION_KEYS: readonly (keyof CacheManagerOptions)[] = [
  'name',
  'redis',
  'namespace',
  'l1',
  'ttlMs',
  'graceMs',
  'timeoutMs',
  'hardTimeoutMs',
  'commandTimeoutMs',
  'ttl',
  'grace',
  'timeout',
  'hardTimeout',
  'commandTimeout',
  'failOpen',
  'serializer',
  'compression',
  'breaker',
  'bus',
  'lease',
  'maxKeyLength',
  'healthWarnLatencyMs',
];

const warnedRenames = new Set<string>();

/**
 * The value of an option renamed to carry its unit (`ttl` -> `ttlMs`): the new name's, else the old name's
 * (reported once per process as a `DeprecationWarning` with code `CRYPTOSCALP_CACHE_DEPRECATED_OPTION`).
 * Both names at once is an invalid option.
 * @internal
 */
export function renamedOption(
  o: Record<string, unknown> | undefined,
  name: string,
  deprecated: string,
  prefix = '',
): unknown {
  if (o === undefined) return undefined;
  const value = o[name];
  const old = o[deprecated];
  if (old === undefined) return value;
  if (value !== undefined) {
    throw invalid(`${prefix}${deprecated}`, `is the deprecated name of ${prefix}${name}: set only ${prefix}${name}`);
  }
  const key = `${prefix}${deprecated}`;
  if (!warnedRenames.has(key)) {
    warnedRenames.add(key);
    process.emitWarning(
      `@cryptoscalp/cache: option ${key} is deprecated, use ${prefix}${name} (same value, in the unit its name says)`,
      {
        type: 'DeprecationWarning',
        code: 'CRYPTOSCALP_CACHE_DEPRECATED_OPTION',
      },
    );
  }
  return old;
}

/** {@link checkNumber} of an option that has a deprecated name: the error names the key the caller used. */
export function checkRenamedNumber(
  o: Record<string, unknown> | undefined,
  name: string,
  deprecated: string,
  fallback: number,
  range: { min?: number; max?: number } = {},
  prefix = '',
): number {
  const value = renamedOption(o, name, deprecated, prefix);
  const used = o !== undefined && o[name] === undefined && o[deprecated] !== undefined ? deprecated : name;
  return checkNumber(`${prefix}${used}`, value, fallback, range);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Validates a non-negative (or positive) integer-ish number option. */
export function checkNumber(
  field: string,
  value: unknown,
  fallback: number,
  { min = 0, max = Number.MAX_SAFE_INTEGER, integer = true } = {},
): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || Number.isNaN(value)) throw invalid(field, 'must be a number');
  if (integer && !Number.isInteger(value)) throw invalid(field, 'must be an integer');
  if (value < min || value > max) throw invalid(field, `must be between ${min} and ${max}`);
  return value;
}

function checkBoolean(field: string, value: unknown, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') throw invalid(field, 'must be a boolean');
  return value;
}

/** Validates a namespace or channel-like name. */
export function checkName(field: string, value: unknown, fallback: string): string {
  if (value === undefined) return fallback;
  if (typeof value !== 'string' || !NAME_PATTERN.test(value)) {
    throw invalid(field, 'must be 1-128 characters of letters, digits, "_", "-" or "."');
  }
  return value;
}

/** Validates an optional nested options object, rejecting keys not in `known`. */
function checkObject(field: string, value: unknown, known: readonly string[]): Record<string, unknown> {
  if (value === undefined) return {};
  if (!isObject(value)) throw invalid(field, 'must be an object');
  checkKnownKeys(value, known, `${field}.`);
  return value;
}

const BUS_KEYS = ['heartbeatMs', 'channel'];

const ONE_YEAR = 365 * 24 * 3600 * 1000;

/** Validates `redis`: settings objects are checked field by field; client instances are duck-typed. */
function checkRedis(value: unknown): RedisSettings | undefined {
  if (value === undefined) return undefined;
  if (!isObject(value))
    throw invalid('redis', 'must be { url }, { sentinels, name }, { cluster } or an ioredis instance');
  if (typeof value.getBuffer === 'function' && typeof value.duplicate === 'function')
    return value as unknown as RedisSettings;
  const nodesOk = (nodes: unknown) =>
    Array.isArray(nodes) &&
    nodes.length > 0 &&
    nodes.every((n) => isObject(n) && typeof n.host === 'string' && typeof n.port === 'number');
  if ('url' in value) {
    checkKnownKeys(value, ['url', 'options'], 'redis.');
    if (typeof value.url !== 'string') throw invalid('redis.url', 'must be a string');
    try {
      const parsed = new URL(value.url);
      if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') throw new Error('protocol');
    } catch {
      throw invalid('redis.url', 'must be a redis:// or rediss:// URL');
    }
  } else if ('sentinels' in value) {
    checkKnownKeys(value, ['sentinels', 'name', 'options'], 'redis.');
    if (!nodesOk(value.sentinels)) throw invalid('redis.sentinels', 'must be a non-empty array of { host, port }');
    if (typeof value.name !== 'string' || value.name.length === 0)
      throw invalid('redis.name', 'must be the master name');
  } else if ('cluster' in value) {
    checkKnownKeys(value, ['cluster', 'options'], 'redis.');
    if (!nodesOk(value.cluster)) throw invalid('redis.cluster', 'must be a non-empty array of { host, port }');
  } else {
    throw invalid('redis', 'must be { url }, { sentinels, name }, { cluster } or an ioredis instance');
  }
  if (value.options !== undefined && !isObject(value.options)) throw invalid('redis.options', 'must be an object');
  return value as unknown as RedisSettings;
}

/** Validates every option and applies the defaults. Throws `E_CACHE_INVALID_OPTION` naming the field. */
export function resolveOptions(input: CacheManagerOptions | undefined): ResolvedOptions {
  if (input !== undefined && !isObject(input)) throw invalid('options', 'must be an object');
  const o = (input ?? {}) as Record<string, unknown>;
  checkKnownKeys(o, OPTION_KEYS);
  const d = DEFAULTS;

  const name = o.name === undefined ? d.name : o.name;
  if (typeof name !== 'string' || name.length === 0) throw invalid('name', 'must be a non-empty string');

  let l1: ResolvedOptions['l1'];
  if (o.l1 === false) {
    l1 = false;
  } else {
    const l = checkObject('l1', o.l1, ['maxEntries', 'maxBytes', 'policy', 'sweepIntervalMs', 'sweepBatch']);
    const policy = l.policy === undefined ? d.l1.policy : l.policy;
    if (policy !== 'lru' && policy !== 'lfu') throw invalid('l1.policy', "must be 'lru' or 'lfu'");
    l1 = {
      maxEntries: checkNumber('l1.maxEntries', l.maxEntries, d.l1.maxEntries, { min: 1 }),
      maxBytes: checkNumber('l1.maxBytes', l.maxBytes, d.l1.maxBytes),
      policy,
      sweepIntervalMs: checkNumber('l1.sweepIntervalMs', l.sweepIntervalMs, d.l1.sweepIntervalMs, { min: 10 }),
      sweepBatch: checkNumber('l1.sweepBatch', l.sweepBatch, d.l1.sweepBatch, { min: 1 }),
    };
  }

  const redis = checkRedis(o.redis);
  if (redis === undefined && l1 === false) throw invalid('l1', 'cannot be false without redis: there would be no tier');

  let compression: ResolvedOptions['compression'] = false;
  if (o.compression !== undefined && o.compression !== false) {
    const c = checkObject('compression', o.compression, ['thresholdBytes', 'threshold', 'level']);
    compression = {
      threshold: checkRenamedNumber(c, 'thresholdBytes', 'threshold', d.compression.thresholdBytes, {}, 'compression.'),
      level: checkNumber('compression.level', c.level, d.compression.level, { min: 1, max: 9 }),
    };
  }

  const serializer = o.serializer;
  if (
    serializer !== undefined &&
    (!isObject(serializer) ||
      typeof serializer.serialize !== 'function' ||
      typeof serializer.deserialize !== 'function')
  ) {
    throw invalid('serializer', 'must have serialize() and deserialize() functions');
  }

  const b = checkObject('breaker', o.breaker, [
    'errorThresholdPercentage',
    'resetTimeoutMs',
    'volumeThreshold',
    'rollingWindowMs',
  ]);
  const namespace = checkName('namespace', o.namespace, d.namespace);

  let bus: ResolvedOptions['bus'] = false;
  if (o.bus !== false && redis !== undefined && l1 !== false) {
    const bo = checkObject('bus', o.bus, BUS_KEYS);
    if (bo.channel !== undefined && (typeof bo.channel !== 'string' || bo.channel.length === 0)) {
      throw invalid('bus.channel', 'must be a non-empty string');
    }
    bus = {
      heartbeatMs: checkNumber('bus.heartbeatMs', bo.heartbeatMs, d.bus.heartbeatMs, { min: 10, max: 60_000 }),
      channel: (bo.channel as string | undefined) ?? `${namespace}:#bus`,
    };
  } else if (o.bus !== undefined && o.bus !== false) {
    checkObject('bus', o.bus, BUS_KEYS);
  }

  const le = checkObject('lease', o.lease, ['ttlMs', 'waitTimeoutMs']);

  return {
    name,
    namespace,
    redis,
    l1,
    ttl: checkRenamedNumber(o, 'ttlMs', 'ttl', d.ttlMs, { min: 1, max: ONE_YEAR * 10 }),
    grace: checkRenamedNumber(o, 'graceMs', 'grace', d.graceMs, { max: ONE_YEAR * 10 }),
    timeout: checkRenamedNumber(o, 'timeoutMs', 'timeout', d.timeoutMs, { max: ONE_YEAR }),
    hardTimeout: checkRenamedNumber(o, 'hardTimeoutMs', 'hardTimeout', d.hardTimeoutMs, {
      max: ONE_YEAR,
    }),
    commandTimeout: checkRenamedNumber(o, 'commandTimeoutMs', 'commandTimeout', d.commandTimeoutMs, {
      min: 1,
      max: 600_000,
    }),
    failOpen: checkBoolean('failOpen', o.failOpen, d.failOpen),
    serializer: serializer as Serializer | undefined,
    compression,
    breaker: {
      errorThresholdPercentage: checkNumber(
        'breaker.errorThresholdPercentage',
        b.errorThresholdPercentage,
        d.breaker.errorThresholdPercentage,
        { min: 1, max: 100 },
      ),
      resetTimeoutMs: checkNumber('breaker.resetTimeoutMs', b.resetTimeoutMs, d.breaker.resetTimeoutMs, { min: 1 }),
      volumeThreshold: checkNumber('breaker.volumeThreshold', b.volumeThreshold, d.breaker.volumeThreshold),
      rollingWindowMs: checkNumber('breaker.rollingWindowMs', b.rollingWindowMs, d.breaker.rollingWindowMs, {
        min: 100,
      }),
    },
    bus,
    lease: {
      ttlMs: checkNumber('lease.ttlMs', le.ttlMs, d.lease.ttlMs, { min: 10 }),
      waitTimeoutMs: checkNumber('lease.waitTimeoutMs', le.waitTimeoutMs, d.lease.waitTimeoutMs, { min: 1 }),
    },
    maxKeyLength: checkNumber('maxKeyLength', o.maxKeyLength, d.maxKeyLength, { min: 1, max: 512 * 1024 }),
    healthWarnLatencyMs: checkNumber('healthWarnLatencyMs', o.healthWarnLatencyMs, d.healthWarnLatencyMs, { min: 1 }),
  };
}
