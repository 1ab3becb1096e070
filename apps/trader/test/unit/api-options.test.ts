import { HealthRegistry } from '@cryptoscalp/health';
import { afterAll, describe, expect, it } from 'vitest';
import { AuditLog } from '../../src/http/audit-log.js';
import { API_DEFAULTS } from '../../src/http/defaults.js';
import { isApiError } from '../../src/http/errors.js';
import { createHttpServer } from '../../src/http/server.js';
import { etagMatches, loadDashboardAssets } from '../../src/http/static-assets.js';
import type { TraderPort } from '../../src/http/trader-port.js';
import type { HttpServerOptions } from '../../src/http/types.js';

const fn = () => undefined;
const trader = {
  positions: fn,
  orders: fn,
  order: fn,
  fills: fn,
  pnl: fn,
  risk: fn,
  strategyParams: fn,
  setStrategyParams: fn,
  engageKillSwitch: fn,
  releaseKillSwitch: fn,
  status: fn,
  subscribe: () => fn,
  alerts: { list: fn, silence: fn, acknowledge: fn },
} as unknown as TraderPort;
// Validation happens before anything touches the pool, so an unreachable one is fine here.
const pool = { query: () => Promise.reject(new Error('not used')) };
const registry = new HealthRegistry({ eventLoopDelay: false, heap: false });
afterAll(() => registry.close());
const valid: HttpServerOptions = {
  trader,
  auth: { secret: 'options-secret-0123456789abcdef-0123456789' },
  audit: { pool },
};

async function fieldOf(options: unknown): Promise<string> {
  try {
    const server = await createHttpServer(options as HttpServerOptions);
    await server.close();
    return 'no error';
  } catch (e) {
    return isApiError(e) ? `${e.code}:${e.field}` : String(e);
  }
}

describe('createHttpServer option validation', () => {
  it.each([
    [{ ...valid, trader: undefined }, 'trader'],
    [{ ...valid, trader: { ...trader, positions: 1 } }, 'trader.positions'],
    [{ ...valid, trader: { ...trader, cancelOrder: 'x' } }, 'trader.cancelOrder'],
    [{ ...valid, trader: { ...trader, alerts: undefined } }, 'trader.alerts'],
    [{ ...valid, trader: { ...trader, alerts: { list: fn, silence: fn } } }, 'trader.alerts.acknowledge'],
    [{ ...valid, port: 70_000 }, 'port'],
    [{ ...valid, port: 1.5 }, 'port'],
    [{ ...valid, host: '' }, 'host'],
    [{ ...valid, bodyLimit: 0 }, 'bodyLimit'],
    [{ ...valid, cacheTtlMs: -1 }, 'cacheTtlMs'],
    [{ ...valid, cache: { get: fn } }, 'cache'],
    [{ ...valid, redis: {} }, 'redis'],
    [{ ...valid, rateLimit: { perIp: -1 } }, 'rateLimit.perIp'],
    [{ ...valid, rateLimit: { windowMs: 0 } }, 'rateLimit.windowMs'],
    [{ ...valid, rateLimit: { keyPrefix: 3 } }, 'rateLimit.keyPrefix'],
    [{ ...valid, stream: { path: 'api' } }, 'stream.path'],
    [{ ...valid, stream: { bookDepth: 0 } }, 'stream.bookDepth'],
    [{ ...valid, health: { handler: fn } }, 'health.handler'],
    [{ ...valid, health: {} }, 'health.registry'],
    [{ ...valid, health: { registry: {} } }, 'health.registry'],
    [{ ...valid, health: { registry, publicPaths: ['/live'] } }, 'health.publicPaths'],
    [{ ...valid, health: { registry, alerts: 1 } }, 'health.alerts'],
    [{ ...valid, metrics: 'text' }, 'metrics'],
    [{ ...valid, metricsToken: 'x'.repeat(40) }, 'metricsToken'],
    [{ ...valid, metricsToken: 42 }, 'metricsToken'],
    [{ ...valid, metricsMaxAgeMs: -1 }, 'metricsMaxAgeMs'],
    [{ ...valid, metricsMaxPerSecond: 1.5 }, 'metricsMaxPerSecond'],
    [{ ...valid, stream: { allowedOrigins: ['https://ops.example.com/path'] } }, 'stream.allowedOrigins'],
    [{ ...valid, stream: { allowedOrigins: 'https://ops.example.com' } }, 'stream.allowedOrigins'],
    [{ ...valid, audit: { pool, deadLetterPath: '' } }, 'audit.deadLetterPath'],
    [{ ...valid, auth: { ...valid.auth, maxLifetimeSec: -1 } }, 'auth.maxLifetimeSec'],
    [{ ...valid, dashboard: 'yes' }, 'dashboard'],
    [{ ...valid, trustProxy: 1 }, 'trustProxy'],
    [{ ...valid, trustProxy: ['10.0.0.0/8', ''] }, 'trustProxy'],
    [{ ...valid, drainTimeoutMs: -1 }, 'drainTimeoutMs'],
    [{ ...valid, auth: undefined }, 'auth'],
    [{ ...valid, auth: {} }, 'auth.secret'],
    [{ ...valid, auth: { ...valid.auth, algorithm: 'none' } }, 'auth.algorithm'],
    [{ ...valid, audit: pool }, 'audit.query'],
    [{ ...valid, audit: {} }, 'audit.pool'],
    [{ ...valid, audit: { pool, schema: 'Bad-Name' } }, 'audit.schema'],
    [{ ...valid, audit: { pool, maxPending: 0 } }, 'audit.maxPending'],
    [{ ...valid, rateLimit: { perIpp: 5 } }, 'rateLimit.perIpp'],
    [{ ...valid, rateLimit: { storeTimeoutMs: 0 } }, 'rateLimit.storeTimeoutMs'],
    [{ ...valid, loadShedding: { maxEventLoopDelayMs: -1 } }, 'loadShedding.maxEventLoopDelayMs'],
    [{ ...valid, loadShedding: { maxEventLoopUtilization: 2 } }, 'loadShedding.maxEventLoopUtilization'],
    [{ ...valid, loadShedding: { retryAfterSec: 0 } }, 'loadShedding.retryAfterSec'],
    [{ ...valid, loadShedding: { sampleIntervalMs: 10 } }, 'loadShedding.sampleIntervalMs'],
    [{ ...valid, loadShedding: { heap: 1 } }, 'loadShedding.heap'],
    [{ ...valid, loadShedding: true }, 'loadShedding'],
    [{ ...valid, stream: { epoch: '' } }, 'stream.epoch'],
    [{ ...valid, stream: { broker: {} } }, 'stream.broker'],
    [{ ...valid, stream: { depth: 3 } }, 'stream.depth'],
    [{ ...valid, server: {} }, 'server'],
    [{ ...valid, handler: fn }, 'handler'],
    [{ ...valid, streamBroker: {} }, 'streamBroker'],
  ])('rejects %# naming %s', async (options, field) => {
    expect(await fieldOf(options)).toBe(`E_API_INVALID_OPTION:${field}`);
  });

  it('documents every default in one object', () => {
    expect(API_DEFAULTS.rateLimit).toEqual({
      windowMs: 10_000,
      perIp: 1_000,
      perToken: 500,
      keyPrefix: 'cryptoscalp:trader:rl:',
      storeTimeoutMs: 250,
      memoryKeys: 100_000,
    });
    expect(API_DEFAULTS.loadShedding.maxEventLoopDelayMs).toBe(1_000);
    expect(API_DEFAULTS.health.publicPaths).toContain('/health/readiness');
    expect(API_DEFAULTS.stream.path).toBe('/api/stream');
    expect(Object.isFrozen(API_DEFAULTS)).toBe(true);
  });

  it('names the unknown key and lists the known ones', async () => {
    const e = await createHttpServer({ ...valid, bodyLimt: 5 } as unknown as HttpServerOptions).catch(
      (x: unknown) => x,
    );
    expect(isApiError(e) && e.field).toBe('bodyLimt');
    expect((e as Error).message).toMatch(/bodyLimt is not a known option \(known: trader, host, port/);
  });

  it('quotes the audit table in the configured schema', () => {
    expect(new AuditLog(pool).table).toBe('"public".audit_log');
    expect(new AuditLog({ pool, schema: 'ops' }).table).toBe('"ops".audit_log');
  });
});

describe('static assets', () => {
  it('loads the dashboard under hashed and plain names, with the HTML pointing at the hashed ones', () => {
    const assets = loadDashboardAssets();
    const html = assets.get('/')?.body.toString() ?? '';
    const hashed = [...assets.keys()].filter((k) => /^\/assets\/\w+\.[0-9a-f]{10}\.\w+$/.test(k));
    expect(hashed).toHaveLength(2);
    for (const k of hashed) expect(html).toContain(k);
    expect(html).not.toContain('{{');
    expect(assets.get('/assets/app.js')?.etag).toBe(assets.get(hashed.find((k) => k.endsWith('.js')) as string)?.etag);
  });

  it('matches If-None-Match with lists, weak validators and *', () => {
    expect(etagMatches('"a"', '"a"')).toBe(true);
    expect(etagMatches('W/"a"', '"a"')).toBe(true);
    expect(etagMatches('"b", "a"', '"a"')).toBe(true);
    expect(etagMatches('*', '"a"')).toBe(true);
    expect(etagMatches('"b"', '"a"')).toBe(false);
    expect(etagMatches(undefined, '"a"')).toBe(false);
  });
});
