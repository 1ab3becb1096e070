import { describe, expect, it } from 'vitest';
import { MemoryRateLimitStore, RateLimiter, type RateLimitStore } from '../../src/api/index.js';

describe('MemoryRateLimitStore', () => {
  it('counts hits in a fixed window per key and starts a new window after it ends', async () => {
    const store = new MemoryRateLimitStore();
    expect(store.hit('a', 100)).toMatchObject({ count: 1 });
    expect(store.hit('a', 100)).toMatchObject({ count: 2 });
    expect(store.hit('b', 100)).toMatchObject({ count: 1 });
    const { resetMs } = store.hit('a', 100);
    expect(resetMs).toBeGreaterThan(0);
    expect(resetMs).toBeLessThanOrEqual(100);
    await new Promise((r) => setTimeout(r, 120));
    expect(store.hit('a', 100).count).toBe(1);
    expect(store.size).toBe(2);
    store.close();
    store.close();
    expect(store.size).toBe(0);
  });

  it('sweeps expired windows', async () => {
    const store = new MemoryRateLimitStore(20);
    store.hit('x', 10);
    await new Promise((r) => setTimeout(r, 80));
    expect(store.size).toBe(0);
    store.close();
  });
});

describe('RateLimiter', () => {
  it('allows up to the limit, then refuses with a Retry-After of at least one second', async () => {
    const limiter = new RateLimiter(new MemoryRateLimitStore(), 5_000);
    const verdicts = [];
    for (let i = 0; i < 4; i++) verdicts.push(await limiter.check('k', 3));
    expect(verdicts.map((v) => v.allowed)).toEqual([true, true, true, false]);
    expect(verdicts.map((v) => v.remaining)).toEqual([2, 1, 0, 0]);
    expect(verdicts[3]?.retryAfterSec).toBeGreaterThanOrEqual(1);
    expect(verdicts[3]?.retryAfterSec).toBeLessThanOrEqual(5);
    limiter.close();
  });

  it('falls back to memory when the store throws or hangs, and counts it', async () => {
    const failing: RateLimitStore = {
      hit: () => Promise.reject(new Error('down')),
      close: () => {},
    };
    const limiter = new RateLimiter(failing, 5_000);
    expect((await limiter.check('k', 1)).allowed).toBe(true);
    expect((await limiter.check('k', 1)).allowed).toBe(false);
    expect(limiter.storeErrors).toBe(2);
    const hanging: RateLimitStore = { hit: () => new Promise(() => {}), close: () => {} };
    const slow = new RateLimiter(hanging, 5_000, 30);
    const started = Date.now();
    expect((await slow.check('k', 1)).allowed).toBe(true);
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(slow.storeErrors).toBe(1);
    limiter.close();
    slow.close();
  });
});
