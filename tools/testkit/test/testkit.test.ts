import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import {
  freePort,
  measureThroughput,
  percentiles,
  reachable,
  serviceUrls,
  startPostgresCluster,
  startRedisServer,
  uniqueName,
} from '../src/index.js';

const exec = promisify(execFile);
const ping = async (port: number) => (await exec('redis-cli', ['-p', String(port), 'PING'])).stdout.trim();

describe('testkit', () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterAll(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
  });

  it('reaches the shared local services', async () => {
    expect(await reachable(serviceUrls.redis)).toBe(true);
    expect(await reachable(serviceUrls.postgres)).toBe(true);
    expect(await reachable(`redis://127.0.0.1:${await freePort()}`, 500)).toBe(false);
  });

  it('gives distinct, SQL-safe unique names', () => {
    const a = uniqueName('Cache Test');
    expect(a).toMatch(/^cache_test_[a-z0-9]+_[0-9a-f]{8}$/);
    expect(uniqueName('x')).not.toBe(uniqueName('x'));
  });

  it('starts, kills and restarts a disposable redis-server on the same port', async () => {
    const redis = await startRedisServer();
    cleanups.push(() => redis.stop());
    expect(await ping(redis.port)).toBe('PONG');
    const firstPid = redis.pid;
    await redis.kill();
    expect(redis.pid).toBeUndefined();
    expect(await reachable(redis.url, 500)).toBe(false);
    await redis.start();
    expect(redis.pid).not.toBe(firstPid);
    expect(await ping(redis.port)).toBe('PONG');
    await redis.stop();
    await redis.stop(); // idempotent
    expect(await reachable(redis.url, 500)).toBe(false);
  });

  it('creates a PostgreSQL primary with a streaming replica, and promotes the replica after a crash', async () => {
    const primary = await startPostgresCluster({ settings: { synchronous_standby_names: '*' } });
    cleanups.push(() => primary.stop());
    const replica = await startPostgresCluster({ replicaOf: primary });
    cleanups.push(() => replica.stop());
    expect(await replica.psql('select pg_is_in_recovery()')).toBe('t');
    await primary.psql('create table acked (id int primary key)');
    // synchronous_commit waits for the standby, so an acknowledged row is on the replica.
    await primary.psql('insert into acked select generate_series(1, 100)');
    await primary.kill();
    await replica.promote();
    expect(await replica.psql('select pg_is_in_recovery()')).toBe('f');
    expect(await replica.psql('select count(*) from acked')).toBe('100');
    await replica.psql('insert into acked values (101)');
  });

  it('measures throughput and percentiles', async () => {
    const result = await measureThroughput(async () => undefined, {
      concurrency: 4,
      durationMs: 50,
      warmupMs: 10,
      latency: true,
    });
    expect(result.ops).toBeGreaterThan(0);
    expect(result.latencyMs?.p50).toBeGreaterThanOrEqual(0);
    expect(percentiles([5, 1, 4, 2, 3], [50, 100])).toEqual({ p50: 3, p100: 5 });
  });
});

describe('defaultsProblems', () => {
  it('fails a time default named without its unit, at any depth, and passes suffixed names and counts', async () => {
    const { defaultsProblems } = await import('../src/conformance/checks.js');
    expect(defaultsProblems({ ttlMs: 1, maxEntries: 5, breaker: { resetTimeoutMs: 1, volumeThreshold: 3 } })).toEqual(
      [],
    );
    expect(defaultsProblems({ ttl: 1, nested: { retryDelay: 5, label: 'x' } })).toEqual([
      'DEFAULTS.ttl carries a unit its name does not say (use a Ms/Bytes suffix)',
      'DEFAULTS.nested.retryDelay carries a unit its name does not say (use a Ms/Bytes suffix)',
    ]);
    expect(defaultsProblems(null)).toEqual(['DEFAULTS is not a plain object']);
  });
});
