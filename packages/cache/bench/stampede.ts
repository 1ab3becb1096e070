/**
 * Stampede: 1,000 concurrent getOrSet on one cold key (loader takes 20 ms, like a DB query),
 * repeated over 20 keys. @cryptoscalp/cache (L1 + Redis L2) vs bentocache (memory L1 + Redis
 * L2), same Redis, same run. Also: two cache instances with `lease: true`, 500 callers each.
 */
import { performance } from 'node:perf_hooks';
import { reportBench, serviceUrls, uniqueName } from '@cryptoscalp/testkit';
import { BentoCache, bentostore } from 'bentocache';
import { memoryDriver } from 'bentocache/drivers/memory';
import { redisDriver } from 'bentocache/drivers/redis';
import { Redis } from 'ioredis';
import { CacheManager } from '../src/index.js';

const CALLERS = 1_000;
const ROUNDS = 20;
const LOAD_MS = 20;
const ns = uniqueName('bench_stampede');

const cache = new CacheManager({ redis: { url: serviceUrls.redis }, namespace: ns, ttlMs: 60_000 });
const cacheB = new CacheManager({ redis: { url: serviceUrls.redis }, namespace: ns, ttlMs: 60_000 });
const bentoRedis = new Redis(serviceUrls.redis);
const bento = new BentoCache({
  default: 'tiered',
  stores: {
    tiered: bentostore()
      .useL1Layer(memoryDriver({ maxItems: 10_000 }))
      .useL2Layer(redisDriver({ connection: bentoRedis })),
  },
});
await new Promise((r) => setTimeout(r, 300)); // let the bus connect

async function stampede(run: (key: string, loader: () => Promise<number>) => Promise<unknown>, prefix: string) {
  let loads = 0;
  const loader = async () => {
    loads++;
    await new Promise((r) => setTimeout(r, LOAD_MS));
    return 42;
  };
  const times: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const key = `${prefix}-${round}`;
    const t0 = performance.now();
    const results = await Promise.all(Array.from({ length: CALLERS }, () => run(key, loader)));
    times.push(performance.now() - t0);
    if (results.some((r) => r !== 42)) throw new Error('wrong value');
  }
  times.sort((a, b) => a - b);
  return {
    loadsPerKey: loads / ROUNDS,
    meanMs: times.reduce((a, b) => a + b, 0) / ROUNDS,
    p50: times[ROUNDS / 2] as number,
  };
}

const ours = await stampede((k, l) => cache.getOrSet(k, l), 'ours');
const theirs = await stampede((k, l) => bento.getOrSet({ key: k, factory: l, ttl: '1m' }), `${ns}-bento`);
const leased = await stampede(
  (k, l) => (Math.random() < 0.5 ? cache : cacheB).getOrSet(k, l, { lease: true }),
  'lease',
);

reportBench({
  package: '@cryptoscalp/cache',
  bench: 'stampede',
  figures: [
    {
      name: `stampede: ${CALLERS} concurrent getOrSet on a cold key, time until all resolve`,
      value: ours.meanMs,
      unit: 'ms',
      baseline: { name: 'bentocache getOrSet (memory L1 + Redis L2)', value: theirs.meanMs },
      higherIsBetter: false,
      method: `${ROUNDS} cold keys, loader ${LOAD_MS} ms, local Redis 7, mean over keys; 2-core machine shared with other jobs`,
      extra: {
        loaderCallsPerKey: ours.loadsPerKey,
        bentoLoaderCallsPerKey: theirs.loadsPerKey,
        p50Ms: Math.round(ours.p50 * 100) / 100,
        bentoP50Ms: Math.round(theirs.p50 * 100) / 100,
      },
    },
    {
      name: `stampede across 2 instances with lease: ${CALLERS} callers split over both`,
      value: leased.meanMs,
      unit: 'ms',
      baseline: { name: 'single instance, no lease', value: ours.meanMs },
      higherIsBetter: false,
      method:
        'same keys and loader; each instance has its own single-flight map, the Redis lease makes it one load in total',
      extra: { loaderCallsPerKey: leased.loadsPerKey },
    },
  ],
});
await cache.clear();
await cache.close();
await cacheB.close();
await bento.disconnect();
await bentoRedis.quit().catch(() => undefined);
const cleanup = new Redis(serviceUrls.redis);
const keys = await cleanup.keys(`*${ns}*`);
if (keys.length > 0) await cleanup.unlink(...keys);
await cleanup.quit();
process.exit(0);
