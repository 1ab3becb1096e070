import { waitFor } from '@cryptoscalp/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import { StreamHub, type StreamHubOptions } from '../../src/hub.js';
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

  type OversizeStats = {
    conflatingClients: number;
    oversizedFrames: number;
    slowConsumerConflations: number;
    slowConsumerDisconnects: number;
    conflated: number;
  };

  it.each(['conflate', 'disconnect'] as const)(
    "'%s': a frame larger than maxBufferedBytes reaches a healthy client, and deltas right behind it are not penalised",
    async (policy) => {
      const hub = new StreamHub({ port: 0, maxBufferedBytes: 64 * 1024, heartbeatIntervalMs: 0, slowConsumer: policy });
      cleanup.push(() => hub.close());
      await hub.ready();
      const c = await TestHubClient.connect(`ws://127.0.0.1:${hub.address()?.port}`);
      cleanup.push(() => c.close());
      await c.subscribe('snap');
      // 8 MiB: more than the kernel's largest send buffer here (4 MiB), so most of it stays queued in the process
      // while the deltas are published.
      const big = 'y'.repeat(8 * 1024 * 1024);
      hub.publish('snap', { kind: 'snapshot', big });
      for (let i = 1; i <= 20; i++) hub.publish('snap', { kind: 'delta', i });
      await waitFor(() => c.messages('snap').length === 21, {
        what: 'snapshot and deltas delivered',
        timeoutMs: 20_000,
      });
      const received = c.messages('snap');
      expect(received.map((m) => m.offset)).toEqual(Array.from({ length: 21 }, (_, i) => i + 1));
      expect((received[0] as { data: { big: string } }).data.big).toHaveLength(big.length);
      const stats = hub.stats() as OversizeStats;
      expect(stats.oversizedFrames).toBe(1);
      expect(stats.slowConsumerDisconnects).toBe(0);
      expect(stats.conflated).toBe(0);
      expect(c.closeCode).toBeUndefined();
      expect(stats.conflatingClients).toBe(0);
    },
  );

  it("'conflate': an oversized latest value is held (one per topic) while the client is slow and flushed once it drains", async () => {
    const { hub, slow, fast } = await setup({ slowConsumer: 'conflate' });
    const stats = () => hub.stats() as OversizeStats;
    await flood(hub, () => stats().conflatingClients === 1);
    // While the slow client is stuck, snapshots larger than the whole bound keep replacing each other on 'a'.
    const big = 'z'.repeat(256 * 1024);
    const conflatedBefore = stats().conflated;
    for (let i = 1; i <= 20; i++) hub.publish('a', { snapshot: i, big });
    expect(stats().conflated).toBeGreaterThanOrEqual(conflatedBefore + 19);
    hub.publish('b', { n: -2 });
    await waitFor(() => fast.messages().some((m) => (m.data as { snapshot?: number }).snapshot === 20), {
      what: 'fast client gets the last snapshot',
      timeoutMs: 30_000,
    });
    resume(slow);
    await waitFor(
      () =>
        slow.messages('a').some((m) => (m.data as { snapshot?: number }).snapshot === 20) &&
        slow.messages('b').some((m) => (m.data as { n?: number }).n === -2),
      { what: 'slow client gets the latest oversized snapshot and the latest b', timeoutMs: 30_000 },
    );
    // Conflated: it never saw the intermediate snapshots, only the last one.
    expect(slow.messages('a').filter((m) => (m.data as { snapshot?: number }).snapshot !== undefined)).toHaveLength(1);
    await waitFor(() => stats().conflatingClients === 0, { what: 'conflation ends' });
    expect(stats().oversizedFrames).toBeGreaterThanOrEqual(1);
    // back to live delivery
    hub.publish('a', { n: -3 });
    await waitFor(() => slow.messages('a').some((m) => (m.data as { n?: number }).n === -3), { what: 'live again' });
  });

  it("'disconnect': the allowance for a big frame in flight is one frame, not a licence to queue more of them", async () => {
    const hub = new StreamHub({
      port: 0,
      maxBufferedBytes: 64 * 1024,
      heartbeatIntervalMs: 0,
      slowConsumer: 'disconnect',
    });
    cleanup.push(() => hub.close());
    await hub.ready();
    const c = await TestHubClient.connect(`ws://127.0.0.1:${hub.address()?.port}`);
    cleanup.push(async () => c.ws.terminate());
    await c.subscribe('snap');
    pause(c);
    const big = 'w'.repeat(8 * 1024 * 1024);
    // Published back to back: the second one finds most of the first still queued (> 4 MiB kernel send buffer).
    hub.publish('snap', { snapshot: 1, big });
    hub.publish('snap', { snapshot: 2, big });
    const stats = hub.stats() as OversizeStats;
    expect(stats.oversizedFrames).toBe(1);
    expect(stats.slowConsumerDisconnects).toBe(1);
    resume(c);
    await waitFor(() => c.closeCode !== undefined, { what: 'closed as a slow consumer', timeoutMs: 20_000 });
    // 4008 once the queued 8 MiB is read; 1006 if a very busy machine made that take longer than the 2 s grace
    expect([4008, 1006]).toContain(c.closeCode);
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
