import { describe, expect, it } from 'vitest';
import {
  API_DEFAULTS,
  type ApiServerOptions,
  AuditLog,
  createApiServer,
  etagMatches,
  isApiError,
  loadDashboardAssets,
  type TraderPort,
} from '../../src/api/index.js';

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
const valid: ApiServerOptions = { trader, auth: { secret: 'x'.repeat(32) }, audit: pool };

async function fieldOf(options: unknown): Promise<string> {
  try {
    const server = await createApiServer(options as ApiServerOptions);
    await server.close();
    return 'no error';
  } catch (e) {
    return isApiError(e) ? `${e.code}:${e.field}` : String(e);
  }
}

describe('createApiServer option validation', () => {
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
    [{ ...valid, health: { handler: 'x' } }, 'health'],
    [{ ...valid, health: { handler: fn, prefixes: ['health'] } }, 'health.prefixes'],
    [{ ...valid, dashboard: 'yes' }, 'dashboard'],
    [{ ...valid, trustProxy: 1 }, 'trustProxy'],
    [{ ...valid, auth: {} }, 'auth.secret'],
    [{ ...valid, audit: {} }, 'audit.pool'],
    [{ ...valid, audit: { pool, schema: 'Bad-Name' } }, 'audit.schema'],
    [{ ...valid, audit: { pool, maxPending: 0 } }, 'audit.maxPending'],
  ])('rejects %# naming %s', async (options, field) => {
    expect(await fieldOf(options)).toBe(`E_API_INVALID_OPTION:${field}`);
  });

  it('documents every default in one object', () => {
    expect(API_DEFAULTS.rateLimit).toEqual({
      windowMs: 10_000,
      perIp: 1_000,
      perToken: 500,
      keyPrefix: 'cryptoscalp:trader:rl:',
    });
    expect(API_DEFAULTS.stream.path).toBe('/api/stream');
    expect(Object.isFrozen(API_DEFAULTS)).toBe(true);
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
