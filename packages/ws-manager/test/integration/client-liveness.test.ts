import diagnostics from 'node:diagnostics_channel';
import { waitFor } from '@cryptoscalp/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import { STATE_CHANNEL, type StateChange, WebSocketManager } from '../../src/index.js';
import { FeedServer } from './helpers/feed-server.js';

const sub = (stream: string) => ({ method: 'SUBSCRIBE', params: [stream], id: 1 });
const unsub = (stream: string) => ({ method: 'UNSUBSCRIBE', params: [stream], id: 2 });

describe('ManagedConnection liveness, rotation and budgets', () => {
  const cleanup: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const fn of cleanup.splice(0).reverse()) await fn();
  });

  async function setup(limits = { messagesPerSecond: 200, messageBurst: 200 }) {
    const feed = await new FeedServer(5).start();
    cleanup.push(() => feed.stop());
    const manager = new WebSocketManager({ exchanges: { sim: { endpoints: [feed.url()], limits } } });
    cleanup.push(() => manager.close());
    return { feed, manager };
  }

  it('resubscribes a quiet stream alone after the idle timeout', async () => {
    const { feed, manager } = await setup();
    const conn = manager.connect('sim', { sequence: (m) => m.u, idleTimeoutMs: 150 });
    await conn.subscribe('loud', sub('loud'), unsub('loud'));
    await conn.subscribe('quiet', sub('quiet'), unsub('quiet'));
    feed.muted.add('quiet');
    await waitFor(() => feed.subscribeRequests.filter((r) => r.stream === 'quiet').length >= 3, {
      what: 'resubscribes',
    });
    expect(feed.subscribeRequests.filter((r) => r.stream === 'loud')).toHaveLength(1);
    const streams = (conn.stats() as { streams: Record<string, { idleResubscribes: number }> }).streams;
    expect(streams.quiet?.idleResubscribes).toBeGreaterThanOrEqual(2);
    expect(streams.loud?.idleResubscribes).toBe(0);
    expect(conn.state).toBe('open');
  });

  it('replaces a socket whose pongs stop (heartbeat timeout) and publishes state changes', async () => {
    const { feed, manager } = await setup();
    const changes: StateChange[] = [];
    const listener = (m: unknown) => changes.push(m as StateChange);
    diagnostics.subscribe(STATE_CHANNEL, listener);
    cleanup.push(async () => {
      diagnostics.unsubscribe(STATE_CHANNEL, listener);
    });
    const conn = manager.connect('sim', { sequence: (m) => m.u, heartbeat: { intervalMs: 40, timeoutMs: 80 } });
    await conn.subscribe('h', sub('h'));
    await waitFor(() => conn.state === 'open');
    feed.muted.add('h');
    feed.pauseClients();
    await waitFor(() => (conn.stats() as { heartbeatTimeouts: number }).heartbeatTimeouts >= 1, {
      what: 'heartbeat timeout',
    });
    feed.muted.delete('h');
    await waitFor(() => (conn.stats() as { reconnects: number }).reconnects >= 1 && conn.state === 'open', {
      what: 'reconnect',
    });
    const mine = changes.filter((c) => c.exchange === 'sim').map((c) => c.to);
    expect(mine.slice(0, 4)).toEqual(['connecting', 'open', 'reconnecting', 'open']);
  });

  it('rotates make-before-break without duplicates or gaps (manual, lifetime and shutdown notice)', async () => {
    const { feed, manager } = await setup();
    const conn = manager.connect('sim', {
      sequence: (m) => m.u,
      rotationOverlapMs: 150,
      maxConnectionLifetimeMs: 600,
      stream: (m) => (typeof m.stream === 'string' ? m.stream : undefined),
      shutdownNotice: (m) => m.event === 'serverShutdown',
    });
    const seqs: number[] = [];
    const states: string[] = [];
    conn.on('state', (s) => states.push(s.to));
    conn.on('message', (m) => seqs.push(m.sequence as number));
    await conn.subscribe('rot', sub('rot'));
    await waitFor(() => seqs.length > 10);
    expect(await conn.rotate()).toBe(true);
    expect(feed.connections).toBe(2);
    await waitFor(() => feed.clientCount() === 1, { what: 'old socket closed' });
    await waitFor(() => (conn.stats() as { rotations: number }).rotations >= 2, { what: 'lifetime rotation' });
    feed.broadcastRaw(JSON.stringify({ event: 'serverShutdown' }));
    await waitFor(() => (conn.stats() as { rotations: number }).rotations >= 3, { what: 'notice rotation' });
    const before = seqs.length;
    await waitFor(() => seqs.length > before + 20);
    for (let i = 1; i < seqs.length; i++) expect(seqs[i]).toBe((seqs[i - 1] as number) + 1);
    const stats = conn.stats() as { reconnects: number; streams: Record<string, { duplicatesDropped: number }> };
    expect(stats.streams.rot?.duplicatesDropped).toBeGreaterThan(0);
    expect(stats.reconnects).toBe(0);
    expect(states).toEqual(['connecting', 'open']);
  });

  it('paces subscribe messages through the shared per-exchange budget', async () => {
    const { feed, manager } = await setup({ messagesPerSecond: 10, messageBurst: 2 });
    const a = manager.connect('sim', { sequence: (m) => m.u });
    const b = manager.connect('sim', { sequence: (m) => m.u });
    await waitFor(() => a.state === 'open' && b.state === 'open');
    const started = Date.now();
    await Promise.all(
      ['1', '2', '3'].flatMap((s) => [a.subscribe(`a${s}`, sub(`a${s}`)), b.subscribe(`b${s}`, sub(`b${s}`))]),
    );
    await waitFor(() => feed.subscribeRequests.length === 6);
    // 2 immediately, then 4 more at 10/s: at least ~400 ms in total across both connections
    expect(Date.now() - started).toBeGreaterThanOrEqual(350);
    const stats = manager.stats() as { exchanges: { sim: { messageWaits: number } } };
    expect(stats.exchanges.sim.messageWaits).toBeGreaterThanOrEqual(4);
    // a subscribe stuck behind the budget can be abandoned with a signal; the subscription is withdrawn
    await Promise.all([a.subscribe('c1', sub('c1')), a.subscribe('c2', sub('c2'))]);
    await expect(
      a.subscribe('late', sub('late'), undefined, { signal: AbortSignal.timeout(20) }),
    ).rejects.toMatchObject({
      code: 'E_WS_ABORTED',
    });
    expect(a.streams).not.toContain('late');
    const aborted = new AbortController();
    aborted.abort();
    await expect(a.send({ method: 'LIST_SUBSCRIPTIONS' }, { signal: aborted.signal })).rejects.toMatchObject({
      code: 'E_WS_ABORTED',
    });
  });

  it('paces new connections through the shared per-exchange connect budget', async () => {
    const feed = await new FeedServer(5).start();
    cleanup.push(() => feed.stop());
    const manager = new WebSocketManager({
      exchanges: { sim: { endpoints: [feed.url()], limits: { connectsPerSecond: 5, connectBurst: 1 } } },
    });
    cleanup.push(() => manager.close());
    const started = Date.now();
    const conns = [1, 2, 3].map(() => manager.connect('sim', { heartbeat: false }));
    await waitFor(() => conns.every((c) => c.state === 'open'), { what: 'all open' });
    // 1 at once, then one per 200 ms
    expect(Date.now() - started).toBeGreaterThanOrEqual(350);
    const stats = manager.stats() as { open: number; exchanges: { sim: { connectWaits: number } } };
    expect(stats.exchanges.sim.connectWaits).toBe(2);
    expect(stats.open).toBe(3);
  });
});
