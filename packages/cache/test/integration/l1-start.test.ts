import { serviceUrls, uniqueName, waitFor } from '@cryptoscalp/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import { CacheManager } from '../../src/index.js';

const managers: CacheManager[] = [];
afterEach(async () => {
  await Promise.all(managers.splice(0).map((m) => m.close()));
});

/** A manager created just now: nothing awaited since its constructor. Default bus heartbeat (500 ms). */
function fresh(namespace: string): CacheManager {
  const m = new CacheManager({ redis: { url: serviceUrls.redis }, namespace, ttlMs: 60_000 });
  managers.push(m);
  return m;
}

describe('L1 right after start', () => {
  it('serves the first get after the first set from L1, with readiness passing', async () => {
    for (let i = 0; i < 5; i++) {
      const m = fresh(uniqueName('cache_start'));
      const started = performance.now();
      await m.set('k', { i });
      expect(await m.get('k')).toEqual({ i });
      const s = m.stats();
      expect(s.l1Hits).toBe(1);
      expect(s.l1Misses).toBe(0);
      expect(s.bus.state).toBe('up');
      expect((await m.healthCheck()).status).toBe('pass');
      // Well under one heartbeat interval: the SUBSCRIBE reply, not the first heartbeat, opened L1.
      expect(performance.now() - started).toBeLessThan(500);
    }
  });

  it("drops L1 entries on another instance's invalidation sent right after both started", async () => {
    const ns = uniqueName('cache_start_inv');
    const a = fresh(ns);
    const b = fresh(ns);
    await a.set('price', 1);
    expect(await a.get('price')).toBe(1);
    expect(a.stats().l1Hits).toBe(1);
    await b.set('price', 2);
    // The invalidation arrives over pub/sub a moment after b's write; a's 60 s L1 entry must not outlive it.
    await waitFor(async () => (await a.get('price')) === 2, { timeoutMs: 2_000, what: 'invalidation in a' });
    expect(a.stats().bus.received).toBeGreaterThanOrEqual(1);
    await b.delete('price');
    await waitFor(async () => (await a.get('price')) === undefined, { timeoutMs: 2_000, what: 'delete in a' });
  });
});
