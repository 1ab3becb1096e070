import { HealthRegistry } from '@cryptoscalp/health';
import { serviceUrls, startRedisServer, uniqueName } from '@cryptoscalp/testkit';
import { Redis } from 'ioredis';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { issueToken } from '../../src/http/tokens.js';
import { FakeTrader } from './api-fake-trader.js';
import { type Harness, SECRET, startHarness } from './api-harness.js';

let pool: pg.Pool;
const schema = uniqueName('api_rl');
const open: Harness[] = [];
const start = async (rateLimit: Parameters<typeof startHarness>[0]) => {
  const h = await startHarness(rateLimit, { pool, schema, trader: new FakeTrader() });
  open.push(h);
  return h;
};

beforeAll(() => {
  pool = new pg.Pool({ connectionString: serviceUrls.postgres, max: 4 });
});

afterAll(async () => {
  for (const h of open) await h.close();
  await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`).catch(() => {});
  await pool.end();
});

describe('in-memory rate limits', () => {
  it('limits per IP before authentication, with Retry-After', async () => {
    const h = await start({ rateLimit: { perIp: 5, perToken: 1_000, windowMs: 30_000 } });
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++)
      statuses.push((await h.call('GET', '/api/positions', { token: h.tokens.viewer })).status);
    expect(statuses).toEqual([200, 200, 200, 200, 200]);
    const limited = await h.call('GET', '/api/positions', { token: h.tokens.viewer });
    expect(limited.status).toBe(429);
    expect(limited.body.code).toBe('E_API_RATE_LIMITED');
    const retryAfter = Number(limited.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(30);
    expect(limited.headers.get('x-ratelimit-limit')).toBe('5');
    expect(limited.headers.get('x-ratelimit-remaining')).toBe('0');
    // Unauthenticated requests count against the IP too, and are refused before the token is looked at.
    expect((await h.call('GET', '/api/positions')).status).toBe(429);
    // Unknown routes too.
    expect((await h.call('GET', '/api/nothing')).status).toBe(429);
    expect(h.api.stats().rateLimited).toBe(3);
    expect(h.api.stats().unauthorized).toBe(0);
  });

  it('counts from the first request of a window, and sends rate-limit headers only with a 429', async () => {
    const h = await start({ rateLimit: { perIp: 2, perToken: 1_000, windowMs: 1_500 } });
    const first = await h.call('GET', '/api/me', { token: h.tokens.viewer });
    expect(first.status).toBe(200);
    expect(first.headers.get('x-ratelimit-limit')).toBeNull();
    expect(first.headers.get('x-ratelimit-remaining')).toBeNull();
    expect((await h.call('GET', '/api/me', { token: h.tokens.viewer })).status).toBe(200);
    const limited = await h.call('GET', '/api/me', { token: h.tokens.viewer });
    expect(limited.status).toBe(429);
    expect(limited.headers.get('x-ratelimit-reset')).toBe(limited.headers.get('retry-after'));
    // A fixed window: it ends windowMs after its first request, then the full budget is back.
    await new Promise((r) => setTimeout(r, 1_600));
    expect((await h.call('GET', '/api/me', { token: h.tokens.viewer })).status).toBe(200);
    expect((await h.call('GET', '/api/me', { token: h.tokens.viewer })).status).toBe(200);
  });

  it('never limits the health probes', async () => {
    const registry = new HealthRegistry({ eventLoopDelay: false, heap: false });
    const h = await start({ rateLimit: { perIp: 2, perToken: 1_000, windowMs: 30_000 }, health: { registry } });
    try {
      for (let i = 0; i < 5; i++) expect((await h.call('GET', '/health/liveness')).status).toBe(200);
      expect((await h.call('GET', '/api/me', { token: h.tokens.viewer })).status).toBe(200);
      expect((await h.call('GET', '/api/me', { token: h.tokens.viewer })).status).toBe(200);
      expect((await h.call('GET', '/api/me', { token: h.tokens.viewer })).status).toBe(429);
      expect((await h.call('GET', '/health/readiness')).status).toBe(200);
    } finally {
      registry.close();
    }
  });

  it('limits stream upgrades per IP and per token with 429 and Retry-After', async () => {
    const h = await start({ rateLimit: { perIp: 1_000, perToken: 2, windowMs: 30_000 } });
    const url = `${h.api.url.replace('http', 'ws')}/api/stream`;
    const open = () =>
      new Promise<{ status: number; retryAfter?: string }>((resolve) => {
        const ws = new WebSocket(url, ['bearer', h.tokens.viewer]);
        ws.once('open', () => {
          ws.close();
          resolve({ status: 101 });
        });
        ws.once('unexpected-response', (_req, res) => {
          resolve({ status: res.statusCode ?? 0, retryAfter: res.headers['retry-after'] as string });
          res.resume();
        });
        ws.once('error', () => {});
      });
    expect((await open()).status).toBe(101);
    expect((await open()).status).toBe(101);
    const refused = await open();
    expect(refused.status).toBe(429);
    expect(Number(refused.retryAfter)).toBeGreaterThanOrEqual(1);
    expect(Number(refused.retryAfter)).toBeLessThanOrEqual(30);
  });

  it('limits per token: another token from the same IP still passes', async () => {
    const h = await start({ rateLimit: { perIp: 1_000, perToken: 3, windowMs: 30_000 } });
    for (let i = 0; i < 3; i++) expect((await h.call('GET', '/api/me', { token: h.tokens.viewer })).status).toBe(200);
    const limited = await h.call('GET', '/api/me', { token: h.tokens.viewer });
    expect(limited.status).toBe(429);
    expect(limited.body.message).toMatch(/per token/);
    expect((await h.call('GET', '/api/me', { token: h.tokens.trader })).status).toBe(200);
  });
});

describe('Redis rate limits shared across instances', () => {
  it('two API instances share per-token counters through Redis', async () => {
    const redis = new Redis(serviceUrls.redis, { lazyConnect: false });
    const prefix = `${uniqueName('rl')}:`;
    try {
      const opts = { redis, rateLimit: { perIp: 1_000, perToken: 4, windowMs: 30_000, keyPrefix: prefix } };
      const a = await start(opts);
      const b = await start(opts);
      const token = await issueToken({ sub: 'shared', role: 'viewer', secret: SECRET });
      const seen: number[] = [];
      for (const h of [a, b, a, b, a, b]) seen.push((await h.call('GET', '/api/me', { token })).status);
      expect(seen).toEqual([200, 200, 200, 200, 429, 429]);
      const keys = await redis.keys(`${prefix}*`);
      expect(keys.some((k) => k.startsWith(`${prefix}tok:`))).toBe(true);
      const ttl = await redis.pttl(keys.find((k) => k.includes('tok:')) as string);
      expect(ttl).toBeGreaterThan(0);
      expect(ttl).toBeLessThanOrEqual(30_000);
      expect(a.api.stats().rateLimitStoreErrors + b.api.stats().rateLimitStoreErrors).toBe(0);
      await redis.del(...keys);
    } finally {
      redis.disconnect();
    }
  });

  it('keeps limiting in memory when Redis is unreachable', async () => {
    const server = await startRedisServer();
    const redis = new Redis(server.url, { maxRetriesPerRequest: 1, retryStrategy: () => 200 });
    redis.on('error', () => {});
    try {
      const h = await start({ redis, rateLimit: { perIp: 3, perToken: 1_000, windowMs: 30_000, keyPrefix: 'x:' } });
      await server.kill();
      const statuses: number[] = [];
      for (let i = 0; i < 4; i++) statuses.push((await h.call('GET', '/api/me', { token: h.tokens.viewer })).status);
      expect(statuses).toEqual([200, 200, 200, 429]);
      expect(h.api.stats().rateLimitStoreErrors).toBeGreaterThan(0);
    } finally {
      redis.disconnect();
      await server.stop();
    }
  });
});
