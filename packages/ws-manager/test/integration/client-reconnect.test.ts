import { waitFor } from '@cryptoscalp/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import { type StreamMessage, WebSocketManager } from '../../src/index.js';
import { FeedServer } from './helpers/feed-server.js';

const sub = (stream: string) => ({ method: 'SUBSCRIBE', params: [stream], id: 1 });

/** Asserts every delivered message continues the previous one (a snapshot resets the base). */
function assertContiguous(messages: StreamMessage[]): void {
  let base: number | undefined;
  for (const m of messages) {
    if (m.kind === 'snapshot') {
      base = m.sequence;
      continue;
    }
    if (base !== undefined) expect(m.sequence).toBe(base + 1);
    base = m.sequence;
  }
}

describe('WebSocketManager against a feed server that is killed and restarted', () => {
  const cleanup: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const fn of cleanup.splice(0).reverse()) await fn();
  });

  it('reconnects, restores subscriptions, detects the gap, resyncs once and delivers a contiguous sequence', async () => {
    const feed = await new FeedServer(5).start();
    cleanup.push(() => feed.stop());
    const manager = new WebSocketManager({
      exchanges: { sim: { endpoints: [feed.url()], limits: { messagesPerSecond: 100, messageBurst: 100 } } },
    });
    cleanup.push(() => manager.close());
    let resyncCalls = 0;
    let concurrentResyncs = 0;
    let maxConcurrent = 0;
    const conn = manager.connect('sim', {
      stream: (m) => (typeof m.stream === 'string' ? m.stream : undefined),
      sequence: (m) => m.u,
      timestamp: (m) => m.E,
      resync: async (stream) => {
        resyncCalls++;
        concurrentResyncs++;
        maxConcurrent = Math.max(maxConcurrent, concurrentResyncs);
        await new Promise((r) => setTimeout(r, 30));
        concurrentResyncs--;
        return { sequence: feed.seq(stream), message: { snapshot: feed.seq(stream) } };
      },
    });
    const states: string[] = [];
    conn.on('state', (s) => states.push(s.to));
    const gaps: number[] = [];
    conn.on('gap', (g) => gaps.push(g.expected));
    const messages: StreamMessage[] = [];
    conn.on('message', (m) => messages.push(m));
    const controls: unknown[] = [];
    conn.on('control', (m) => controls.push(m));
    await conn.subscribe('btcusdt@depth', sub('btcusdt@depth'));
    await conn.subscribe('ethusdt@depth', sub('ethusdt@depth'));

    await waitFor(() => messages.filter((m) => m.stream === 'btcusdt@depth' && m.kind === 'delta').length > 20, {
      what: 'first messages',
    });
    expect(controls.length).toBeGreaterThan(0);
    const resyncsBefore = resyncCalls; // the initial snapshot of each stream
    expect(resyncsBefore).toBe(2);

    await feed.kill();
    await waitFor(() => conn.state === 'reconnecting', { what: 'reconnecting state' });
    // the feed keeps running while down, so sequence numbers are lost
    const seqAtKill = feed.seq('btcusdt@depth');
    await waitFor(() => feed.seq('btcusdt@depth') > seqAtKill + 10, { what: 'downtime' });
    const requestsBefore = feed.subscribeRequests.length;
    await feed.start();
    await waitFor(() => conn.state === 'open', { what: 'reopen' });
    await waitFor(() => feed.subscribeRequests.length >= requestsBefore + 2, { what: 'restored subscriptions' });
    const restored = feed.subscribeRequests.slice(requestsBefore).map((r) => r.stream);
    expect(restored.sort()).toEqual(['btcusdt@depth', 'ethusdt@depth']);

    const countAfter = messages.length;
    await waitFor(() => messages.length > countAfter + 40 && resyncCalls >= 4, { what: 'messages after restart' });
    expect(gaps.length).toBeGreaterThanOrEqual(2);
    expect(maxConcurrent).toBeLessThanOrEqual(2); // at most one per stream
    expect(states).toEqual(['connecting', 'open', 'reconnecting', 'open']);

    for (const stream of ['btcusdt@depth', 'ethusdt@depth']) {
      const ofStream = messages.filter((m) => m.stream === stream);
      assertContiguous(ofStream);
      const deltas = ofStream.filter((m) => m.kind === 'delta').map((m) => m.sequence as number);
      expect(new Set(deltas).size).toBe(deltas.length);
    }
    const stats = conn.stats() as {
      reconnects: number;
      streams: Record<string, { gaps: number; resyncs: number; latencyMs?: { p99: number } }>;
    };
    expect(stats.reconnects).toBe(1);
    expect(stats.streams['btcusdt@depth']?.gaps).toBeGreaterThanOrEqual(1);
    expect(stats.streams['btcusdt@depth']?.resyncs).toBeGreaterThanOrEqual(2);
    expect(stats.streams['btcusdt@depth']?.latencyMs?.p99).toBeGreaterThanOrEqual(0);
    expect((await manager.healthCheck()).status).toBe('pass');
  });

  it('fails over to the second endpoint when the first is down, and reports health', async () => {
    const feed = await new FeedServer(5).start();
    cleanup.push(() => feed.stop());
    const dead = new FeedServer(5);
    await dead.start();
    const deadUrl = dead.url();
    await dead.stop();
    const manager = new WebSocketManager({
      exchanges: { sim: { endpoints: [deadUrl, feed.url()], limits: { messagesPerSecond: 100, messageBurst: 100 } } },
    });
    cleanup.push(() => manager.close());
    const conn = manager.connect('sim', { sequence: (m) => m.u });
    const seen: number[] = [];
    conn.on('message', (m) => {
      if (m.stream === 'a') seen.push(m.sequence as number);
    });
    await conn.subscribe('a', sub('a'));
    await waitFor(() => seen.length > 5, { what: 'messages via the failover endpoint' });
    expect(conn.endpoint).toBe(feed.url());
    const stats = manager.stats() as { exchanges: { sim: { endpoints: Record<string, { failures: number }> } } };
    expect(Object.values(stats.exchanges.sim.endpoints)[0]?.failures).toBeGreaterThanOrEqual(1);
    expect((conn.stats() as { failovers: number }).failovers).toBe(1);
    expect((await manager.healthCheck()).status).toBe('pass');
    await conn.close();
    await conn.close();
    expect(conn.state).toBe('closed');
  });

  it('fails over mid-stream when the serving endpoint dies, restoring subscriptions on the other one', async () => {
    const shared = new Map<string, number>();
    const a = await new FeedServer(5, shared).start();
    const b = await new FeedServer(5, shared).start();
    cleanup.push(() => a.stop());
    cleanup.push(() => b.stop());
    const manager = new WebSocketManager({
      exchanges: { sim: { endpoints: [a.url(), b.url()], limits: { messagesPerSecond: 100, messageBurst: 100 } } },
    });
    cleanup.push(() => manager.close());
    const conn = manager.connect('sim', {
      stream: (m) => (typeof m.stream === 'string' ? m.stream : undefined),
      sequence: (m) => m.u,
    });
    const seqs: number[] = [];
    const gaps: number[] = [];
    conn.on('message', (m) => seqs.push(m.sequence as number));
    conn.on('gap', (g) => gaps.push(g.expected));
    await conn.subscribe('x', sub('x'));
    await waitFor(() => seqs.length > 10);
    expect(conn.endpoint).toBe(a.url());
    await a.stop();
    await waitFor(() => conn.endpoint === b.url() && conn.state === 'open', { what: 'failover to b' });
    await waitFor(() => b.subscribeRequests.some((r) => r.stream === 'x'), { what: 'restored on b' });
    const before = seqs.length;
    await waitFor(() => seqs.length > before + 10, { what: 'messages from b' });
    for (let i = 1; i < seqs.length; i++) expect(seqs[i]).toBeGreaterThan(seqs[i - 1] as number);
    expect((conn.stats() as { failovers: number }).failovers).toBe(1);
  });
});
