/**
 * L1 hit `get`: @cryptoscalp/cache (L1 only, and L1 in front of Redis with the bus up) vs bentocache with a
 * memory-only store, vs an async Map lookup. Same harness (testkit measureThroughput, 256
 * concurrent callers), same run, 1,000 hot keys.
 */
import { measureThroughput, reportBench, serviceUrls, uniqueName, waitFor } from '@cryptoscalp/testkit';
import { BentoCache, bentostore } from 'bentocache';
import { memoryDriver } from 'bentocache/drivers/memory';
import { CacheManager } from '../src/index.js';

const KEYS = 1_000;
const keys = Array.from({ length: KEYS }, (_, i) => `BTC-USD:${i}`);
const value = { bid: 64_000.5, ask: 64_001, ts: 1_700_000_000_000 };
const durationMs = Number(process.env.BENCH_DURATION_MS ?? 2_000);
const opts = { concurrency: 256, durationMs, warmupMs: 500 };

const cache = new CacheManager({ l1: { maxEntries: 10_000 }, ttlMs: 3_600_000 });
for (const k of keys) await cache.set(k, value);

// The same L1 in front of Redis, bus up: the hit path must not touch Redis.
const tiered = new CacheManager({
  redis: { url: serviceUrls.redis },
  namespace: uniqueName('bench_l1'),
  ttlMs: 3_600_000,
});
await waitFor(() => tiered.stats().bus.state === 'up', { what: 'bus up' });
for (const k of keys) await tiered.set(k, value);

const bento = new BentoCache({
  default: 'memory',
  stores: { memory: bentostore().useL1Layer(memoryDriver({ maxItems: 10_000 })) },
});
for (const k of keys) await bento.set({ key: k, value, ttl: '1h' });

const map = new Map(keys.map((k) => [k, value]));
const asyncMapGet = async (k: string) => map.get(k);

// Sanity: all three return the value.
if ((await cache.get(keys[1] as string)) === undefined) throw new Error('cache miss in bench');
if ((await bento.get({ key: keys[1] as string })) === undefined) throw new Error('bento miss in bench');

const results: Record<string, number> = {};
// Interleave twice to even out machine noise.
for (let round = 0; round < 2; round++) {
  for (const [name, op] of [
    ['cache', (i: number) => cache.get(keys[i % KEYS] as string)],
    ['bento', (i: number) => bento.get({ key: keys[i % KEYS] as string })],
    ['map', (i: number) => asyncMapGet(keys[i % KEYS] as string)],
    ['tiered', (i: number) => tiered.get(keys[i % KEYS] as string)],
  ] as const) {
    const r = await measureThroughput(op, opts);
    results[name] = Math.max(results[name] ?? 0, r.opsPerSec);
  }
}
const latency = await measureThroughput((i) => cache.get(keys[i % KEYS] as string), { ...opts, latency: true });
const s = cache.stats();
const ts = tiered.stats();

reportBench({
  package: '@cryptoscalp/cache',
  bench: 'l1-hit',
  figures: [
    {
      name: 'L1 hit get (256 concurrent callers)',
      value: results.cache as number,
      unit: 'ops/s',
      baseline: { name: 'bentocache memory-only L1 hit', value: results.bento as number },
      higherIsBetter: true,
      target: 10,
      method: `measureThroughput, concurrency 256, ${durationMs} ms after 500 ms warm-up, best of 2 interleaved rounds, ${KEYS} keys, object value; 2-core machine shared with other jobs`,
      extra: {
        asyncMapOpsPerSec: Math.round(results.map as number),
        withRedisL2OpsPerSec: Math.round(results.tiered as number),
        withRedisL2Hits: ts.l2Hits,
        withRedisBusDrops: ts.bus.drops,
        withRedisL2RatioVsBento: Number(((results.tiered as number) / (results.bento as number)).toFixed(2)),
        ratioVsAsyncMap: Number(((results.cache as number) / (results.map as number)).toFixed(3)),
        p50Ms: latency.latencyMs?.p50 ?? 0,
        p99Ms: latency.latencyMs?.p99 ?? 0,
        statsL1P50Ms: s.latency.l1.p50,
        statsL1P99Ms: s.latency.l1.p99,
      },
    },
    {
      name: 'L1 hit get vs async Map lookup',
      value: results.cache as number,
      unit: 'ops/s',
      baseline: { name: 'async Map.get', value: results.map as number },
      higherIsBetter: true,
      method: 'same run as above',
    },
  ],
});
await tiered.clear();
await tiered.close();
await cache.close();
await bento.disconnect();
process.exit(0);
