import { waitFor } from '@cryptoscalp/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import { type HubBroker, StreamHub, type StreamHubOptions } from '../../src/hub.js';
import { TestHubClient } from './helpers/hub-client.js';

/** One record of the durable log: a gapless offset, the topic it belongs to, and its data. */
interface LogRecord {
  offset: number;
  topic: string;
  data: { n: number };
}

/** A log whose records go to `book` (two of three) and `fills` (every third): each topic sees sparse offsets. */
function makeLog(count: number): LogRecord[] {
  return Array.from({ length: count }, (_, i) => {
    const offset = i + 1;
    return { offset, topic: offset % 3 === 0 ? 'fills' : 'book', data: { n: offset } };
  });
}

const EPOCH = 'log-2024-01';

/** Offsets of a topic's records in `(after, upTo]`. */
function offsetsOf(log: LogRecord[], topic: string, after: number, upTo: number): number[] {
  return log.filter((r) => r.topic === topic && r.offset > after && r.offset <= upTo).map((r) => r.offset);
}

/** Publishes log records `(from, to]` into a hub, with their offsets. */
function feed(hub: StreamHub, log: LogRecord[], from: number, to: number): void {
  for (const r of log) if (r.offset > from && r.offset <= to) hub.publish(r.topic, r.data, { offset: r.offset });
}

type Stats = Record<string, number>;

describe('StreamHub fed from a durable log (explicit offsets, fixed epoch)', () => {
  const cleanup: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const fn of cleanup.splice(0).reverse()) await fn();
  });

  async function startHub(options: Partial<StreamHubOptions> = {}): Promise<{ hub: StreamHub; url: string }> {
    const hub = new StreamHub({ port: 0, epoch: EPOCH, ...options } as StreamHubOptions);
    cleanup.push(() => hub.close());
    await hub.ready();
    return { hub, url: `ws://127.0.0.1:${hub.address()?.port}` };
  }

  async function client(url: string): Promise<TestHubClient> {
    const c = await TestHubClient.connect(url);
    cleanup.push(() => c.close());
    return c;
  }

  /** Quiet period: lets anything unexpected (a duplicate, a late frame) arrive before asserting it did not. */
  const settle = () => new Promise((r) => setTimeout(r, 100));

  it('a client moved from a closed hub to another hub of the same log gets exactly what it missed', async () => {
    const log = makeLog(90);
    const a = await startHub();
    const b = await startHub();
    feed(a.hub, log, 0, 20);
    feed(b.hub, log, 0, 20);

    const onA = await client(a.url);
    const sub = await onA.subscribe('fills');
    expect(sub).toMatchObject({ epoch: EPOCH, offset: 18 });
    feed(a.hub, log, 20, 40);
    feed(b.hub, log, 20, 40);
    await waitFor(() => onA.messages('fills').length === offsetsOf(log, 'fills', 18, 40).length);
    // A goes away (a gateway restart or crash); the log keeps growing and B keeps being fed.
    feed(a.hub, log, 40, 45);
    feed(b.hub, log, 40, 45);
    await a.hub.close();
    await waitFor(() => onA.closeCode !== undefined);
    expect(onA.closeCode).toBe(1001);
    feed(b.hub, log, 45, 70);

    const fromA = onA.messages('fills');
    const last = fromA.at(-1) as { offset: number; epoch: string };
    expect(last.epoch).toBe(EPOCH);
    const onB = await client(b.url);
    const resumed = await onB.subscribe('fills', { offset: last.offset, epoch: last.epoch });
    expect(resumed.offset).toBe(69);
    await waitFor(() => onB.messages('fills').length === offsetsOf(log, 'fills', last.offset, 70).length);
    feed(b.hub, log, 70, 90); // live messages follow the replay
    const all = () => [...fromA, ...onB.messages('fills')].map((m) => m.offset);
    await waitFor(() => all().length === offsetsOf(log, 'fills', 18, 90).length);
    await settle();
    expect(all()).toEqual(offsetsOf(log, 'fills', 18, 90)); // none lost, none twice, in order
    for (const m of onB.messages('fills')) expect((m.data as { n: number }).n).toBe(m.offset);
    expect(onB.received.some((m) => m.type === 'resnapshot')).toBe(false);
    expect((b.hub.stats() as Stats).resumes).toBe(1);
  });

  it('a restarted hub replays the log before accepting clients; replayed duplicates are dropped and counted', async () => {
    const log = makeLog(60);
    const first = await startHub();
    feed(first.hub, log, 0, 30);
    const c1 = await client(first.url);
    await c1.subscribe('book', { offset: 0, epoch: EPOCH });
    await waitFor(() => c1.messages('book').length === 20); // resume from 0: the whole history
    await first.hub.close();

    // The new process (new instance, new port) replays the whole log, then a feeder retry replays the tail again.
    const restarted = await startHub();
    feed(restarted.hub, log, 0, 45);
    expect(restarted.hub.publish('book', { n: 44 }, { offset: 44 })).toBe(44);
    expect(restarted.hub.publish('book', { n: 40 }, { offset: 40 })).toBe(44); // duplicate: the current offset back
    expect(restarted.hub.publish('fills', { n: 3 }, { offset: 3 })).toBe(45);
    feed(restarted.hub, log, 40, 45); // 5 more duplicates
    expect(restarted.hub.stats()).toMatchObject({ duplicatesDropped: 8, published: 45 });

    const last = c1.messages('book').at(-1) as { offset: number; epoch: string };
    expect(last.offset).toBe(29);
    const c2 = await client(restarted.url);
    await c2.subscribe('book', { offset: last.offset, epoch: last.epoch });
    await waitFor(() => c2.messages('book').length === offsetsOf(log, 'book', 29, 45).length);
    await settle();
    expect(c2.messages('book').map((m) => m.offset)).toEqual(offsetsOf(log, 'book', 29, 45));
    expect(c2.received.some((m) => m.type === 'resnapshot')).toBe(false);
  });

  it('resumes from any offset between sparse records, and resnapshots when history does not reach back', async () => {
    const log = makeLog(60);
    const { hub, url } = await startHub({ history: { maxMessages: 5 } });
    feed(hub, log, 0, 60); // fills: 3, 6, ..., 60; the ring keeps 48, 51, 54, 57, 60
    const between = await client(url);
    await between.subscribe('fills', { offset: 46, epoch: EPOCH }); // 46 is a `book` record: after 45, known
    await waitFor(() => between.messages('fills').length === 5);
    expect(between.messages('fills').map((m) => m.offset)).toEqual([48, 51, 54, 57, 60]);

    const tooOld = await client(url);
    tooOld.send({ op: 'subscribe', topic: 'fills', offset: 44, epoch: EPOCH, id: 'r' });
    const resnap = await tooOld.waitFor((m) => m.type === 'resnapshot');
    expect(resnap).toMatchObject({ topic: 'fills', epoch: EPOCH, offset: 60, id: 'r' });
    hub.publish('fills', { n: 63 }, { offset: 63 });
    await waitFor(() => tooOld.messages('fills').length === 1);
    expect(tooOld.messages('fills')[0]?.offset).toBe(63);

    const otherLog = await client(url);
    otherLog.send({ op: 'subscribe', topic: 'fills', offset: 60, epoch: 'log-2023-12' });
    await otherLog.waitFor((m) => m.type === 'resnapshot');
    expect((hub.stats() as Stats).resnapshots).toBe(2);
  });

  it('a hub fed from the middle of the log knows each topic only from its first record', async () => {
    const log = makeLog(60);
    const { hub, url } = await startHub();
    feed(hub, log, 31, 60); // replay from a checkpoint: first fills record 33, first book record 32
    const before = await client(url);
    before.send({ op: 'subscribe', topic: 'fills', offset: 30, epoch: EPOCH });
    await before.waitFor((m) => m.type === 'resnapshot'); // 31 and 32 were not seen here: fills may have had one
    const atStart = await client(url);
    await atStart.subscribe('fills', { offset: 32, epoch: EPOCH });
    await waitFor(() => atStart.messages('fills').length === offsetsOf(log, 'fills', 32, 60).length);
    expect(atStart.messages('fills').map((m) => m.offset)).toEqual(offsetsOf(log, 'fills', 32, 60));
  });

  it('holds a client ahead of a hub that has not caught up, instead of a resnapshot', async () => {
    const log = makeLog(60);
    const { hub, url } = await startHub();
    feed(hub, log, 0, 10);
    const ahead = await client(url);
    const sub = await ahead.subscribe('fills', { offset: 21, epoch: EPOCH }); // it got fills 21 on a faster hub
    expect(sub.offset).toBe(21); // its own offset: what follows comes after it
    expect(hub.stats()).toMatchObject({ resumesHeld: 1, resumesWaiting: 1, subscriptions: 1 });
    feed(hub, log, 10, 21);
    await settle();
    expect(ahead.messages('fills')).toEqual([]); // 12, 15, 18, 21: it has them
    feed(hub, log, 21, 40);
    await waitFor(() => ahead.messages('fills').length === offsetsOf(log, 'fills', 21, 40).length);
    expect(ahead.messages('fills').map((m) => m.offset)).toEqual(offsetsOf(log, 'fills', 21, 40));
    expect(ahead.received.some((m) => m.type === 'resnapshot')).toBe(false);
    expect(hub.stats()).toMatchObject({ resumesHeld: 1, resumesWaiting: 0, resumes: 1, resnapshots: 0 });

    // Held on a hub that is then fed from after the client's offset: it cannot know what was in between.
    const { hub: late, url: lateUrl } = await startHub();
    const early = await client(lateUrl);
    early.send({ op: 'subscribe', topic: 'fills', offset: 21, epoch: EPOCH, id: 5 });
    await early.waitFor((m) => m.type === 'subscribed' && m.offset === 21);
    const gone = await client(lateUrl);
    await gone.subscribe('fills', { offset: 30, epoch: EPOCH });
    await gone.close(); // a held client that leaves is forgotten
    await waitFor(() => (late.stats() as Stats).resumesWaiting === 1);
    feed(late, log, 40, 60);
    const resnap = await early.waitFor((m) => m.type === 'resnapshot');
    expect(resnap).toMatchObject({ topic: 'fills', epoch: EPOCH, offset: 42, id: 5 });
    await waitFor(() => early.messages('fills').length === offsetsOf(log, 'fills', 42, 60).length);
    expect(early.messages('fills').map((m) => m.offset)).toEqual(offsetsOf(log, 'fills', 42, 60));
    expect(late.stats()).toMatchObject({ resumesHeld: 2, resumesWaiting: 0, resnapshots: 1 });
  });

  it('an evicted topic is known again only from its next record, even for a client at offset 0', async () => {
    const { hub, url } = await startHub({ maxTopics: 2 });
    hub.publish('t', 'a', { offset: 5 });
    hub.publish('u', 'b', { offset: 6 });
    hub.publish('v', 'c', { offset: 7 }); // evicts `t` with its history
    hub.publish('w', 'd', { offset: 9 }); // evicts `u`
    expect((hub.stats() as Stats).topicsEvicted).toBe(2);
    const zero = await client(url);
    const sub = await zero.subscribe('t', { offset: 0, epoch: EPOCH }); // an empty `t` again: held
    expect(sub.offset).toBe(0);
    const upToDate = await client(url);
    await upToDate.subscribe('t', { offset: 5, epoch: EPOCH });
    const next = await client(url);
    await next.subscribe('t', { offset: 10, epoch: EPOCH });
    expect((hub.stats() as Stats).resumesWaiting).toBe(3);
    hub.publish('t', 'e', { offset: 11 });
    await zero.waitFor((m) => m.type === 'resnapshot' && m.offset === 11); // record 5 was lost with the eviction
    await upToDate.waitFor((m) => m.type === 'resnapshot' && m.offset === 11); // 6..10 were not seen for `t`
    await waitFor(() => next.messages('t').length === 1); // 11 follows 10 directly: nothing can be missing
    expect(next.messages('t')[0]).toMatchObject({ offset: 11, data: 'e' });
    expect(next.received.some((m) => m.type === 'resnapshot')).toBe(false);
    hub.publish('t', 'f', { offset: 12 });
    await waitFor(() => [zero, upToDate, next].every((c) => c.messages('t').at(-1)?.offset === 12));
  });

  it('without a fixed epoch a client ahead still gets resnapshot, and a local offset follows the current one', async () => {
    const { hub, url } = await startHub({ epoch: undefined });
    expect(hub.publish('t', 'a', { offset: 10 })).toBe(10);
    expect(hub.publish('t', 'b')).toBe(11); // local: current + 1
    expect(hub.publish('t', 'c', { offset: 11 })).toBe(11); // now a duplicate
    expect(hub.publish('t', 'd', { offset: 15 })).toBe(15);
    const c = await client(url);
    const sub = await c.subscribe('t');
    expect(sub.epoch).not.toBe(EPOCH);
    c.send({ op: 'subscribe', topic: 't', offset: 20, epoch: sub.epoch });
    await c.waitFor((m) => m.type === 'resnapshot');
    c.send({ op: 'subscribe', topic: 't', offset: 10, epoch: sub.epoch });
    await waitFor(() => c.messages('t').length === 2);
    expect(c.messages('t').map((m) => [m.offset, m.data])).toEqual([
      [11, 'b'],
      [15, 'd'],
    ]);
    for (const offset of [0, -1, 1.5, Number.NaN, 2 ** 53, '12']) {
      expect(() => hub.publish('t', 'x', { offset: offset as number })).toThrow(
        expect.objectContaining({ code: 'E_WS_INVALID_OPTION', field: 'offset' }),
      );
    }
  });

  it('hubs sharing a broker and fed the same records deliver each record once', async () => {
    const handlers: Array<(topic: string, payload: string) => void> = [];
    const payloads: string[] = [];
    const broker = (): HubBroker => ({
      publish: (topic, payload) => {
        payloads.push(payload);
        queueMicrotask(() => {
          for (const h of handlers) h(topic, payload);
        });
      },
      subscribe: (handler) => {
        handlers.push(handler);
      },
      close: async () => {},
    });
    const log = makeLog(30);
    const a = await startHub({ broker: broker() });
    const b = await startHub({ broker: broker() });
    const onA = await client(a.url);
    const onB = await client(b.url);
    await onA.subscribe('book');
    await onB.subscribe('book');
    // Both gateways read the log; each also receives the other's copy through the broker.
    for (const r of log) {
      a.hub.publish(r.topic, r.data, { offset: r.offset });
      b.hub.publish(r.topic, r.data, { offset: r.offset });
    }
    await waitFor(() => onA.messages('book').length === 20 && onB.messages('book').length === 20);
    await settle();
    for (const c of [onA, onB]) expect(c.messages('book').map((m) => m.offset)).toEqual(offsetsOf(log, 'book', 0, 30));
    expect(payloads[0]).toBe(`${a.hub.instanceId} 1\n{"n":1}`);
    expect(a.hub.stats()).toMatchObject({ published: 30, duplicatesDropped: 30, brokerIn: 30, brokerOut: 30 });

    // A hub of an older version sends no offset: numbered locally. A malformed offset is a broker error.
    for (const h of handlers) h('legacy', 'other-hub\n{"v":1}');
    for (const h of handlers) h('legacy', 'other-hub 1.5\n{"v":2}');
    await waitFor(() => (a.hub.stats() as Stats).brokerErrors === 1);
    const legacy = await client(a.url);
    await legacy.subscribe('legacy', { offset: 0, epoch: EPOCH });
    await waitFor(() => legacy.messages('legacy').length === 1);
    expect(legacy.messages('legacy')[0]).toMatchObject({ offset: 1, data: { v: 1 } });
  });
});
