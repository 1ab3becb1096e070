import { waitFor } from '@cryptoscalp/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import { type WebSocket, WebSocketServer } from 'ws';
import { type StreamMessage, WebSocketManager } from '../../src/index.js';

describe('StreamMessage.receivedAtMono', () => {
  const cleanup: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const fn of cleanup.splice(0).reverse()) await fn();
  });

  it('is the performance.now() of the frame arrival, kept by a message held in the reorder window', async () => {
    const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
    await new Promise<void>((resolve) => wss.once('listening', resolve));
    cleanup.push(() => new Promise<void>((resolve) => wss.close(() => resolve())));
    let peer: WebSocket | undefined;
    wss.on('connection', (ws) => {
      peer = ws;
      ws.on('message', () => ws.send(JSON.stringify({ result: null })));
    });
    const manager = new WebSocketManager({
      exchanges: { sim: { endpoints: [`ws://127.0.0.1:${(wss.address() as { port: number }).port}`] } },
    });
    cleanup.push(() => manager.close());
    const conn = manager.connect('sim', {
      stream: (m) => (typeof m.stream === 'string' ? m.stream : undefined), // the ack is a control message
      sequence: (m) => m.u,
      reorderTimeoutMs: 5_000,
    });
    const delivered: Array<{ message: StreamMessage; at: number }> = [];
    conn.on('message', (message) => delivered.push({ message, at: performance.now() }));
    await conn.subscribe('s', { op: 'sub' });
    await waitFor(() => peer !== undefined);

    /** `performance.now()` just before the server wrote each sequence's frame (same process, same clock). */
    const sentAt = new Map<number, number>();
    const send = (u: number) => {
      sentAt.set(u, performance.now());
      (peer as WebSocket).send(JSON.stringify({ stream: 's', u }));
    };
    send(1);
    await waitFor(() => delivered.length === 1);
    send(3); // ahead of 2: held in the reorder window
    const pipeline = () => (conn.stats() as { streams: Record<string, { buffered: number }> }).streams.s;
    await waitFor(() => pipeline()?.buffered === 1, { what: 'frame 3 held' });
    await new Promise((r) => setTimeout(r, 30));
    send(2); // releases 3
    await waitFor(() => delivered.length === 3);

    expect(delivered.map((d) => d.message.sequence)).toEqual([1, 2, 3]);
    for (const { message, at } of delivered) {
      const u = message.sequence as number;
      expect(message.receivedAtMono).toBeGreaterThanOrEqual(sentAt.get(u) as number);
      expect(message.receivedAtMono).toBeLessThanOrEqual(at);
      expect(Math.abs(message.receivedAt - Date.now())).toBeLessThan(5_000); // still epoch ms
    }
    const held = delivered[2] as { message: StreamMessage; at: number };
    // Arrival, not release: stamped before frame 2 was even sent, delivered after it.
    expect(held.message.receivedAtMono).toBeLessThan(sentAt.get(2) as number);
    expect(held.at).toBeGreaterThan(sentAt.get(2) as number);
    expect(sentAt.get(2)! - held.message.receivedAtMono).toBeGreaterThanOrEqual(25);
    // Sub-millisecond resolution: not whole milliseconds like Date.now().
    expect(delivered.some(({ message }) => !Number.isInteger(message.receivedAtMono))).toBe(true);
  });
});
