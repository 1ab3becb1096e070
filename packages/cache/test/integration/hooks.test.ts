import diagnostics from 'node:diagnostics_channel';
import { type RedisServer, startRedisServer, uniqueName, waitFor } from '@cryptoscalp/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  BREAKER_CHANNEL,
  BUS_CHANNEL,
  type CacheBreakerEvent,
  type CacheBusEvent,
  CacheManager,
} from '../../src/index.js';

let server: RedisServer;
beforeAll(async () => {
  server = await startRedisServer();
});
afterAll(async () => {
  await server.stop();
});

describe('CacheManager hooks against a Redis that dies and comes back', () => {
  it('onBreakerStateChange and onBusStateChange deliver the channel payloads, for every namespace view', async () => {
    const name = uniqueName('cache_hooks');
    const cache = new CacheManager({
      name,
      redis: { url: server.url },
      namespace: name,
      commandTimeoutMs: 200,
      breaker: { resetTimeoutMs: 300, volumeThreshold: 3, errorThresholdPercentage: 50 },
      bus: { heartbeatMs: 50 },
    });
    const view = cache.namespace('books');
    const breakerChannel: CacheBreakerEvent[] = [];
    const busChannel: CacheBusEvent[] = [];
    const onBreaker = (m: unknown) => {
      if ((m as CacheBreakerEvent).component === name) breakerChannel.push(m as CacheBreakerEvent);
    };
    const onBus = (m: unknown) => {
      if ((m as CacheBusEvent).component === name) busChannel.push(m as CacheBusEvent);
    };
    diagnostics.subscribe(BREAKER_CHANNEL, onBreaker);
    diagnostics.subscribe(BUS_CHANNEL, onBus);
    const breaker: CacheBreakerEvent[] = [];
    const bus: CacheBusEvent[] = [];
    cache.onBreakerStateChange((e) => breaker.push(e));
    view.onBusStateChange((e) => bus.push(e));
    try {
      await waitFor(() => cache.stats().bus.state === 'up', { what: 'bus up' });
      await server.kill();
      // Fail-open reads while Redis is gone trip the breaker.
      await waitFor(
        async () => {
          await cache.get('k').catch(() => undefined);
          return breaker.some((e) => e.state === 'open') && bus.some((e) => e.state === 'down');
        },
        { what: 'breaker open and bus down', timeoutMs: 15_000 },
      );
      await server.start();
      await waitFor(
        async () => {
          await cache.get('k').catch(() => undefined);
          return breaker.at(-1)?.state === 'closed' && bus.at(-1)?.state === 'up';
        },
        { what: 'breaker closed and bus up', timeoutMs: 15_000 },
      );
    } finally {
      diagnostics.unsubscribe(BREAKER_CHANNEL, onBreaker);
      diagnostics.unsubscribe(BUS_CHANNEL, onBus);
      await cache.close();
    }
    expect(breaker).toEqual(breakerChannel.slice(0, breaker.length));
    expect(bus).toEqual(busChannel.slice(0, bus.length));
    expect(breaker.map((e) => e.state)).toContain('half-open');
  });
});
