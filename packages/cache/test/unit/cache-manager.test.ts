import diagnostics from 'node:diagnostics_channel';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { CacheManager, type CacheOperationContext, isCacheErrorCode, OPERATION_CHANNEL } from '../../src/index.js';

const managers: CacheManager[] = [];
function make(options: ConstructorParameters<typeof CacheManager>[0] = {}): CacheManager {
  const m = new CacheManager(options);
  managers.push(m);
  return m;
}

afterEach(async () => {
  vi.useRealTimers();
  await Promise.all(managers.splice(0).map((m) => m.close()));
});

function deferred<T>() {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

async function code(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p;
    return undefined;
  } catch (error) {
    return (error as { code?: string }).code;
  }
}

describe('CacheManager (L1 only)', () => {
  it('sets, gets, deletes and reports misses as undefined', async () => {
    const c = make();
    expect(await c.get('k')).toBeUndefined();
    await c.set('k', { a: 1 });
    expect(await c.get('k')).toEqual({ a: 1 });
    await c.set('n', null);
    expect(await c.get('n')).toBeNull();
    expect(await c.delete('k')).toBe(true);
    expect(await c.delete('k')).toBe(false);
    expect(await c.get('k')).toBeUndefined();
    const s = c.stats();
    expect(s.l1Hits).toBe(2);
    expect(s.l1Misses).toBe(2);
    expect(s.breaker).toBe('none');
    expect(s.bus.state).toBe('off');
  });

  it('expires entries by TTL without timers, including very long TTLs', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(1_000_000);
    const c = make({ ttlMs: 1_000 });
    await c.set('short', 1);
    await c.set('long', 2, { ttlMs: 10 * 365 * 24 * 3600 * 1000 });
    vi.setSystemTime(1_000_999);
    expect(await c.get('short')).toBe(1);
    vi.setSystemTime(1_001_001);
    expect(await c.get('short')).toBeUndefined();
    vi.setSystemTime(1_000_000 + 9 * 365 * 24 * 3600 * 1000);
    expect(await c.get('long')).toBe(2);
    expect(c.stats().expirations).toBe(1);
  });

  it('validates keys, values and per-call options with typed errors', async () => {
    const c = make({ maxKeyLength: 8 });
    expect(await code(c.get(''))).toBe('E_CACHE_INVALID_KEY');
    expect(await code(c.get(5 as never))).toBe('E_CACHE_INVALID_KEY');
    expect(await code(c.get('123456789'))).toBe('E_CACHE_KEY_TOO_LONG');
    expect(await code(c.set('123456789', 1))).toBe('E_CACHE_KEY_TOO_LONG');
    expect(await code(c.set('u', undefined))).toBe('E_CACHE_UNDEFINED_VALUE');
    expect(await code(c.set('b', 1n))).toBe('E_CACHE_SERIALIZE');
    const cyc: Record<string, unknown> = {};
    cyc.me = cyc;
    expect(await code(c.set('c', cyc))).toBe('E_CACHE_SERIALIZE');
    expect(await code(c.set('f', { f() {} }))).toBe('E_CACHE_SERIALIZE');
    expect(await c.get('c')).toBeUndefined();
    expect(await code(c.set('t', 1, { ttlMs: -1 }))).toBe('E_CACHE_INVALID_OPTION');
    expect(await code(c.set('t', 1, { tags: [''] }))).toBe('E_CACHE_INVALID_OPTION');
    expect(await code(c.getOrSet('t', () => 1, { timeoutMs: -1 }))).toBe('E_CACHE_INVALID_OPTION');
    expect(await code(c.getOrSet('t', 'nope' as never))).toBe('E_CACHE_INVALID_OPTION');
    expect(await code(c.mget('x' as never))).toBe('E_CACHE_INVALID_OPTION');
    expect(await code(c.mset('x' as never))).toBe('E_CACHE_INVALID_OPTION');
    expect(await code(c.mget(['ok', '']))).toBe('E_CACHE_INVALID_KEY');
    expect(c.stats().errors.serialize).toBe(3);
  });

  it('stores Buffers as they are', async () => {
    const c = make();
    const buf = Buffer.from('raw bytes');
    await c.set('buf', buf);
    expect(await c.get('buf')).toBe(buf);
  });

  it('mget, mset and deleteMany', async () => {
    const c = make();
    await c.mset([
      { key: 'a', value: 1 },
      { key: 'b', value: 2, ttlMs: 5_000 },
    ]);
    expect(await c.mget(['a', 'x', 'b'])).toEqual([1, undefined, 2]);
    expect(await c.deleteMany(['a', 'b', 'x'])).toBe(2);
    expect(await c.mget(['a', 'b'])).toEqual([undefined, undefined]);
    // nothing is written when one value cannot be encoded
    expect(
      await code(
        c.mset([
          { key: 'ok', value: 1 },
          { key: 'bad', value: 2n },
        ]),
      ),
    ).toBe('E_CACHE_SERIALIZE');
    expect(await c.get('ok')).toBeUndefined();
  });

  it('namespaces isolate keys, share the store, and clear only themselves', async () => {
    const root = make({ namespace: 'app', l1: { maxEntries: 3 } });
    const books = root.namespace('books');
    expect(books.namespacePath).toBe('app:books');
    expect(root.namespace('books').namespacePath).toBe('app:books');
    await root.set('k', 'root');
    await books.set('k', 'books');
    expect(await root.get('k')).toBe('root');
    expect(await books.get('k')).toBe('books');
    await books.clear();
    expect(await books.get('k')).toBeUndefined();
    expect(await root.get('k')).toBe('root');
    // limits are shared
    await books.set('1', 1);
    await books.set('2', 2);
    await books.set('3', 3);
    expect(root.stats().l1Entries).toBe(3);
    expect(root.stats().evictions).toBe(1);
    expect(await root.get('k')).toBeUndefined(); // least recently used across namespaces
    expect(() => root.namespace('a:b')).toThrow(expect.objectContaining({ field: 'namespace' }));
    await books.close();
    expect(await code(books.get('1'))).toBe('E_CACHE_CLOSED');
    await root.set('z', 1);
    expect(await root.get('z')).toBe(1);
  });

  it('invalidates by tag', async () => {
    const c = make();
    await c.set('a', 1, { tags: ['btc'] });
    await c.set('b', 2, { tags: ['eth', 'btc'] });
    await c.set('c', 3, { tags: ['eth'] });
    expect(await c.invalidateTags(['btc'])).toBe(2);
    expect(await c.mget(['a', 'b', 'c'])).toEqual([undefined, undefined, 3]);
  });

  it('getOrSet runs the loader once for concurrent callers and caches the value', async () => {
    const c = make();
    const gate = deferred<number>();
    const loader = vi.fn(() => gate.promise);
    const calls = Array.from({ length: 100 }, () => c.getOrSet('k', loader));
    gate.resolve(7);
    expect(await Promise.all(calls)).toEqual(Array(100).fill(7));
    expect(loader).toHaveBeenCalledTimes(1);
    expect(await c.getOrSet('k', loader)).toBe(7);
    expect(loader).toHaveBeenCalledTimes(1);
    expect(c.stats().loaderCalls).toBe(1);
  });

  it('getOrSet does not cache undefined and wraps loader errors', async () => {
    const c = make();
    expect(await c.getOrSet('u', () => undefined)).toBeUndefined();
    expect(await c.get('u')).toBeUndefined();
    const err = await c.getOrSet('e', () => Promise.reject(new Error('boom'))).catch((e: unknown) => e);
    expect(isCacheErrorCode(err, 'E_CACHE_LOADER')).toBe(true);
    expect(((err as Error).cause as Error).message).toBe('boom');
    expect(c.stats().errors.loader).toBe(1);
    // the failed flight is gone: the next call loads again
    expect(await c.getOrSet('e', () => 3)).toBe(3);
  });

  it('grace: serves the stale value at once and refreshes once in the background', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(5_000_000);
    const c = make({ ttlMs: 1_000, graceMs: 60_000 });
    await c.getOrSet('p', () => 'v1');
    vi.setSystemTime(5_002_000); // expired, in grace
    const gate = deferred<string>();
    const loader = vi.fn((ctx: { stale: unknown }) => {
      expect(ctx.stale).toBe('v1');
      return gate.promise;
    });
    const results = await Promise.all([c.getOrSet('p', loader), c.getOrSet('p', loader), c.getOrSet('p', loader)]);
    expect(results).toEqual(['v1', 'v1', 'v1']);
    expect(loader).toHaveBeenCalledTimes(1);
    expect(await c.get('p')).toBeUndefined(); // get returns fresh values only
    gate.resolve('v2');
    await vi.waitFor(async () => expect(await c.getOrSet('p', loader)).toBe('v2'));
    expect(loader).toHaveBeenCalledTimes(1);
    expect(c.stats().staleServed).toBeGreaterThanOrEqual(3);
  });

  it('grace: serves stale when the loader fails', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(1_000_000);
    const c = make({ ttlMs: 100, graceMs: 10_000, timeoutMs: 5_000 });
    await c.set('p', 'old');
    vi.setSystemTime(1_000_500);
    expect(await c.getOrSet('p', () => Promise.reject(new Error('down')))).toBe('old');
    expect(c.stats().errors.loader).toBe(1);
  });

  it('soft timeout: waits for a fresh value up to the timeout, then serves stale', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(1_000_000);
    const c = make({ ttlMs: 100, graceMs: 100_000 });
    await c.set('p', 'old');
    vi.setSystemTime(1_000_500);
    // fast loader within the soft timeoutMs: fresh value
    expect(await c.getOrSet('p', () => 'new', { timeoutMs: 2_000 })).toBe('new');
    vi.setSystemTime(1_001_000);
    // slow loader: stale after the soft timeout
    const gate = deferred<string>();
    expect(await c.getOrSet('p', () => gate.promise, { timeoutMs: 30 })).toBe('new');
    gate.resolve('newer');
    await vi.waitFor(async () => expect(await c.get('p')).toBe('newer'));
  });

  it('hard timeout: rejects with E_CACHE_TIMEOUT when there is no stale value, the load still completes', async () => {
    const c = make();
    const gate = deferred<string>();
    const err = await c.getOrSet('h', () => gate.promise, { hardTimeoutMs: 30 }).catch((e: unknown) => e);
    expect(isCacheErrorCode(err, 'E_CACHE_TIMEOUT')).toBe(true);
    expect((err as { timeoutMs?: number }).timeoutMs).toBe(30);
    gate.resolve('late');
    await vi.waitFor(async () => expect(await c.get('h')).toBe('late'));
    expect(c.stats().errors.timeout).toBe(1);
  });

  it('publishes operation traces only when subscribed', async () => {
    const c = make({ name: 'traced' });
    await c.set('k', 1);
    const starts: CacheOperationContext[] = [];
    const ends: CacheOperationContext[] = [];
    const handlers = {
      start: (ctx: unknown) => starts.push({ ...(ctx as CacheOperationContext) }),
      end: () => undefined,
      asyncStart: () => undefined,
      asyncEnd: (ctx: unknown) => ends.push({ ...(ctx as CacheOperationContext) }),
      error: () => undefined,
    };
    const channel = diagnostics.tracingChannel(OPERATION_CHANNEL);
    channel.subscribe(handlers);
    try {
      await c.get('k');
      await c.get('missing');
      await c.getOrSet('g', () => 5);
      await c.mget(['k']);
      await c.delete('k');
      await c.clear();
    } finally {
      channel.unsubscribe(handlers);
    }
    expect(starts.map((s) => s.operation)).toEqual(['get', 'get', 'getOrSet', 'mget', 'delete', 'clear']);
    expect(ends[0]).toMatchObject({
      component: 'traced',
      operation: 'get',
      namespace: 'cache',
      key: 'k',
      tier: 'l1',
      hit: true,
    });
    expect(ends[1]).toMatchObject({ operation: 'get', key: 'missing', hit: false });
    expect(ends[2]).toMatchObject({ operation: 'getOrSet', tier: 'loader', hit: true });
    await c.get('k');
    expect(starts).toHaveLength(6);
  });

  it('healthCheck passes without Redis; close is idempotent and later calls reject', async () => {
    const c = make({ l1: { policy: 'lfu' } });
    await c.set('a', 1);
    const h = await c.healthCheck();
    expect(h.status).toBe('pass');
    expect(h.details).toMatchObject({ breaker: 'none', bus: 'off', l1Entries: 1 });
    await c.close();
    await c.close();
    expect(await code(c.get('a'))).toBe('E_CACHE_CLOSED');
    expect(await code(c.set('a', 1))).toBe('E_CACHE_CLOSED');
    expect((await c.healthCheck()).status).toBe('fail');
  });

  it('stats expose sampled L1 latency percentiles', async () => {
    const c = make();
    await c.set('k', 1);
    for (let i = 0; i < 1_000; i++) await c.get('k');
    const s = c.stats();
    expect(s.latency.l1.count).toBeGreaterThan(10);
    expect(s.latency.l1.p99).toBeGreaterThanOrEqual(s.latency.l1.p50);
    expect(s.latency.loader.count).toBe(0);
  });
});
