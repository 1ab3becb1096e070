import { waitFor } from '@cryptoscalp/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import { StreamHub, type StreamHubOptions } from '../../src/index.js';
import { TestHubClient } from './helpers/hub-client.js';

type Socketish = { _socket: { pause(): void; resume(): void } };
const pause = (c: TestHubClient) => (c.ws as unknown as Socketish)._socket.pause();
const resume = (c: TestHubClient) => (c.ws as unknown as Socketish)._socket.resume();

describe('StreamHub slow consumers', () => {
  const cleanup: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const fn of cleanup.splice(0).reverse()) await fn();
  });

  async function setup(options: Partial<StreamHubOptions>) {
    n = 0;
    const hub = new StreamHub({
      port: 0,
      maxBufferedBytes: 64 * 1024,
      heartbeatIntervalMs: 0,
      ...options,
    } as StreamHubOptions);
    cleanup.push(() => hub.close());
    await hub.ready();
    const url = `ws://127.0.0.1:${hub.address()?.port}`;
    const slow = await TestHubClient.connect(url);
    const fast = await TestHubClient.connect(url);
    cleanup.push(async () => {
      slow.ws.terminate();
      fast.ws.terminate();
    });
    for (const c of [slow, fast]) {
      await c.subscribe('a');
      await c.subscribe('b');
    }
    pause(slow);
    return { hub, slow, fast };
  }

  /** Publishes until the hub reports the slow client hit the bound (kernel buffers fill first). */
  let n = 0;
  async function flood(hub: StreamHub, until: () => boolean): Promise<number> {
    const pad = 'x'.repeat(8 * 1024);
    while (!until() && n < 20_000) {
      for (let i = 0; i < 50; i++) {
        n++;
        hub.publish(n % 2 === 0 ? 'a' : 'b', { n, pad });
      }
      await new Promise((r) => setImmediate(r));
    }
    return n;
  }

  it("'conflate' keeps the latest message per topic, bounded, and flushes it when the socket drains", async () => {
    const { hub, slow, fast } = await setup({ slowConsumer: 'conflate' });
    const stats = () =>
      hub.stats() as { conflated: number; conflatingClients: number; slowConsumerConflations: number };
    await flood(hub, () => stats().conflated > 200);
    expect(stats().conflatingClients).toBe(1);
    // keep publishing: the slow client's backlog does not grow (only one pending frame per topic)
    expect(await flood(hub, () => false)).toBe(20_000);
    const lastA = 20_000;
    const lastB = 19_999;
    await waitFor(() => fast.messages().length >= 20_000, {
      what: 'fast client gets everything',
      timeoutMs: 30_000,
    });
    resume(slow);
    await waitFor(
      () => {
        const ms = slow.messages();
        return (
          ms.some((m) => (m.data as { n: number }).n === lastA) && ms.some((m) => (m.data as { n: number }).n === lastB)
        );
      },
      { what: 'latest values flushed', timeoutMs: 30_000 },
    );
    for (const topic of ['a', 'b']) {
      const offsets = slow.messages(topic).map((m) => m.offset as number);
      for (let i = 1; i < offsets.length; i++) expect(offsets[i]).toBeGreaterThan(offsets[i - 1] as number);
    }
    expect(slow.messages().length).toBeLessThan(20_000);
    expect(fast.messages()).toHaveLength(20_000);
    await waitFor(() => stats().conflatingClients === 0);
  });

  it("'disconnect' closes the slow client with the configured close code and keeps serving the others", async () => {
    const { hub, slow, fast } = await setup({ slowConsumer: 'disconnect', slowConsumerCloseCode: 4008 });
    await flood(hub, () => (hub.stats() as { slowConsumerDisconnects: number }).slowConsumerDisconnects > 0);
    resume(slow);
    await waitFor(() => slow.closeCode !== undefined, { what: 'slow client closed' });
    expect(slow.closeCode).toBe(4008);
    const before = fast.messages().length;
    hub.publish('a', { n: -1 });
    await waitFor(() => fast.messages().length > before);
    expect((hub.stats() as { clients: number }).clients).toBe(1);
  });
});
