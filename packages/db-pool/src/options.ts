import { DEFAULTS } from './defaults.js';
import { InvalidOptionError } from './errors.js';
import { PoolHooks } from './internal/hooks.js';
import { checkKnownKeys } from './internal/known-keys.js';
import type {
  BreakerOptions,
  ConnectWaitEvent,
  FailoverOptions,
  HostConfig,
  PoolManagerOptions,
  PoolOptions,
  QueryOptions,
  ReplicaOptions,
  RetryOptions,
  SlowQueryEvent,
} from './types.js';

/** Options after validation, with every default filled in. */
export interface ResolvedOptions {
  name: string;
  primaries: HostConfig[];
  replicas: HostConfig[];
  pool: Required<PoolOptions>;
  statementTimeoutMs: number;
  queryTimeoutMs: number;
  prepare: boolean;
  retry: Required<RetryOptions>;
  breaker: Required<BreakerOptions>;
  replica: Required<ReplicaOptions>;
  failover: Required<FailoverOptions>;
  slowQueryMs: number;
  onSlowQuery: ((event: SlowQueryEvent) => void) | undefined;
  onConnectWait: ((event: ConnectWaitEvent) => void) | undefined;
  maxTrackedStatements: number;
  /** Not an option: the manager's hook emitters, carried here because every emitting part receives the options. */
  hooks: PoolHooks;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function num(
  field: string,
  value: unknown,
  fallback: number,
  { min = 0, max = Number.MAX_SAFE_INTEGER, integer = true }: { min?: number; max?: number; integer?: boolean } = {},
): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || Number.isNaN(value)) throw new InvalidOptionError(field, 'must be a number');
  if (integer && !Number.isInteger(value)) throw new InvalidOptionError(field, 'must be an integer');
  if (value < min || value > max) throw new InvalidOptionError(field, `must be between ${min} and ${max}`);
  return value;
}

function bool(field: string, value: unknown, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') throw new InvalidOptionError(field, 'must be a boolean');
  return value;
}

/** An optional nested options object; keys not in `known` are rejected. */
function section(field: string, value: unknown, known: readonly string[]): Record<string, unknown> {
  if (value === undefined) return {};
  if (!isObject(value)) throw new InvalidOptionError(field, 'must be an object');
  checkKnownKeys(value, known, `${field}.`);
  return value;
}

const OPTION_KEYS: readonly (keyof PoolManagerOptions)[] = [
  'name',
  'primary',
  'replicas',
  'pool',
  'statementTimeoutMs',
  'queryTimeoutMs',
  'prepare',
  'retry',
  'breaker',
  'replica',
  'failover',
  'slowQueryMs',
  'onSlowQuery',
  'onConnectWait',
  'maxTrackedStatements',
];

function host(field: string, value: unknown): HostConfig {
  if (!isObject(value)) throw new InvalidOptionError(field, 'must be an object with connectionString or host');
  const cs = value.connectionString;
  if (cs !== undefined) {
    if (typeof cs !== 'string' || cs.length === 0)
      throw new InvalidOptionError(`${field}.connectionString`, 'must be a non-empty string');
    try {
      const url = new URL(cs);
      if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') throw new Error('protocol');
    } catch {
      throw new InvalidOptionError(`${field}.connectionString`, 'must be a postgres:// URL');
    }
  } else if (value.host !== undefined && typeof value.host !== 'string') {
    throw new InvalidOptionError(`${field}.host`, 'must be a string');
  }
  if (value.port !== undefined) num(`${field}.port`, value.port, 0, { min: 1, max: 65535 });
  return value as HostConfig;
}

/** Validates {@link PoolManagerOptions} and fills in {@link DEFAULTS}; throws {@link InvalidOptionError} naming the bad field. */
export function resolveOptions(options: PoolManagerOptions): ResolvedOptions {
  if (!isObject(options)) throw new InvalidOptionError('options', 'must be an object');
  checkKnownKeys(options, OPTION_KEYS);
  const name = options.name ?? DEFAULTS.name;
  if (typeof name !== 'string' || name.length === 0) throw new InvalidOptionError('name', 'must be a non-empty string');

  if (options.primary === undefined) throw new InvalidOptionError('primary', 'is required');
  const primaryList = Array.isArray(options.primary) ? options.primary : [options.primary];
  if (primaryList.length === 0) throw new InvalidOptionError('primary', 'must name at least one host');
  const primaries = primaryList.map((h, i) => host(Array.isArray(options.primary) ? `primary[${i}]` : 'primary', h));
  if (options.replicas !== undefined && !Array.isArray(options.replicas))
    throw new InvalidOptionError('replicas', 'must be an array');
  const replicas = (options.replicas ?? []).map((h, i) => host(`replicas[${i}]`, h));

  const p = section('pool', options.pool, Object.keys(DEFAULTS.pool));
  const d = DEFAULTS.pool;
  const max = num('pool.max', p.max, d.max, { min: 1, max: 10_000 });
  const min = num('pool.min', p.min, d.min, { min: 0, max });
  const pool: Required<PoolOptions> = {
    max,
    min,
    idleTimeoutMs: num('pool.idleTimeoutMs', p.idleTimeoutMs, d.idleTimeoutMs, { min: 1 }),
    validateAfterIdleMs: num('pool.validateAfterIdleMs', p.validateAfterIdleMs, d.validateAfterIdleMs),
    maxLifetimeMs: num('pool.maxLifetimeMs', p.maxLifetimeMs, d.maxLifetimeMs),
    lifetimeJitter: num('pool.lifetimeJitter', p.lifetimeJitter, d.lifetimeJitter, { max: 1, integer: false }),
    maxWaitingClients: num('pool.maxWaitingClients', p.maxWaitingClients, d.maxWaitingClients),
    acquireTimeoutMs: num('pool.acquireTimeoutMs', p.acquireTimeoutMs, d.acquireTimeoutMs, { min: 1 }),
    connectTimeoutMs: num('pool.connectTimeoutMs', p.connectTimeoutMs, d.connectTimeoutMs, { min: 1 }),
    evictionRunIntervalMs: num('pool.evictionRunIntervalMs', p.evictionRunIntervalMs, d.evictionRunIntervalMs, {
      min: 1,
    }),
  };

  const r = section('retry', options.retry, Object.keys(DEFAULTS.retry));
  const dr = DEFAULTS.retry;
  const baseDelayMs = num('retry.baseDelayMs', r.baseDelayMs, dr.baseDelayMs);
  const retry: Required<RetryOptions> = {
    maxAttempts: num('retry.maxAttempts', r.maxAttempts, dr.maxAttempts, { min: 1, max: 100 }),
    baseDelayMs,
    maxDelayMs: num('retry.maxDelayMs', r.maxDelayMs, dr.maxDelayMs, { min: baseDelayMs }),
    budgetRatio: num('retry.budgetRatio', r.budgetRatio, dr.budgetRatio, { max: 1, integer: false }),
    budgetMinPerSec: num('retry.budgetMinPerSec', r.budgetMinPerSec, dr.budgetMinPerSec, { integer: false }),
  };

  const b = section('breaker', options.breaker, Object.keys(DEFAULTS.breaker));
  const db = DEFAULTS.breaker;
  const breaker: Required<BreakerOptions> = {
    enabled: bool('breaker.enabled', b.enabled, db.enabled),
    errorThresholdPercentage: num(
      'breaker.errorThresholdPercentage',
      b.errorThresholdPercentage,
      db.errorThresholdPercentage,
      {
        min: 1,
        max: 100,
        integer: false,
      },
    ),
    resetTimeoutMs: num('breaker.resetTimeoutMs', b.resetTimeoutMs, db.resetTimeoutMs, { min: 1 }),
    rollingCountTimeoutMs: num('breaker.rollingCountTimeoutMs', b.rollingCountTimeoutMs, db.rollingCountTimeoutMs, {
      min: 10,
    }),
    volumeThreshold: num('breaker.volumeThreshold', b.volumeThreshold, db.volumeThreshold),
    slowCallMs: num('breaker.slowCallMs', b.slowCallMs, db.slowCallMs),
  };

  const rp = section('replica', options.replica, Object.keys(DEFAULTS.replica));
  const drp = DEFAULTS.replica;
  if (rp.balance !== undefined && rp.balance !== 'least-outstanding' && rp.balance !== 'round-robin')
    throw new InvalidOptionError('replica.balance', "must be 'least-outstanding' or 'round-robin'");
  const replica: Required<ReplicaOptions> = {
    maxReplicaLagMs: num('replica.maxReplicaLagMs', rp.maxReplicaLagMs, drp.maxReplicaLagMs),
    lagCheckIntervalMs: num('replica.lagCheckIntervalMs', rp.lagCheckIntervalMs, drp.lagCheckIntervalMs, { min: 10 }),
    balance: (rp.balance as ReplicaOptions['balance']) ?? drp.balance,
    fallbackToPrimary: bool('replica.fallbackToPrimary', rp.fallbackToPrimary, drp.fallbackToPrimary),
  };

  const f = section('failover', options.failover, Object.keys(DEFAULTS.failover));
  const df = DEFAULTS.failover;
  const failover: Required<FailoverOptions> = {
    probeIntervalMs: num('failover.probeIntervalMs', f.probeIntervalMs, df.probeIntervalMs, { min: 1 }),
    timeoutMs: num('failover.timeoutMs', f.timeoutMs, df.timeoutMs, { min: 1 }),
    progressIntervalMs: num('failover.progressIntervalMs', f.progressIntervalMs, df.progressIntervalMs, { min: 10 }),
  };

  if (options.onSlowQuery !== undefined && typeof options.onSlowQuery !== 'function')
    throw new InvalidOptionError('onSlowQuery', 'must be a function');
  if (options.onConnectWait !== undefined && typeof options.onConnectWait !== 'function')
    throw new InvalidOptionError('onConnectWait', 'must be a function');

  return {
    name,
    primaries,
    replicas,
    pool,
    statementTimeoutMs: num('statementTimeoutMs', options.statementTimeoutMs, DEFAULTS.statementTimeoutMs),
    queryTimeoutMs: num('queryTimeoutMs', options.queryTimeoutMs, DEFAULTS.queryTimeoutMs),
    prepare: bool('prepare', options.prepare, DEFAULTS.prepare),
    retry,
    breaker,
    replica,
    failover,
    slowQueryMs: num('slowQueryMs', options.slowQueryMs, DEFAULTS.slowQueryMs),
    onSlowQuery: options.onSlowQuery,
    onConnectWait: options.onConnectWait,
    maxTrackedStatements: num('maxTrackedStatements', options.maxTrackedStatements, DEFAULTS.maxTrackedStatements, {
      min: 1,
    }),
    hooks: new PoolHooks(),
  };
}

const QUERY_OPTION_KEYS: readonly (keyof QueryOptions)[] = [
  'role',
  'timeoutMs',
  'signal',
  'name',
  'idempotent',
  'priority',
  'prepare',
];

/**
 * Validates the options of one query (cheap: a handful of comparisons, no allocation on success).
 * @throws InvalidOptionError naming the field, e.g. `role` for `'reader'`.
 */
export function checkQueryOptions(options: QueryOptions): void {
  if (!isObject(options)) throw new InvalidOptionError('options', 'must be an object');
  checkKnownKeys(options, QUERY_OPTION_KEYS);
  const { role, timeoutMs, priority } = options;
  if (role !== undefined && role !== 'read' && role !== 'write')
    throw new InvalidOptionError('role', `must be 'read' or 'write', got ${JSON.stringify(role)}`);
  if (timeoutMs !== undefined && (typeof timeoutMs !== 'number' || !(timeoutMs >= 0) || timeoutMs === Infinity))
    throw new InvalidOptionError(
      'timeoutMs',
      `must be a finite number >= 0 (0: no deadline), got ${String(timeoutMs)}`,
    );
  if (priority !== undefined && (typeof priority !== 'number' || !Number.isInteger(priority) || priority < 0))
    throw new InvalidOptionError('priority', `must be an integer >= 0, got ${String(priority)}`);
}

/** `host:port` of a host config, for stats, events and errors (never includes credentials). */
export function hostLabel(config: HostConfig): string {
  if (config.connectionString !== undefined) {
    try {
      const url = new URL(config.connectionString);
      return `${url.hostname || 'localhost'}:${url.port || '5432'}`;
    } catch {
      return 'unknown:5432';
    }
  }
  return `${config.host ?? 'localhost'}:${config.port ?? 5432}`;
}
