import diagnostics from 'node:diagnostics_channel';
import { waitFor } from '@cryptoscalp/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import { MALFORMED_CHANNEL, type MalformedInfo, type StreamMessage, WebSocketManager } from '../../src/index.js';
import { FeedServer } from './helpers/feed-server.js';

const stream = (m: { stream?: unknown }) => (typeof m.stream === 'string' ? m.stream : undefined);
const sub = (stream: string) => ({ method: 'SUBSCRIBE', params: [stream], id: 1 });

function expectContiguous(seqs: number[]): void {
  for (let i = 1; i < seqs.length; i++) expect(seqs[i]).toBe((seqs[i - 1] as number) + 1);
}

describe('ManagedConnection message pipeline on a live socket', () => {
  const cleanup: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const fn of cleanup.splice(0).reverse()) await fn();
  });

  async function setup(intervalMs = 5) {
    const feed = await new FeedServer(intervalMs).start();
    cleanup.push(() => feed.stop());
    const manager = new WebSocketManager({
      exchanges: { sim: { endpoints: [feed.url()], limits: { messagesPerSecond: 200, messageBurst: 200 } } },
    });
    cleanup.push(() => manager.close());
    return { feed, manager };
  }

  it('drops injected duplicates and restores order of swapped frames', async () => {
    const { feed, manager } = await setup();
    let held: string | undefined;
    feed.transform = (frames, stream) => {
      if (stream === 'dup') return [...frames, ...frames];
      if (stream === 'swap') {
        if (held === undefined) {
          held = frames[0];
          return [];
        }
        const out = [...frames, held];
        held = undefined;
        return out;
      }
      return frames;
    };
    const conn = manager.connect('sim', { sequence: (m) => m.u, reorderTimeoutMs: 2_000 });
    const got: Record<string, number[]> = { dup: [], swap: [] };
    conn.on('message', (m) => got[m.stream]?.push(m.sequence as number));
    await conn.subscribe('dup', sub('dup'));
    await conn.subscribe('swap', sub('swap'));
    await waitFor(() => (got.dup?.length ?? 0) > 50 && (got.swap?.length ?? 0) > 50, { what: 'messages' });
    expectContiguous(got.dup as number[]);
    expectContiguous(got.swap as number[]);
    const streams = (
      conn.stats() as { streams: Record<string, { duplicatesDropped: number; reordered: number; gaps: number }> }
    ).streams;
    expect(streams.dup?.duplicatesDropped).toBeGreaterThan(40);
    expect(streams.swap?.reordered).toBeGreaterThan(20);
    expect(streams.swap?.gaps).toBe(0);
  });

  it('counts malformed JSON, binary garbage and oversized frames, and keeps the connection working', async () => {
    const { feed, manager } = await setup();
    const reported: MalformedInfo[] = [];
    const listener = (m: unknown) => reported.push(m as MalformedInfo);
    diagnostics.subscribe(MALFORMED_CHANNEL, listener);
    cleanup.push(async () => {
      diagnostics.unsubscribe(MALFORMED_CHANNEL, listener);
    });
    const conn = manager.connect('sim', { sequence: (m) => m.u, stream, maxFrameBytes: 1024 });
    const seqs: number[] = [];
    conn.on('message', (m) => seqs.push(m.sequence as number));
    await conn.subscribe('s', sub('s'));
    await waitFor(() => seqs.length > 5);
    feed.broadcastRaw('{"stream":"s", not json');
    feed.broadcastRaw(Buffer.from([0xff, 0x00, 0xfe, 0x12, 0x80, 0x81]), true);
    feed.broadcastRaw(JSON.stringify({ stream: 's', u: 1e12, pad: 'x'.repeat(4096) }));
    feed.broadcastRaw('null');
    feed.broadcastRaw(Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d]), false); // a text frame that is not UTF-8
    await waitFor(() => reported.length >= 5, { what: 'malformed reports' });
    const before = seqs.length;
    await waitFor(() => seqs.length > before + 20, { what: 'messages keep flowing' });
    const stats = conn.stats() as { malformed: number; oversized: number; reconnects: number; state: string };
    // bad JSON, binary garbage, `null` (the sequence extractor throws on it), and invalid UTF-8 (`{"\uFFFD\uFFFD"}`)
    expect(stats.malformed).toBe(4);
    expect(stats.oversized).toBe(1);
    expect(stats.reconnects).toBe(0);
    expect(stats.state).toBe('open');
    expect(reported.map((r) => r.reason).sort()).toEqual(['decode', 'decode', 'decode', 'decode', 'oversize']);
    expect(reported[0]?.component).toBe('ws-manager');
    expectContiguous(seqs);
  });

  it('keeps memory bounded under a slow async-iterator consumer (drop-oldest)', async () => {
    const { manager } = await setup(1);
    const conn = manager.connect('sim', { sequence: (m) => m.u, stream });
    await conn.subscribe('fast', sub('fast'));
    const iterator = conn.messages({ maxSize: 50, policy: 'drop-oldest' });
    const seen: StreamMessage[] = [];
    let maxQueued = 0;
    for await (const message of iterator) {
      seen.push(message);
      const queued = (conn.stats() as { consumers: { queued: number } }).consumers.queued;
      maxQueued = Math.max(maxQueued, queued);
      await new Promise((r) => setTimeout(r, 20));
      if (seen.length >= 30) break;
    }
    const stats = conn.stats() as { consumers: { dropped: number; count: number } };
    expect(maxQueued).toBeLessThanOrEqual(50);
    expect(stats.consumers.count).toBe(0); // break ended the consumer
    const seqs = seen.map((m) => m.sequence as number);
    for (let i = 1; i < seqs.length; i++) expect(seqs[i]).toBeGreaterThan(seqs[i - 1] as number);
    // the feed produced far more than the consumer read, so the queue must have dropped
    expect(seqs.at(-1)! - seqs[0]!).toBeGreaterThan(seen.length);
  });

  it('resyncs via the user callback without a socket gap when asked, and async iteration ends on close', async () => {
    const { feed, manager } = await setup();
    let calls = 0;
    const conn = manager.connect('sim', {
      sequence: (m) => ({ first: m.u, last: m.u }),
      stream,
      resync: async (stream) => {
        calls++;
        return { sequence: feed.seq(stream) };
      },
    });
    await conn.subscribe('r', sub('r'));
    const seen: number[] = [];
    const consumer = (async () => {
      for await (const m of conn) seen.push(m.sequence as number);
    })();
    await waitFor(() => seen.length > 10);
    expect(calls).toBe(1);
    conn.resync('r');
    await waitFor(() => calls === 2);
    await conn.close();
    await consumer;
    for (let i = 1; i < seen.length; i++) expect(seen[i]).toBeGreaterThan(seen[i - 1] as number);
  });
});
