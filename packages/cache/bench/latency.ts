/**
 * p50/p99 per tier (L1 hit, L2 hit with L1 off, loader on a miss), and the same cache with its
 * disposable redis-server killed (fail-open: L1 fallback and loader). Baseline: raw ioredis GET
 * on the same server while it is up. 16 concurrent callers, per-call latency.
 */
import { measureThroughput, reportBench, startRedisServer, uniqueName, waitFor } from '@cryptoscalp/testkit';
import { Redis } from 'ioredis';
import { CacheManager } from '../src/index.js';

const server = await startRedisServer();
const ns = uniqueName('bench_latency');
const KEYS = 500;
const keys = Array.from({ length: KEYS }, (_, i) => `k${i}`);
const value = { px: 1.2345, qty: 10 };
const opts = {
  concurrency: 16,
  durationMs: Number(process.env.BENCH_DURATION_MS ?? 1_500),
  warmupMs: 300,
  latency: true,
};
const make = (l1: boolean) =>
  new CacheManager({
    redis: { url: server.url },
    namespace: ns,
    ttlMs: 600_000,
    commandTimeoutMs: 200,
    breaker: { resetTimeoutMs: 60_000 }, // stay open for the whole outage measurement
    l1: l1 ? {} : false,
    bus: { heartbeatMs: 100 },
  });
const cache = make(true);
const noL1 = make(false);
const raw = new Redis(server.url, { enableAutoPipelining: true });
raw.on('error', () => undefined); // the server is killed on purpose below
await waitFor(() => cache.stats().bus.state === 'up', { what: 'bus up' });
for (const k of keys) await cache.set(k, value);
await raw.set('raw', JSON.stringify(value));

let missSeq = 0;
const loader = async () => {
  await new Promise((r) => setImmediate(r)); // an async source answering immediately
  return value;
};
const l1 = await measureThroughput((i) => cache.get(keys[i % KEYS] as string), opts);
const l2 = await measureThroughput((i) => noL1.get(keys[i % KEYS] as string), opts);
const rawGet = await measureThroughput(() => raw.get('raw'), opts);
const miss = await measureThroughput(() => noL1.getOrSet(`miss-${missSeq++}`, loader, { ttlMs: 5_000 }), opts);

await server.kill();
await waitFor(() => cache.stats().breaker === 'open' || cache.stats().bus.state === 'down', { what: 'outage noticed' });
// drive the breaker open with a few calls that need Redis
for (let i = 0; i < 20 && cache.stats().breaker !== 'open'; i++) await cache.getOrSet(`warm-${i}`, loader);
const downL1 = await measureThroughput((i) => cache.get(keys[i % KEYS] as string), opts);
const downMiss = await measureThroughput(() => cache.getOrSet(`down-${missSeq++}`, loader, { ttlMs: 5_000 }), opts);
const errors = cache.stats().errors;
const breaker = cache.stats().breaker;

const p = (r: { latencyMs?: Record<string, number> }, k: string) =>
  Math.round((r.latencyMs?.[k] ?? 0) * 10_000) / 10_000;
reportBench({
  package: '@cryptoscalp/cache',
  bench: 'latency',
  figures: [
    {
      name: 'L1 hit get p99 latency',
      value: p(l1, 'p99'),
      unit: 'ms',
      baseline: { name: 'raw ioredis GET p99 (Redis up)', value: p(rawGet, 'p99') },
      higherIsBetter: false,
      method: 'measureThroughput latency mode, 16 concurrent callers, disposable redis-server on loopback',
      extra: { p50: p(l1, 'p50'), rawP50: p(rawGet, 'p50'), opsPerSec: Math.round(l1.opsPerSec) },
    },
    {
      name: 'L2 hit get (L1 off) p99 latency',
      value: p(l2, 'p99'),
      unit: 'ms',
      baseline: { name: 'raw ioredis GET p99', value: p(rawGet, 'p99') },
      higherIsBetter: false,
      method: 'same run',
      extra: { p50: p(l2, 'p50'), rawP50: p(rawGet, 'p50'), opsPerSec: Math.round(l2.opsPerSec) },
    },
    {
      name: 'miss -> loader -> write-through p99 latency',
      value: p(miss, 'p99'),
      unit: 'ms',
      baseline: { name: 'raw ioredis GET p99', value: p(rawGet, 'p99') },
      higherIsBetter: false,
      method: 'getOrSet on always-new keys, L1 off (L2 GET + loader + SET + PUBLISH)',
      extra: { p50: p(miss, 'p50') },
    },
    {
      name: 'Redis killed (fail-open): get of a warm key p99 latency',
      value: p(downL1, 'p99'),
      unit: 'ms',
      baseline: { name: 'L1 hit get p99 with Redis up', value: p(l1, 'p99') },
      higherIsBetter: false,
      method: `redis-server SIGKILLed, breaker ${breaker}; served from L1 as fallback (the bus is down, so L1 answers through the fail-open path)`,
      // measureThroughput rejects on the first failed call, so reaching this point means no caller saw an error.
      extra: { p50: p(downL1, 'p50'), opsPerSec: Math.round(downL1.opsPerSec), callerErrors: 0 },
    },
    {
      name: 'Redis killed (fail-open): getOrSet miss p99 latency',
      value: p(downMiss, 'p99'),
      unit: 'ms',
      baseline: { name: 'miss p99 with Redis up', value: p(miss, 'p99') },
      higherIsBetter: false,
      method: 'always-new keys: loader answers, value kept in L1 only',
      extra: { p50: p(downMiss, 'p50'), l2Errors: errors.l2, timeouts: errors.timeout },
    },
  ],
});
await cache.close();
await noL1.close();
raw.disconnect();
await server.stop();
process.exit(0);
