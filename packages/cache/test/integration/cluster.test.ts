import { type RedisClusterServers, startRedisCluster, uniqueName, waitFor } from '@cryptoscalp/testkit';
import { Cluster } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CacheManager } from '../../src/index.js';

let cluster: RedisClusterServers;
let admin: Cluster;

beforeAll(async () => {
  cluster = await startRedisCluster(3);
  admin = new Cluster(cluster.startupNodes);
});
afterAll(async () => {
  await admin?.quit().catch(() => undefined);
  await cluster?.stop();
});

async function countKeys(pattern: string): Promise<number> {
  let n = 0;
  for (const node of admin.nodes('master')) n += (await node.keys(pattern)).length;
  return n;
}

describe('Redis Cluster (3 masters)', () => {
  it('multi-key operations are cluster-safe across slots and nodes', async () => {
    const ns = uniqueName('cache_cluster');
    const a = new CacheManager({ redis: { cluster: cluster.startupNodes }, namespace: ns, bus: { heartbeatMs: 50 } });
    const b = new CacheManager({ redis: { cluster: cluster.startupNodes }, namespace: ns, bus: { heartbeatMs: 50 } });
    try {
      await waitFor(() => a.stats().bus.state === 'up' && b.stats().bus.state === 'up', {
        timeoutMs: 20_000,
        what: 'cluster bus up',
      });
      const keys = Array.from({ length: 60 }, (_, i) => `sym-${i}`);
      await a.mset(keys.map((key, i) => ({ key, value: i, tags: [i % 2 === 0 ? 'even' : 'odd'] })));
      // spread over every master
      for (const node of admin.nodes('master')) expect((await node.keys(`${ns}::*`)).length).toBeGreaterThan(0);
      expect(a.stats().errors).toMatchObject({ l2: 0, timeout: 0 });

      const values = await b.mget(keys);
      expect(values).toEqual(keys.map((_, i) => i));
      expect(b.stats().l2Hits).toBe(60);

      // plain get goes through the batcher (per-key GETs in cluster mode)
      const c = new CacheManager({ redis: { cluster: cluster.startupNodes }, namespace: ns, l1: false });
      try {
        expect(await Promise.all(keys.slice(0, 10).map((k) => c.get(k)))).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
      } finally {
        await c.close();
      }

      expect(await a.deleteMany(keys.slice(0, 10))).toBe(10);
      expect(await countKeys(`${ns}::*`)).toBe(50);
      await waitFor(async () => (await b.mget(keys.slice(0, 10))).every((v) => v === undefined), {
        what: 'deleteMany reaches b',
      });

      expect(await a.invalidateTags(['even'])).toBe(25);
      expect(await countKeys(`${ns}::*`)).toBe(25);
      await waitFor(async () => (await b.get('sym-12')) === undefined, { what: 'tag invalidation reaches b' });
      expect(await b.get('sym-11')).toBe(11);

      const child = a.namespace('child');
      await child.set('x', 1);
      await a.clear();
      expect(await countKeys(`${ns}::*`)).toBe(0);
      expect(await countKeys(`${ns}:#tag:*`)).toBe(0);
      expect(await child.get('x')).toBe(1);
      await child.clear();
      expect(await countKeys(`${ns}*`)).toBe(0);
      expect(a.stats().errors).toMatchObject({ l2: 0, timeout: 0 });
      expect((await a.healthCheck()).status).toBe('pass');
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('works with a Cluster instance the user owns, and leaves it open', async () => {
    const ns = uniqueName('cache_cluster_owned');
    const cache = new CacheManager({ redis: admin, namespace: ns });
    try {
      await cache.mset([
        { key: 'a', value: 1 },
        { key: 'b', value: 2 },
        { key: 'c', value: 3 },
      ]);
      expect(await cache.mget(['a', 'b', 'c'])).toEqual([1, 2, 3]);
      await cache.clear();
      expect(await countKeys(`${ns}*`)).toBe(0);
    } finally {
      await cache.close();
    }
    expect(admin.status).toBe('ready');
    expect(await admin.ping()).toBe('PONG');
  });
});
