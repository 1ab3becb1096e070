import { API_DEFAULTS } from '../defaults.js';
import { ApiError } from '../errors.js';
import type { ApiServerOptions, HealthMount, RateLimitOptions, StreamOptions } from '../types.js';

/** Options with every default applied. */
export interface ResolvedOptions {
  port: number;
  host: string;
  cacheTtlMs: number;
  bodyLimit: number;
  dashboard: boolean;
  trustProxy: boolean;
  keepAliveTimeoutMs: number;
  rateLimit: Required<RateLimitOptions>;
  stream: Required<StreamOptions>;
  health: Required<HealthMount> | undefined;
}

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

/** Validates the options once, at construction. @throws ApiError `E_API_INVALID_OPTION` naming the field. */
export function validateOptions(o: ApiServerOptions): ResolvedOptions {
  if (o === null || typeof o !== 'object') fail('options', 'must be an object');
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
  if (o.cache !== undefined && (typeof o.cache?.get !== 'function' || typeof o.cache?.set !== 'function'))
    fail('cache', 'must have get(key) and set(key, value, ttlMs)');
  if (o.redis !== undefined && (typeof o.redis?.eval !== 'function' || typeof o.redis?.evalsha !== 'function'))
    fail('redis', 'must be an ioredis client');
  const rl = { ...d.rateLimit, ...o.rateLimit };
  for (const k of ['windowMs', 'perIp', 'perToken'] as const) int(rl[k], `rateLimit.${k}`, k === 'windowMs' ? 1 : 0);
  if (typeof rl.keyPrefix !== 'string') fail('rateLimit.keyPrefix', 'must be a string');
  const stream = { ...d.stream, ...o.stream };
  if (typeof stream.path !== 'string' || !stream.path.startsWith('/')) fail('stream.path', 'must start with /');
  for (const k of [
    'maxBufferedBytes',
    'historySize',
    'bookDepth',
    'heartbeatIntervalMs',
    'maxTopicsPerClient',
    'maxMessageBytes',
    'flushIntervalMs',
  ] as const)
    int(stream[k], `stream.${k}`, k === 'historySize' || k === 'heartbeatIntervalMs' ? 0 : 1);
  let health: Required<HealthMount> | undefined;
  if (o.health !== undefined) {
    const h: HealthMount = typeof o.health === 'function' ? { handler: o.health } : o.health;
    if (typeof h?.handler !== 'function') fail('health', 'must be a node:http handler or { handler }');
    health = {
      handler: h.handler,
      prefixes: h.prefixes ?? [...d.health.prefixes],
      publicPaths: h.publicPaths ?? [...d.health.publicPaths],
    };
    if (!Array.isArray(health.prefixes) || health.prefixes.some((p) => typeof p !== 'string' || !p.startsWith('/')))
      fail('health.prefixes', 'must be paths starting with /');
  }
  const server = o.server as unknown as { on?: unknown; address?: unknown } | undefined;
  if (server !== undefined && (typeof server?.on !== 'function' || typeof server?.address !== 'function'))
    fail('server', 'must be a node:http Server');
  const host = o.host ?? d.host;
  if (typeof host !== 'string' || host === '') fail('host', 'must be a non-empty string');
  const dashboard = o.dashboard ?? d.dashboard;
  const trustProxy = o.trustProxy ?? d.trustProxy;
  if (typeof dashboard !== 'boolean') fail('dashboard', 'must be a boolean');
  if (typeof trustProxy !== 'boolean') fail('trustProxy', 'must be a boolean');
  return {
    port: int(o.port ?? d.port, 'port', 0, 65_535),
    host,
    cacheTtlMs: int(o.cacheTtlMs ?? d.cacheTtlMs, 'cacheTtlMs', 1),
    bodyLimit: int(o.bodyLimit ?? d.bodyLimit, 'bodyLimit', 1),
    dashboard,
    trustProxy,
    keepAliveTimeoutMs: int(o.keepAliveTimeoutMs ?? d.keepAliveTimeoutMs, 'keepAliveTimeoutMs', 1),
    rateLimit: rl,
    stream,
    health,
  };
}

function int(v: unknown, field: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max)
    fail(field, `must be an integer in [${min}, ${max}]`);
  return v;
}

function fail(field: string, message: string): never {
  throw new ApiError('E_API_INVALID_OPTION', `${field} ${message}`, { field });
}
