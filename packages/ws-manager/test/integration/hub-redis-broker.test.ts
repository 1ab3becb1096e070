import { serviceUrls, uniqueName, waitFor } from '@cryptoscalp/testkit';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { RedisBroker, StreamHub } from '../../src/hub.js';
import { TestHubClient } from './helpers/hub-client.js';

describe('RedisBroker between two hubs', () => {
  const cleanup: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const fn of cleanup.splice(0).reverse()) await fn();
  });

  it('delivers a message published on one hub to subscribers of the other, once', async () => {
    const prefix = `${uniqueName('hub')}:`;
    const redisA = new Redis(serviceUrls.redis);
    const redisB = new Redis(serviceUrls.redis);
    cleanup.push(async () => {
      await redisA.quit();
      await redisB.quit();
    });
    const hubA = new StreamHub({ port: 0, broker: new RedisBroker({ client: redisA, channelPrefix: prefix }) });
    const hubB = new StreamHub({ port: 0, broker: new RedisBroker({ client: redisB, channelPrefix: prefix }) });
    cleanup.push(() => hubA.close());
    cleanup.push(() => hubB.close());
    await Promise.all([hubA.ready(), hubB.ready()]);
    const onA = await TestHubClient.connect(`ws://127.0.0.1:${hubA.address()?.port}`);
    const onB = await TestHubClient.connect(`ws://127.0.0.1:${hubB.address()?.port}`);
    cleanup.push(() => onA.close());
    cleanup.push(() => onB.close());
    await onA.subscribe('ticker');
    await onB.subscribe('ticker');
    for (let i = 1; i <= 20; i++) hubA.publish('ticker', { i });
    hubB.publish('ticker', { i: 21 });
    await waitFor(() => onA.messages().length === 21 && onB.messages().length === 21, { what: 'both hubs deliver' });
    // Messages of one origin keep their order; the two origins interleave.
    const fromA = Array.from({ length: 20 }, (_, i) => i + 1);
    for (const c of [onA, onB]) {
      const values = c.messages().map((m) => (m.data as { i: number }).i);
      expect(values.filter((i) => i !== 21)).toEqual(fromA);
      expect(values).toContain(21);
    }
    const statsB = hubB.stats() as { brokerIn: number; brokerOut: number };
    expect(statsB.brokerIn).toBe(20);
    expect(statsB.brokerOut).toBe(1);
    // no duplicates from the echo of one's own publish
    await new Promise((r) => setTimeout(r, 50));
    expect(onA.messages()).toHaveLength(21);
    expect(() => new RedisBroker({ client: {} as never })).toThrow(/client/);
  });
});
