import { serviceUrls, uniqueName } from '@cryptoscalp/testkit';
import { conformanceSuite, loadSecondCopy } from '@cryptoscalp/testkit/conformance';
import { Redis } from 'ioredis';
import { afterAll } from 'vitest';
import {
  BREAKER_CHANNEL,
  BUS_CHANNEL,
  CacheError,
  CacheManager,
  DEFAULTS,
  ERROR_CHANNEL,
  isCacheError,
  OPERATION_CHANNEL,
} from '../../src/index.js';

// Sees the cache's own connections (named after the cache) from the server side.
const observer = new Redis(serviceUrls.redis);
afterAll(() => observer.quit());

async function connectionsNamed(name: string): Promise<number> {
  const list = (await observer.client('LIST')) as string;
  return list.split('\n').filter((line) => line.includes(` name=${name} `)).length;
}

conformanceSuite<CacheManager>({
  package: 'cache',
  async create() {
    const name = uniqueName('conformance');
    const cache = new CacheManager({ name, namespace: name, redis: { url: serviceUrls.redis } });
    await cache.set('k', 1);
    return cache;
  },
  healthCheck: (cache) => cache.healthCheck(),
  stats: (cache) => cache.stats(),
  released: async (cache) => (await connectionsNamed(cache.stats().name)) === 0,
  defaults: DEFAULTS,
  channels: [OPERATION_CHANNEL, BREAKER_CHANNEL, BUS_CHANNEL, ERROR_CHANNEL],
  invalidOption: {
    field: 'l1.maxEntries',
    construct: () => new CacheManager({ redis: { url: serviceUrls.redis }, l1: { maxEntries: -1 } }),
  },
  codePrefix: 'E_CACHE',
  hooks: [
    {
      name: 'onError',
      channel: ERROR_CHANNEL,
      hook: (cache) => cache.onError,
      // A failing loader is counted and reported, then rejects to the caller.
      fire: async (cache) => {
        await cache.getOrSet(uniqueName('hook'), () => Promise.reject(new Error('loader down'))).catch(() => undefined);
      },
    },
  ],
  guard: {
    is: isCacheError,
    localClass: CacheError,
    // A second instance of the errors module, as a duplicate install would load it.
    foreignError: async () => {
      const copy = await loadSecondCopy<typeof import('../../src/errors.js')>(
        new URL('../../src/errors.ts', import.meta.url),
      );
      return new copy.CacheError(copy.CacheErrorCode.CLOSED, 'from another copy');
    },
  },
});
