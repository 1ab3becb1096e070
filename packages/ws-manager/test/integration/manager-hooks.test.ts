import diagnostics from 'node:diagnostics_channel';
import { uniqueName, waitFor } from '@cryptoscalp/testkit';
import { afterEach, describe, expect, expectTypeOf, it } from 'vitest';
import {
  type Hook,
  MALFORMED_CHANNEL,
  type MalformedInfo,
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
    expect(malformed[0]).toMatchObject({ component: name, exchange: 'sim', reason: 'decode' });
    expect(malformed).toEqual(channel);
  });
});
