import { serviceUrls, uniqueName, waitFor } from '@cryptoscalp/testkit';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { CacheManager, type CacheManagerOptions, isCacheErrorCode } from '../../src/index.js';

let admin: Redis;
const managers: CacheManager[] = [];

function make(ns: string, options: Partial<CacheManagerOptions> = {}): CacheManager {
  const m = new CacheManager({
    redis: { url: serviceUrls.redis },
    namespace: ns,
    bus: { heartbeatMs: 50 },
    ...options,
  });
  managers.push(m);
  return m;
}

async function busUp(...ms: CacheManager[]) {
  await waitFor(() => ms.every((m) => m.stats().bus.state === 'up'), { timeoutMs: 10_000, what: 'bus up' });
}

async function keysOf(ns: string): Promise<string[]> {
  return (await admin.keys(`${ns}*`)).sort();
}

beforeAll(() => {
  admin = new Redis(serviceUrls.redis);
});
afterEach(async () => {
  await Promise.all(managers.splice(0).map((m) => m.close()));
});
afterAll(async () => {
  await admin.quit();
});

describe('L2 on the local Redis', () => {
  it('writes through to Redis, reads it back in another instance, and invalidates L1 over the bus', async () => {
    const ns = uniqueName('cache_l2');
    const a = make(ns);
    const b = make(ns);
    await busUp(a, b);
    await a.set('price', { bid: 1 }, { ttlMs: 60_000 });
    expect(await admin.pttl(`${ns}::price`)).toBeGreaterThan(50_000);
    expect(await b.get('price')).toEqual({ bid: 1 }); // from L2
    expect(b.stats().l2Hits).toBe(1);
    expect(await b.get('price')).toEqual({ bid: 1 }); // now from L1
    expect(b.stats().l1Hits).toBe(1);
    await a.set('price', { bid: 2 });
    await waitFor(async () => (await b.get<{ bid: number }>('price'))?.bid === 2, { what: 'bus invalidation' });
    expect(b.stats().bus.received).toBeGreaterThan(0);
    await a.delete('price');
    await waitFor(async () => (await b.get('price')) === undefined, { what: 'delete propagated' });
    expect(await admin.exists(`${ns}::price`)).toBe(0);
  });

  it('L1 off: every read goes to Redis', async () => {
    const ns = uniqueName('cache_nol1');
    const c = make(ns, { l1: false });
    await c.set('k', 'v');
    await admin.set(`${ns}::other`, 'not an envelope');
    expect(await c.get('k')).toBe('v');
    expect(await c.get('k')).toBe('v');
    expect(await c.get('other')).toBeUndefined(); // corrupt record = miss, counted
    expect(c.stats().errors.serialize).toBe(1);
    expect(c.stats().l2Hits).toBe(2);
    expect(c.stats().bus.state).toBe('off');
    await c.clear();
  });

  it('mget, mset, deleteMany with one round trip and L1 fill', async () => {
    const ns = uniqueName('cache_multi');
    const c = make(ns);
    const other = make(ns);
    await busUp(c, other);
    await c.mset([
      { key: 'a', value: 1 },
      { key: 'b', value: Buffer.from('bytes') },
      { key: 'c', value: 'three', ttlMs: 30_000, tags: ['t'] },
    ]);
    await waitFor(() => other.stats().bus.received >= 1, { what: 'mset invalidation delivered' });
    expect(await other.mget(['a', 'b', 'c', 'missing'])).toEqual([1, Buffer.from('bytes'), 'three', undefined]);
    expect(other.stats().l2Hits).toBe(3);
    expect(await other.mget(['a', 'c'])).toEqual([1, 'three']);
    expect(other.stats().l1Hits).toBe(2);
    expect(await c.deleteMany(['a', 'b', 'nope'])).toBe(2);
    await waitFor(async () => (await other.mget(['a', 'b', 'c'])).join() === ',,three', {
      what: 'deleteMany propagated',
    });
    await c.clear();
  });

  it('invalidateTags removes tagged keys from Redis and from every L1', async () => {
    const ns = uniqueName('cache_tags');
    const a = make(ns);
    const b = make(ns);
    await busUp(a, b);
    await a.set('x', 1, { tags: ['btc', 'spot'] });
    await a.set('y', 2, { tags: ['btc'] });
    await a.set('z', 3, { tags: ['eth'] });
    expect(await b.mget(['x', 'y', 'z'])).toEqual([1, 2, 3]);
    expect(await admin.smembers(`${ns}:#tag:btc`)).toHaveLength(2);
    expect(await a.invalidateTags(['btc'])).toBe(2);
    expect(await admin.exists(`${ns}::x`, `${ns}::y`, `${ns}:#tag:btc`)).toBe(0);
    await waitFor(async () => (await b.mget(['x', 'y', 'z'])).join() === ',,3', { what: 'tag invalidation on b' });
    await a.clear();
  });

  it('clear() touches only its own namespace in Redis and L1', async () => {
    const ns = uniqueName('cache_clear');
    const root = make(ns);
    const books = root.namespace('books');
    const tricky = root.namespace('b');
    await root.set('k', 'root', { tags: ['t'] });
    await root.set('books::k', 'looks like a child key');
    await books.set('k', 'books', { tags: ['t'] });
    await tricky.set('k', 'b');
    await books.clear();
    expect(await keysOf(ns)).toEqual([`${ns}:#tag:t`, `${ns}::books::k`, `${ns}::k`, `${ns}:b::k`].sort());
    expect(await books.get('k')).toBeUndefined();
    expect(await root.get('k')).toBe('root');
    await root.clear();
    expect(await keysOf(ns)).toEqual([`${ns}:b::k`]);
    await tricky.clear();
    expect(await keysOf(ns)).toEqual([]);
  });

  it('TTL and grace live in Redis too: another instance can serve a stale value', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    try {
      const ns = uniqueName('cache_grace');
      const a = make(ns, { bus: false });
      const b = make(ns, { bus: false });
      vi.setSystemTime(Date.now());
      await a.set('p', 'old', { ttlMs: 1_000, graceMs: 60_000 });
      expect(await admin.pttl(`${ns}::p`)).toBeGreaterThan(59_000);
      vi.setSystemTime(Date.now() + 2_000);
      expect(await b.get('p')).toBeUndefined(); // stale is not returned by get
      const loader = vi.fn(() => new Promise<string>(() => undefined)); // never resolves
      expect(await b.getOrSet('p', loader)).toBe('old');
      expect(await b.getOrSet('p', loader)).toBe('old');
      await vi.waitFor(() => expect(loader).toHaveBeenCalledTimes(1));
      await a.clear();
    } finally {
      vi.useRealTimers();
    }
  });

  it('lease: two instances (separate single-flight maps) run the loader once in total', async () => {
    const ns = uniqueName('cache_lease');
    const a = make(ns);
    const b = make(ns);
    await busUp(a, b);
    let calls = 0;
    const loader = async () => {
      calls++;
      await new Promise((r) => setTimeout(r, 150));
      return 'loaded';
    };
    const results = await Promise.all([
      ...Array.from({ length: 20 }, () => a.getOrSet('hot', loader, { lease: true })),
      ...Array.from({ length: 20 }, () => b.getOrSet('hot', loader, { lease: true })),
    ]);
    expect(results.every((r) => r === 'loaded')).toBe(true);
    expect(calls).toBe(1);
    expect(await admin.exists(`${ns}:#lease:hot`)).toBe(0); // released
    expect(Number(await admin.get(`${ns}:#fence`))).toBeGreaterThanOrEqual(1);
    await a.clear();
    await admin.del(`${ns}:#fence`);
  });

  it('lease fencing: a holder whose lease expired keeps its late value out of Redis', async () => {
    const ns = uniqueName('cache_fence');
    const a = make(ns, { lease: { ttlMs: 60, waitTimeoutMs: 5_000 } });
    const b = make(ns, { lease: { ttlMs: 60, waitTimeoutMs: 5_000 } });
    const reader = make(ns, { l1: false });
    await busUp(a, b);
    let releaseA!: () => void;
    const slow = a.getOrSet(
      'k',
      () =>
        new Promise<string>((resolve) => {
          releaseA = () => resolve('from-a');
        }),
      { lease: true },
    );
    await waitFor(() => a.stats().loaderCalls === 1, { what: 'a holds the lease and loads' });
    // b waits for the lease to expire (a never releases it in time), then takes over
    expect(await b.getOrSet('k', () => 'from-b', { lease: true })).toBe('from-b');
    releaseA();
    expect(await slow).toBe('from-a'); // a's own callers still get a's value
    expect(await reader.get('k')).toBe('from-b');
    await a.clear();
    await admin.del(`${ns}:#fence`);
  });

  it('coalesces concurrent L2 reads of one tick (same key shared) and compresses large values', async () => {
    const ns = uniqueName('cache_batch');
    const writer = make(ns, { compression: { thresholdBytes: 1_000 }, bus: false });
    const reader = make(ns, { l1: false, compression: { thresholdBytes: 1_000 } });
    const big = { rows: Array.from({ length: 500 }, (_, i) => ({ i, px: 100 + i })) };
    await writer.set('big', big);
    await writer.set('small', 's');
    const stored = (await admin.getBuffer(`${ns}::big`)) as Buffer;
    expect(stored.length).toBeLessThan(JSON.stringify(big).length / 2);
    const results = await Promise.all([reader.get('big'), reader.get('big'), reader.get('small'), reader.get('none')]);
    expect(results).toEqual([big, big, 's', undefined]);
    expect(reader.stats().l2Hits).toBe(3);
    await writer.clear();
  });

  it('accepts an ioredis instance the user owns and never closes it', async () => {
    const ns = uniqueName('cache_owned');
    const client = new Redis(serviceUrls.redis, { lazyConnect: true });
    try {
      const c = new CacheManager({ redis: client, namespace: ns, bus: { heartbeatMs: 50 } });
      await c.set('k', 1);
      // the bus duplicates the (lazy) client and connects the duplicate itself
      await waitFor(() => c.stats().bus.state === 'up', { what: 'bus up on a duplicated lazy client' });
      expect(await client.exists(`${ns}::k`)).toBe(1);
      await c.clear();
      await c.close();
      expect(client.status).toBe('ready');
      expect(await client.ping()).toBe('PONG');
    } finally {
      await client.quit();
    }
  });

  it('healthCheck passes against a live Redis and reports the PING time', async () => {
    const c = make(uniqueName('cache_health'));
    await busUp(c);
    const h = await c.healthCheck();
    expect(h.status).toBe('pass');
    expect(h.observedUnit).toBe('ms');
    expect(h.observedValue).toBeGreaterThanOrEqual(0);
    expect(h.details).toMatchObject({ breaker: 'closed', bus: 'up' });
    const aborted = await c.healthCheck(AbortSignal.abort());
    expect(aborted.status).toBe('fail');
  });

  it('failOpen false: Redis errors reach the caller as E_CACHE_UNAVAILABLE', async () => {
    const c = make(uniqueName('cache_strict'), {
      redis: { url: 'redis://127.0.0.1:1', options: { retryStrategy: () => 50 } },
      failOpen: false,
      commandTimeoutMs: 100,
      bus: false,
    });
    const err = await c.get('k').catch((e: unknown) => e);
    expect(isCacheErrorCode(err, 'E_CACHE_UNAVAILABLE') || isCacheErrorCode(err, 'E_CACHE_TIMEOUT')).toBe(true);
    const setErr = await c.set('k', 1).catch((e: unknown) => e);
    expect((setErr as { code?: string }).code).toMatch(/E_CACHE_(UNAVAILABLE|TIMEOUT)/);
  });
});
