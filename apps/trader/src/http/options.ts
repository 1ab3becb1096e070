import { getHeapStatistics } from 'node:v8';
import type { HealthRegistry } from '@cryptoscalp/health';
import type { HubBroker } from '@cryptoscalp/ws-manager';
import { API_DEFAULTS } from './defaults.js';
import { ApiError } from './errors.js';
import { secretProblem } from './secret-strength.js';
import type {
  HttpServerOptions,
  LoadSheddingOptions,
  MetricsSource,
  RateLimitOptions,
  StreamOptions,
} from './types.js';

/** Options with every default applied. */
export interface ResolvedOptions {
  port: number;
  host: string;
  cacheTtlMs: number;
  bodyLimit: number;
  dashboard: boolean;
  trustProxy: boolean | string | string[];
  keepAliveTimeoutMs: number;
  drainTimeoutMs: number;
  maxConnectionsPerIp: number;
  headersTimeoutMs: number;
  requestTimeoutMs: number;
  upgradeTimeoutMs: number;
  rateLimit: Required<RateLimitOptions>;
  loadShedding: Required<LoadSheddingOptions> | false;
  stream: Required<Omit<StreamOptions, 'epoch' | 'broker'>> & { epoch?: string; broker?: HubBroker };
  health: { registry: HealthRegistry; publicPaths: string[]; alerts?: () => unknown } | undefined;
  metrics: MetricsSource | undefined;
  /** The scrape token, when set. */
  metricsToken: string | undefined;
  metricsMaxAgeMs: number;
  metricsMaxPerSecond: number;
  /** Served over TLS: every response carries HSTS. */
  hsts: boolean;
}

/** The stream options that are integers (checked in one loop, and part of the known keys). */
const STREAM_INTEGER_KEYS = [
  'maxBufferedBytes',
  'historySize',
  'bookDepth',
  'heartbeatIntervalMs',
  'maxTopicsPerClient',
  'maxMessageBytes',
  'flushIntervalMs',
] as const;

const KEYS = {
  '': [
    'trader',
    'host',
    'port',
    'auth',
    'audit',
    'redis',
    'sessions',
    'rateLimit',
    'loadShedding',
    'health',
    'metrics',
    'metricsToken',
    'metricsMaxAgeMs',
    'metricsMaxPerSecond',
    'stream',
    'cache',
    'cacheTtlMs',
    'dashboard',
    'trustProxy',
    'bodyLimit',
    'keepAliveTimeoutMs',
    'drainTimeoutMs',
    'maxConnectionsPerIp',
    'headersTimeoutMs',
    'requestTimeoutMs',
    'upgradeTimeoutMs',
    'tls',
  ],
  auth: ['secret', 'publicKey', 'issuer', 'audience', 'clockToleranceSec', 'cacheSize', 'maxLifetimeSec'],
  audit: ['pool', 'schema', 'maxPending', 'retryIntervalMs', 'deadLetterPath', 'log'],
  rateLimit: ['windowMs', 'perIp', 'perToken', 'keyPrefix', 'storeTimeoutMs', 'memoryKeys'],
  loadShedding: [
    'maxEventLoopDelayMs',
    'maxHeapUsedBytes',
    'maxRssBytes',
    'maxEventLoopUtilization',
    'retryAfterSec',
    'sampleIntervalMs',
  ],
  stream: ['path', 'allowedOrigins', 'epoch', 'broker', ...STREAM_INTEGER_KEYS],
  health: ['registry', 'publicPaths', 'alerts'],
} as const;

const TRADER_METHODS = [
  'positions',
  'orders',
  'order',
  'fills',
  'pnl',
  'risk',
  'strategyParams',
  'setStrategyParams',
  'engageKillSwitch',
  'releaseKillSwitch',
  'status',
  'subscribe',
] as const;

/**
 * Validates the options once, at construction: types, ranges and unknown keys (a misspelt option is an error,
 * not a silently ignored default). The `auth` and `audit` values are checked further by `TokenVerifier` and
 * `AuditLog`. @throws ApiError `E_API_INVALID_OPTION` naming the field.
 */
export function validateOptions(o: HttpServerOptions): ResolvedOptions {
  if (o === null || typeof o !== 'object') fail('options', 'must be an object');
  known(o, '');
  const d = API_DEFAULTS;
  const t = o.trader as unknown as Record<string, unknown>;
  if (t === null || typeof t !== 'object') fail('trader', 'must be a TraderPort');
  for (const m of TRADER_METHODS) if (typeof t[m] !== 'function') fail(`trader.${m}`, 'must be a function');
  if (t.cancelOrder !== undefined && typeof t.cancelOrder !== 'function')
    fail('trader.cancelOrder', 'must be a function when given');
  const alerts = t.alerts as Record<string, unknown> | undefined;
  if (alerts === null || typeof alerts !== 'object') fail('trader.alerts', 'must be an AlertsPort');
  for (const m of ['list', 'silence', 'acknowledge'])
    if (typeof alerts[m] !== 'function') fail(`trader.alerts.${m}`, 'must be a function');
  if (o.auth === null || typeof o.auth !== 'object') fail('auth', 'must be an object');
  known(o.auth, 'auth');
  if (o.audit === null || typeof o.audit !== 'object') fail('audit', 'must be { pool, schema }');
  known(o.audit, 'audit');
  if (o.cache !== undefined && (typeof o.cache?.get !== 'function' || typeof o.cache?.set !== 'function'))
    fail('cache', 'must have get(key) and set(key, value, ttlMs)');
  if (o.redis !== undefined && (typeof o.redis?.eval !== 'function' || typeof o.redis?.defineCommand !== 'function'))
    fail('redis', 'must be an ioredis client');
  if (o.metrics !== undefined && typeof o.metrics !== 'function')
    fail('metrics', 'must be a function returning { contentType, body }');
  if (o.metricsToken !== undefined) {
    if (typeof o.metricsToken !== 'string') fail('metricsToken', 'must be a string');
    const weak = secretProblem(o.metricsToken);
    if (weak !== undefined) fail('metricsToken', weak);
  }

  const rl = { ...d.rateLimit, ...object(o.rateLimit, 'rateLimit') };
  for (const k of ['windowMs', 'perIp', 'perToken', 'storeTimeoutMs', 'memoryKeys'] as const)
    int(rl[k], `rateLimit.${k}`, k === 'perIp' || k === 'perToken' ? 0 : 1);
  if (typeof rl.keyPrefix !== 'string') fail('rateLimit.keyPrefix', 'must be a string');

  let loadShedding: ResolvedOptions['loadShedding'] = false;
  if (o.loadShedding !== false) {
    const ls = object(o.loadShedding, 'loadShedding');
    const dl = d.loadShedding;
    loadShedding = {
      maxEventLoopDelayMs: int(ls.maxEventLoopDelayMs ?? dl.maxEventLoopDelayMs, 'loadShedding.maxEventLoopDelayMs', 0),
      maxHeapUsedBytes: int(
        ls.maxHeapUsedBytes ?? Math.floor(getHeapStatistics().heap_size_limit * dl.maxHeapUsedRatio),
        'loadShedding.maxHeapUsedBytes',
        0,
      ),
      maxRssBytes: int(ls.maxRssBytes ?? dl.maxRssBytes, 'loadShedding.maxRssBytes', 0),
      maxEventLoopUtilization: ratio(
        ls.maxEventLoopUtilization ?? dl.maxEventLoopUtilization,
        'loadShedding.maxEventLoopUtilization',
      ),
      retryAfterSec: int(ls.retryAfterSec ?? dl.retryAfterSec, 'loadShedding.retryAfterSec', 1),
      // under-pressure samples a 10 ms event-loop histogram: a shorter interval can see no sample (mean NaN), which
      // it counts as an infinite delay, i.e. shedding everything.
      sampleIntervalMs: int(ls.sampleIntervalMs ?? dl.sampleIntervalMs, 'loadShedding.sampleIntervalMs', 100),
    };
  }

  const stream = { ...d.stream, ...object(o.stream, 'stream') };
  if (typeof stream.path !== 'string' || !stream.path.startsWith('/')) fail('stream.path', 'must start with /');
  if (!Array.isArray(stream.allowedOrigins) || !stream.allowedOrigins.every(isOrigin))
    fail('stream.allowedOrigins', 'must be a list of origins like https://ops.example.com');

  if (
    stream.epoch !== undefined &&
    (typeof stream.epoch !== 'string' || stream.epoch.length === 0 || stream.epoch.length > 256)
  )
    fail('stream.epoch', 'must be a string of 1-256 characters');
  const broker = stream.broker as unknown as Record<string, unknown> | undefined;
  if (
    broker !== undefined &&
    (broker === null || typeof broker.publish !== 'function' || typeof broker.subscribe !== 'function')
  )
    fail('stream.broker', 'must be a HubBroker ({ publish, subscribe, close })');
  for (const k of STREAM_INTEGER_KEYS)
    int(stream[k], `stream.${k}`, k === 'historySize' || k === 'heartbeatIntervalMs' ? 0 : 1);

  let health: ResolvedOptions['health'];
  if (o.health !== undefined) {
    const h = object(o.health, 'health');
    if (typeof (h.registry as Partial<HealthRegistry> | undefined)?.readinessState !== 'function')
      fail('health.registry', 'must be a HealthRegistry');
    const publicPaths = h.publicPaths ?? [...d.health.publicPaths];
    if (!Array.isArray(publicPaths) || publicPaths.some((p) => typeof p !== 'string' || !p.startsWith('/health')))
      fail('health.publicPaths', 'must be paths under /health');
    if (h.alerts !== undefined && typeof h.alerts !== 'function') fail('health.alerts', 'must be a function');
    health = {
      registry: h.registry as HealthRegistry,
      publicPaths,
      ...(h.alerts === undefined ? {} : { alerts: h.alerts }),
    };
  }

  const host = o.host ?? d.host;
  if (typeof host !== 'string' || host === '') fail('host', 'must be a non-empty string');
  const dashboard = o.dashboard ?? d.dashboard;
  if (typeof dashboard !== 'boolean') fail('dashboard', 'must be a boolean');
  const trustProxy = o.trustProxy ?? d.trustProxy;
  if (
    typeof trustProxy !== 'boolean' &&
    !(typeof trustProxy === 'string' && trustProxy !== '') &&
    !(Array.isArray(trustProxy) && trustProxy.every((a) => typeof a === 'string' && a !== ''))
  )
    fail('trustProxy', 'must be a boolean, an address/CIDR string or a list of them');
  const headersTimeoutMs = int(o.headersTimeoutMs ?? d.headersTimeoutMs, 'headersTimeoutMs', 1, 600_000);
  const requestTimeoutMs = int(o.requestTimeoutMs ?? d.requestTimeoutMs, 'requestTimeoutMs', 1, 600_000);
  // Node refuses a server whose header timeout exceeds its request timeout.
  if (headersTimeoutMs > requestTimeoutMs) fail('headersTimeoutMs', 'must not exceed requestTimeoutMs');
  return {
    port: int(o.port ?? d.port, 'port', 0, 65_535),
    host,
    cacheTtlMs: int(o.cacheTtlMs ?? d.cacheTtlMs, 'cacheTtlMs', 1),
    bodyLimit: int(o.bodyLimit ?? d.bodyLimit, 'bodyLimit', 1),
    dashboard,
    trustProxy,
    keepAliveTimeoutMs: int(o.keepAliveTimeoutMs ?? d.keepAliveTimeoutMs, 'keepAliveTimeoutMs', 1),
    drainTimeoutMs: int(o.drainTimeoutMs ?? d.drainTimeoutMs, 'drainTimeoutMs', 0),
    maxConnectionsPerIp: int(o.maxConnectionsPerIp ?? d.maxConnectionsPerIp, 'maxConnectionsPerIp', 0),
    headersTimeoutMs,
    requestTimeoutMs,
    upgradeTimeoutMs: int(o.upgradeTimeoutMs ?? d.upgradeTimeoutMs, 'upgradeTimeoutMs', 1, 600_000),
    rateLimit: rl,
    loadShedding,
    stream: { ...stream, allowedOrigins: [...(stream.allowedOrigins as string[])] },
    health,
    metrics: o.metrics,
    metricsToken: o.metricsToken,
    metricsMaxAgeMs: int(o.metricsMaxAgeMs ?? d.metricsMaxAgeMs, 'metricsMaxAgeMs', 0, 3_600_000),
    metricsMaxPerSecond: int(o.metricsMaxPerSecond ?? d.metricsMaxPerSecond, 'metricsMaxPerSecond', 0),
    hsts: o.tls !== undefined,
  };
}

/** `value` as an object of known keys (`{}` when absent). */
function object<T extends object>(value: T | undefined, field: keyof typeof KEYS): Partial<T> {
  if (value === undefined) return {};
  if (value === null || typeof value !== 'object' || Array.isArray(value)) fail(field, 'must be an object');
  known(value, field);
  return value;
}

function known(value: object, at: keyof typeof KEYS): void {
  const allowed: readonly string[] = KEYS[at];
  for (const key of Object.keys(value))
    if (!allowed.includes(key))
      fail(at === '' ? key : `${at}.${key}`, `is not a known option (known: ${allowed.join(', ')})`);
}

function int(v: unknown, field: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max)
    fail(field, `must be an integer in [${min}, ${max}]`);
  return v;
}

function isOrigin(v: unknown): boolean {
  if (typeof v !== 'string') return false;
  try {
    const u = new URL(v);
    return (u.protocol === 'http:' || u.protocol === 'https:') && u.origin === v;
  } catch {
    return false;
  }
}

function ratio(v: unknown, field: string): number {
  if (typeof v !== 'number' || !(v >= 0 && v <= 1)) fail(field, 'must be a number in [0, 1]');
  return v;
}

function fail(field: string, message: string): never {
  throw new ApiError('E_API_INVALID_OPTION', `${field} ${message}`, { field });
}
