import { type RedisServer, serviceUrls, startRedisServer, waitFor } from '@cryptoscalp/testkit';
import { Redis } from 'ioredis';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHealthHandler, type HealthIndicator, HealthRegistry } from '../../src/index.js';
import { get, type Served, serve } from './helpers.js';

/** A Redis indicator as @cryptoscalp/cache would write it: PING round trip. */
function redisIndicator(client: Redis): HealthIndicator {
  return {
    name: 'redis',
    async healthCheck() {
      const started = performance.now();
      const pong = await client.ping();
      return {
        status: pong === 'PONG' ? 'pass' : 'fail',
        observedValue: performance.now() - started,
        observedUnit: 'ms',
      };
    },
  };
}

/** A PostgreSQL indicator as @cryptoscalp/db-pool would write it: SELECT 1 through the pool. */
function postgresIndicator(pool: pg.Pool): HealthIndicator {
  return {
    name: 'postgres',
    async healthCheck() {
      const started = performance.now();
      await pool.query('SELECT 1');
      return {
        status: 'pass',
        observedValue: performance.now() - started,
        observedUnit: 'ms',
        details: { total: pool.totalCount, idle: pool.idleCount },
      };
    },
  };
}

const TTL = 200;
const TIMEOUT = 500;

describe('readiness against real Redis and PostgreSQL', () => {
  let redisServer: RedisServer;
  let redis: Redis;
  let pool: pg.Pool;
  let health: HealthRegistry;
  let served: Served;

  beforeAll(async () => {
    redisServer = await startRedisServer();
    redis = new Redis(redisServer.url, {
      lazyConnect: false,
      maxRetriesPerRequest: null,
      retryStrategy: () => 100,
    });
    redis.on('error', () => {});
    pool = new pg.Pool({ connectionString: serviceUrls.postgres, max: 2 });
    pool.on('error', () => {});
    health = new HealthRegistry({ cacheTtlMs: TTL, timeoutMs: TIMEOUT });
    health.register(redisIndicator(redis), { critical: true, componentType: 'datastore' });
    health.register(postgresIndicator(pool), { critical: true, componentType: 'datastore' });
    served = await serve(createHealthHandler(health));
    await waitFor(async () => (await get(`${served.url}/health/readiness`)).status === 200, { timeoutMs: 15_000 });
  });

  afterAll(async () => {
    await served?.close();
    health?.close();
    redis?.disconnect();
    await pool?.end();
    await redisServer?.stop();
  });

  it('is ready with both dependencies up, and reports their round trips', async () => {
    const status = await get(`${served.url}/health/status`);
    expect(status.status).toBe(200);
    const checks = status.json().checks as Record<string, Array<{ status: string; observedUnit: string }>>;
    expect(checks['redis:responseTime']?.[0]).toMatchObject({ status: 'pass', observedUnit: 'ms' });
    expect(checks['postgres:responseTime']?.[0]).toMatchObject({ status: 'pass', observedUnit: 'ms' });
  });

  it('a frozen Redis (SIGSTOP) fails readiness within TTL + check timeout with "timed out", and recovers', async () => {
    redisServer.pause();
    const started = Date.now();
    try {
      await waitFor(async () => (await get(`${served.url}/health/readiness`)).status === 503, { timeoutMs: 10_000 });
      const elapsed = Date.now() - started;
      // TTL + timeout, plus slack for a busy machine; the probe itself never waited on Redis.
      expect(elapsed).toBeLessThan(TTL + TIMEOUT + 1_500);
      const t0 = Date.now();
      const component = await get(`${served.url}/health/components/redis`);
      expect(Date.now() - t0).toBeLessThan(TIMEOUT);
      expect(component.status).toBe(503);
      expect(component.json()).toMatchObject({
        checks: { 'redis:responseTime': [{ status: 'fail', output: 'timed out' }] },
      });
      // liveness never depends on Redis
      expect((await get(`${served.url}/health/liveness`)).status).toBe(200);
    } finally {
      redisServer.resume();
    }
    await waitFor(async () => (await get(`${served.url}/health/readiness`)).status === 200, { timeoutMs: 15_000 });
  });

  it('a stopped Redis fails readiness within the timeout, and readiness recovers after start()', async () => {
    await redisServer.kill();
    const started = Date.now();
    await waitFor(async () => (await get(`${served.url}/health/readiness`)).status === 503, { timeoutMs: 10_000 });
    expect(Date.now() - started).toBeLessThan(TTL + TIMEOUT + 1_500);
    expect((await get(`${served.url}/health/readiness`)).json()).toEqual({ status: 'fail' });
    expect((await get(`${served.url}/health/components/postgres`)).status).toBe(200);
    expect((await get(`${served.url}/health/liveness`)).status).toBe(200);
    await redisServer.start();
    await waitFor(async () => (await get(`${served.url}/health/readiness`)).status === 200, { timeoutMs: 15_000 });
    const stats = health.stats();
    expect(stats.perCheck.redis?.failures).toBeGreaterThan(0);
    expect(stats.perCheck.redis?.status).toBe('pass');
  });
});
