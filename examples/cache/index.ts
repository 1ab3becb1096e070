/**
 * @cryptoscalp/cache in two minutes: a two-tier cache in front of Redis.
 *
 *   npm run build -w @cryptoscalp/cache && npx tsx examples/cache/index.ts
 *
 * Uses REDIS_URL (default redis://127.0.0.1:6379) and cleans up its own namespace.
 */
import diagnostics from 'node:diagnostics_channel';
import { BREAKER_CHANNEL, CacheManager, isCacheError } from '@cryptoscalp/cache';

const cache = new CacheManager({
  redis: { url: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379' },
  namespace: `example-${process.pid}`,
  l1: { maxEntries: 10_000, policy: 'lru' },
  ttlMs: 5_000, // fresh for 5 s
  graceMs: 60_000, // then servable stale for a minute if the source fails
});

// State changes arrive on diagnostics_channel; nothing is published when nobody listens.
diagnostics.subscribe(BREAKER_CHANNEL, (event) => console.log('breaker:', event));

// Pretend this is an exchange REST call.
let calls = 0;
async function fetchTicker(symbol: string) {
  calls++;
  await new Promise((r) => setTimeout(r, 30));
  return { symbol, bid: 64_000 + calls, ask: 64_001 + calls, at: Date.now() };
}

// 1. Stampede protection: 100 concurrent callers, one upstream call.
const tickers = await Promise.all(
  Array.from({ length: 100 }, () => cache.getOrSet('ticker:BTC-USD', () => fetchTicker('BTC-USD'))),
);
console.log(`100 callers got`, tickers[0], `with ${calls} upstream call(s)`);

// 2. Reads now come from L1 (in process) without touching Redis.
console.log('L1 hit:', await cache.get('ticker:BTC-USD'));

// 3. Namespaces share the connections; tags invalidate groups of keys.
const books = cache.namespace('books');
await books.set('BTC-USD', { bids: [[64_000, 1.5]], asks: [[64_001, 2]] }, { tags: ['btc'] });
await books.set('BTC-EUR', { bids: [[59_000, 1]], asks: [[59_002, 1]] }, { tags: ['btc'] });
console.log('books before:', await books.mget(['BTC-USD', 'BTC-EUR']));
console.log('invalidated', await books.invalidateTags(['btc']), 'tagged entries');
console.log('books after:', await books.mget(['BTC-USD', 'BTC-EUR']));

// 4. Bad input fails with a typed error.
try {
  await cache.set('bad', { big: 10n });
} catch (error) {
  if (isCacheError(error)) console.log('rejected:', error.code);
}

// 5. Observability: health (structural contract with @cryptoscalp/health) and stats.
console.log('health:', await cache.healthCheck());
const s = cache.stats();
console.log('stats:', {
  l1Hits: s.l1Hits,
  l2Hits: s.l2Hits,
  loaderCalls: s.loaderCalls,
  breaker: s.breaker,
  bus: s.bus.state,
});

await books.clear();
await cache.clear();
await cache.close();
