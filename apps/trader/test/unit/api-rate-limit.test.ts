import { describe, expect, it } from 'vitest';
import { ApiRateLimitStore, type CallbackStore, type RateLimitHit } from '../../src/http/rate-limit-store.js';

const hit = (store: ApiRateLimitStore, key: string, windowMs = 100, max = 10): Promise<RateLimitHit> =>
  store.hit(key, windowMs, max);

describe('ApiRateLimitStore (in memory: @fastify/rate-limit LocalStore)', () => {
  it('counts hits in a fixed window per key, starting at the first hit, and starts a new window after it', async () => {
    const store = new ApiRateLimitStore();
    expect(store.shared).toBe(false);
    expect(await hit(store, 'a')).toMatchObject({ current: 1, ttl: 100 });
    expect((await hit(store, 'a')).current).toBe(2);
    expect((await hit(store, 'b')).current).toBe(1);
    const { ttl } = await hit(store, 'a');
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(100);
    await new Promise((r) => setTimeout(r, 120));
    expect((await hit(store, 'a')).current).toBe(1);
    expect(store.child()).toBe(store);
    expect(store.errors).toBe(0);
  });

  it('keeps at most memoryKeys keys (LRU): an evicted key starts a fresh window', async () => {
    const store = new ApiRateLimitStore({ memoryKeys: 2 });
    await hit(store, 'a');
    await hit(store, 'a');
    await hit(store, 'b');
    await hit(store, 'c');
    expect((await hit(store, 'a')).current).toBe(1);
  });
});

describe('ApiRateLimitStore fallback when the shared store fails', () => {
  it('counts in memory when the shared store errors or throws, and counts the failures', async () => {
    const failing: CallbackStore = { incr: (_k, cb) => cb(new Error('down')) };
    const store = new ApiRateLimitStore({ primary: failing });
    expect(store.shared).toBe(true);
    expect((await hit(store, 'k')).current).toBe(1);
    expect((await hit(store, 'k')).current).toBe(2);
    expect(store.errors).toBe(2);
    const throwing = new ApiRateLimitStore({
      primary: {
        incr: () => {
          throw new Error('sync');
        },
      },
    });
    expect((await hit(throwing, 'k')).current).toBe(1);
    expect(throwing.errors).toBe(1);
  });

  it('answers from memory when the shared store hangs past the timeout, and drops its late answer', async () => {
    let late: ((e: Error | null, r?: RateLimitHit) => void) | undefined;
    const hanging: CallbackStore = {
      incr: (_k, cb) => {
        late = cb;
      },
    };
    const store = new ApiRateLimitStore({ primary: hanging, timeoutMs: 30 });
    const started = Date.now();
    expect((await hit(store, 'k')).current).toBe(1);
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(store.errors).toBe(1);
    late?.(null, { current: 99, ttl: 1 });
    expect((await hit(store, 'j')).current).toBe(1);
  });

  it('uses the shared store while it answers', async () => {
    const counts = new Map<string, number>();
    const shared: CallbackStore = {
      incr: (k, cb, windowMs) => {
        counts.set(k, (counts.get(k) ?? 0) + 1);
        setImmediate(() => cb(null, { current: counts.get(k) as number, ttl: windowMs }));
      },
    };
    const store = new ApiRateLimitStore({ primary: shared });
    await hit(store, 'x');
    expect(await hit(store, 'x', 5_000)).toEqual({ current: 2, ttl: 5_000 });
    expect(store.errors).toBe(0);
  });
});
