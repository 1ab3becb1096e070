import { afterEach, describe, expect, it } from 'vitest';
import { type ManagedConnection, type StreamMessage, WebSocketManager } from '../../src/index.js';

// Port 1 on loopback refuses connections: the connection keeps retrying in the background while frames are fed to it
// directly, which exercises the pipeline and the consumer side without a server.
const manager = () => new WebSocketManager({ exchanges: { x: { endpoints: ['ws://127.0.0.1:1'] } } });
const socket = { endpoint: { url: 'ws://127.0.0.1:1' }, lastPongAt: 0 };
const feed = (conn: ManagedConnection, value: unknown) =>
  (conn as unknown as { onFrame(s: unknown, d: Buffer, b: boolean): void }).onFrame(
    socket,
    Buffer.from(JSON.stringify(value)),
    false,
  );

describe('ManagedConnection without a server', () => {
  const managers: WebSocketManager[] = [];
  afterEach(async () => {
    for (const m of managers.splice(0)) await m.close();
  });
  const make = () => {
    const m = manager();
    managers.push(m);
    return m;
  };

  it('routes control messages, dedups by id, records latency and survives throwing listeners', async () => {
    const m = make();
    const conn = m.connect('x', {
      stream: (msg) => msg.s,
      id: (msg) => msg.id,
      timestamp: (msg) => msg.t,
      heartbeat: false,
    });
    const controls: unknown[] = [];
    const errors: unknown[] = [];
    const got: StreamMessage[] = [];
    conn.on('control', (c) => controls.push(c));
    conn.on('message', () => {
      throw new Error('listener bug');
    });
    conn.on('message', (msg) => got.push(msg));
    feed(conn, { result: null });
    feed(conn, { s: 'a', id: 1, t: Date.now() - 5 });
    feed(conn, { s: 'a', id: 1, t: Date.now() });
    feed(conn, { s: 'a', id: 2, t: Date.now() });
    expect(controls).toEqual([{ result: null }]);
    expect(got.map((g) => (g.data as { id: number }).id)).toEqual([1, 2]);
    conn.on('error', (e) => errors.push(e));
    feed(conn, { s: 'a', id: 3 });
    expect(errors).toHaveLength(1);
    const stats = conn.stats() as {
      listenerErrors: number;
      controlMessages: number;
      streams: { a: { duplicatesDropped: number; latencyMs: { samples: number; p99: number } } };
    };
    expect(stats.listenerErrors).toBe(3);
    expect(stats.controlMessages).toBe(1);
    expect(stats.streams.a.duplicatesDropped).toBe(1);
    expect(stats.streams.a.latencyMs.samples).toBe(2);
    expect(stats.streams.a.latencyMs.p99).toBeGreaterThanOrEqual(0);
    expect((await m.healthCheck()).status).toBe('fail');
    await expect(conn.send({})).rejects.toMatchObject({ code: 'E_WS_CONNECT_FAILED' });
    expect(await conn.rotate()).toBe(false);
  });

  it('feeds bounded consumers with their own policies, and ends them on close', async () => {
    const m = make();
    const conn = m.connect('x', { stream: (msg) => msg.s, sequence: (msg) => msg.n, heartbeat: false });
    const latest = conn.messages({ maxSize: 2, policy: 'conflate-latest' });
    const strict = conn.messages({ maxSize: 2, policy: 'error' });
    expect(() => conn.messages({ maxSize: 0 })).toThrow(/maxSize/);
    expect(() => conn.messages({ policy: 'x' as never })).toThrow(/policy/);
    for (let n = 1; n <= 4; n++) {
      feed(conn, { s: 'a', n });
      feed(conn, { s: 'b', n });
    }
    const first = await latest.next();
    const second = await latest.next();
    expect([first.value?.stream, first.value?.sequence]).toEqual(['a', 4]);
    expect([second.value?.stream, second.value?.sequence]).toEqual(['b', 4]);
    await expect(strict.next()).rejects.toMatchObject({ code: 'E_WS_QUEUE_OVERFLOW' });
    const pending = latest.next();
    await conn.close();
    expect((await pending).done).toBe(true);
    expect((await conn.messages().next()).done).toBe(true);
    expect(conn.state).toBe('closed');
    await expect(conn.subscribe('a', {})).rejects.toMatchObject({ code: 'E_WS_CLOSED' });
  });

  it('tracks subscriptions while not connected and forgets them on unsubscribe', async () => {
    const m = make();
    const conn = m.connect('x', { heartbeat: false });
    await conn.subscribe('a', { sub: 'a' }, { unsub: 'a' });
    await conn.subscribe('b', { sub: 'b' });
    await expect(conn.subscribe('', {})).rejects.toMatchObject({ code: 'E_WS_INVALID_OPTION' });
    expect(conn.streams).toEqual(['a', 'b']);
    await conn.unsubscribe('a');
    await conn.unsubscribe('zzz');
    expect(conn.streams).toEqual(['b']);
    expect(conn.endpoint).toBeUndefined();
    expect(m.connections).toHaveLength(1);
  });
});
