/**
 * L2 `get` with L1 off vs raw ioredis auto-pipelined GET against the same Redis, 256
 * concurrent callers, same harness and run. The cache decodes its envelope and JSON; the raw
 * client returns the stored string.
 */
import { measureThroughput, reportBench, serviceUrls, uniqueName } from '@cryptoscalp/testkit';
import { Redis } from 'ioredis';
import { CacheManager } from '../src/index.js';

const KEYS = 1_000;
const ns = uniqueName('bench_l2');
const keys = Array.from({ length: KEYS }, (_, i) => `ETH-USD:${i}`);
const value = { bid: 3_000.25, ask: 3_000.5, ts: 1_700_000_000_000 };
const durationMs = Number(process.env.BENCH_DURATION_MS ?? 2_000);
const opts = { concurrency: 256, durationMs, warmupMs: 500 };

const cache = new CacheManager({ redis: { url: serviceUrls.redis }, namespace: ns, l1: false, ttlMs: 600_000 });
const raw = new Redis(serviceUrls.redis, { enableAutoPipelining: true });
for (const k of keys) {
  await cache.set(k, value);
  await raw.set(`${ns}:raw:${k}`, JSON.stringify(value), 'PX', 600_000);
}
if ((await cache.get(keys[0] as string)) === undefined) throw new Error('miss in bench');

const results: Record<string, number> = {};
for (let round = 0; round < 2; round++) {
  const c = await measureThroughput((i) => cache.get(keys[i % KEYS] as string), opts);
  results.cache = Math.max(results.cache ?? 0, c.opsPerSec);
  const r = await measureThroughput(
    async (i) => JSON.parse((await raw.get(`${ns}:raw:${keys[i % KEYS]}`)) as string),
    opts,
  );
  results.raw = Math.max(results.raw ?? 0, r.opsPerSec);
}
const cl = await measureThroughput((i) => cache.get(keys[i % KEYS] as string), { ...opts, latency: true });
const rl = await measureThroughput((i) => raw.get(`${ns}:raw:${keys[i % KEYS]}`), { ...opts, latency: true });
const s = cache.stats();

reportBench({
  package: '@cryptoscalp/cache',
  bench: 'l2-get',
  figures: [
    {
      name: 'L2 get, L1 off (256 concurrent callers)',
      value: results.cache as number,
      unit: 'ops/s',
      baseline: { name: 'raw ioredis auto-pipelined GET + JSON.parse', value: results.raw as number },
      higherIsBetter: true,
      target: 0.9,
      method: `measureThroughput, concurrency 256, ${durationMs} ms after 500 ms warm-up, best of 2 interleaved rounds, ${KEYS} keys, same local Redis 7; 2-core machine shared with other jobs`,
      extra: {
        cacheP50Ms: cl.latencyMs?.p50 ?? 0,
        cacheP99Ms: cl.latencyMs?.p99 ?? 0,
        rawP50Ms: rl.latencyMs?.p50 ?? 0,
        rawP99Ms: rl.latencyMs?.p99 ?? 0,
        statsL2P50Ms: s.latency.l2.p50,
        statsL2P99Ms: s.latency.l2.p99,
      },
    },
  ],
});
await cache.clear();
await cache.close();
await raw.unlink(...keys.map((k) => `${ns}:raw:${k}`));
await raw.quit();
process.exit(0);
