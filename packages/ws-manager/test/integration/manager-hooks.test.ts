import diagnostics from 'node:diagnostics_channel';
import { uniqueName, waitFor } from '@cryptoscalp/testkit';
import { afterEach, describe, expect, expectTypeOf, it } from 'vitest';
import {
  GAP_CHANNEL,
  type GapInfo,
  type Hook,
  MALFORMED_CHANNEL,
  type MalformedInfo,
  RESYNC_CHANNEL,
  type ResyncInfo,
  STATE_CHANNEL,
  type StateChange,
  WebSocketManager,
} from '../../src/index.js';
import { FeedServer } from './helpers/feed-server.js';

describe('WebSocketManager hooks against a loopback feed', () => {
  const cleanup: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const fn of cleanup.splice(0).reverse()) await fn();
  });

  it('onStateChange, onOpen and onClose deliver the state channel payloads of every connection', async () => {
    const feed = await new FeedServer(5).start();
    cleanup.push(() => feed.stop());
    const name = uniqueName('wshooks');
    const manager = new WebSocketManager({ name, exchanges: { sim: { endpoints: [feed.url()] } } });
    cleanup.push(() => manager.close());
    expectTypeOf(manager.onStateChange).toEqualTypeOf<Hook<StateChange>>();
    const channel: StateChange[] = [];
    const onChannel = (m: unknown) => {
      if ((m as StateChange).component === name) channel.push(m as StateChange);
    };
    diagnostics.subscribe(STATE_CHANNEL, onChannel);
    cleanup.push(() => {
      diagnostics.unsubscribe(STATE_CHANNEL, onChannel);
    });
    const states: StateChange[] = [];
    const opened: string[] = [];
    const closed: string[] = [];
    manager.onStateChange((change) => states.push(change));
    manager.onOpen((change) => opened.push(change.connection));
    manager.onClose((change) => closed.push(change.connection));
    const first = manager.connect('sim');
    const second = manager.connect('sim');
    await waitFor(() => first.state === 'open' && second.state === 'open', { what: 'both open' });
    await first.close();
    expect(states).toEqual(channel);
    expect(states.filter((s) => s.connection === first.id).map((s) => s.to)).toEqual(['connecting', 'open', 'closed']);
    expect(opened.sort()).toEqual([first.id, second.id].sort());
    expect(closed).toEqual([first.id]);
  });

  it('a throwing listener is counted and reported on the connection, the others still run; dispose is idempotent', async () => {
    const feed = await new FeedServer(5).start();
    cleanup.push(() => feed.stop());
    const manager = new WebSocketManager({ exchanges: { sim: { endpoints: [feed.url()] } } });
    cleanup.push(() => manager.close());
    const bug = new Error('listener bug');
    manager.onOpen(() => {
      throw bug;
    });
    const opened: string[] = [];
    const sub = manager.onOpen((change) => opened.push(change.connection));
    const conn = manager.connect('sim');
    const errors: unknown[] = [];
    conn.on('error', (error) => errors.push(error));
    await waitFor(() => conn.state === 'open', { what: 'open' });
    expect(opened).toEqual([conn.id]);
    expect(errors).toEqual([bug]);
    expect(manager.stats()).toMatchObject({ hookListenerErrors: 1 });
    sub.dispose();
    sub.dispose();
    const later = manager.connect('sim');
    await waitFor(() => later.state === 'open', { what: 'second open' });
    expect(opened).toEqual([conn.id]);
    expect(manager.stats()).toMatchObject({ hookListenerErrors: 2 });
  });

  it('onMalformed delivers the malformed channel payload', async () => {
    const feed = await new FeedServer(5).start();
    cleanup.push(() => feed.stop());
    const name = uniqueName('wshooks');
    const manager = new WebSocketManager({ name, exchanges: { sim: { endpoints: [feed.url()] } } });
    cleanup.push(() => manager.close());
    const channel: MalformedInfo[] = [];
    const onChannel = (m: unknown) => {
      if ((m as MalformedInfo).component === name) channel.push(m as MalformedInfo);
    };
    diagnostics.subscribe(MALFORMED_CHANNEL, onChannel);
    cleanup.push(() => {
      diagnostics.unsubscribe(MALFORMED_CHANNEL, onChannel);
    });
    const malformed: MalformedInfo[] = [];
    manager.onMalformed((info) => malformed.push(info));
    const conn = manager.connect('sim');
    await waitFor(() => conn.state === 'open', { what: 'open' });
    feed.broadcastRaw('{not json');
    await waitFor(() => malformed.length > 0, { what: 'malformed' });
    expect(malformed[0]).toEqual({
      component: name,
      exchange: 'sim',
      connection: conn.id,
      endpoint: feed.url(),
      reason: 'decode',
      bytes: 9,
    });
    expect(malformed).toEqual(channel);
  });

  it('onGap and onResync name the connection and endpoint, as the channels do; only the one whose stream had the gap', async () => {
    const feed = await new FeedServer(5).start();
    cleanup.push(() => feed.stop());
    const name = uniqueName('wshooks');
    const manager = new WebSocketManager({
      name,
      exchanges: { sim: { endpoints: [feed.url()], limits: { messagesPerSecond: 200, messageBurst: 200 } } },
    });
    cleanup.push(() => manager.close());
    expectTypeOf(manager.onGap).toEqualTypeOf<Hook<GapInfo>>();
    expectTypeOf(manager.onResync).toEqualTypeOf<Hook<ResyncInfo>>();
    const gapChannel: GapInfo[] = [];
    const resyncChannel: ResyncInfo[] = [];
    const onGapChannel = (m: unknown) => {
      if ((m as GapInfo).component === name) gapChannel.push(m as GapInfo);
    };
    const onResyncChannel = (m: unknown) => {
      if ((m as ResyncInfo).component === name) resyncChannel.push(m as ResyncInfo);
    };
    diagnostics.subscribe(GAP_CHANNEL, onGapChannel);
    diagnostics.subscribe(RESYNC_CHANNEL, onResyncChannel);
    cleanup.push(() => {
      diagnostics.unsubscribe(GAP_CHANNEL, onGapChannel);
      diagnostics.unsubscribe(RESYNC_CHANNEL, onResyncChannel);
    });
    const gaps: GapInfo[] = [];
    const resyncs: ResyncInfo[] = [];
    manager.onGap((info) => gaps.push(info));
    manager.onResync((info) => resyncs.push(info));
    // The feed drops one frame of stream `g` once armed: a real hole in the sequence on the wire.
    let dropAt = Number.POSITIVE_INFINITY;
    feed.transform = (frames, stream) => (stream === 'g' && feed.seq(stream) === dropAt ? [] : frames);
    const options = {
      stream: (m: { stream?: unknown }) => (typeof m.stream === 'string' ? m.stream : undefined),
      sequence: (m: { u?: unknown }) => m.u as number,
      resync: async (stream: string) => ({ sequence: feed.seq(stream) }),
    };
    const withGap = manager.connect('sim', options);
    const without = manager.connect('sim', options);
    const received = new Map<string, number>();
    for (const conn of [withGap, without])
      conn.on('message', () => received.set(conn.id, (received.get(conn.id) ?? 0) + 1));
    await withGap.subscribe('g', { method: 'SUBSCRIBE', params: ['g'], id: 1 });
    await without.subscribe('h', { method: 'SUBSCRIBE', params: ['h'], id: 1 });
    // Each stream's first message starts a snapshot resync (phase start, then done).
    await waitFor(() => (received.get(withGap.id) ?? 0) > 5 && (received.get(without.id) ?? 0) > 5, {
      what: 'messages on both connections',
    });
    dropAt = feed.seq('g') + 3;
    await waitFor(() => gaps.length > 0 && resyncs.filter((r) => r.phase === 'done').length >= 3, {
      what: 'gap and its resync',
    });
    expect(gaps).toEqual(gapChannel);
    expect(resyncs).toEqual(resyncChannel);
    expect(gaps[0]).toMatchObject({
      component: name,
      exchange: 'sim',
      connection: withGap.id,
      endpoint: feed.url(),
      stream: 'g',
      expected: dropAt,
      received: dropAt + 1,
      resync: true,
    });
    expect(gaps.every((g) => g.connection === withGap.id)).toBe(true);
    // Snapshot resyncs of both connections, then the gap's on `withGap` only.
    const byConnection = (id: string) =>
      resyncs.filter((r) => r.connection === id).map((r) => `${r.stream}:${r.phase}`);
    expect(byConnection(without.id)).toEqual(['h:start', 'h:done']);
    expect(byConnection(withGap.id).slice(0, 4)).toEqual(['g:start', 'g:done', 'g:start', 'g:done']);
    expect(resyncs.every((r) => r.endpoint === feed.url())).toBe(true);
  });
});
