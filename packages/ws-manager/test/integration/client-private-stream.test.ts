import type { AddressInfo } from 'node:net';
import { waitFor } from '@cryptoscalp/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import { type WebSocket, WebSocketServer } from 'ws';
import { type ConnectAttempt, type LoginInfo, WebSocketManager, WsManagerError } from '../../src/index.js';

/** One accepted socket as the server saw it: its request URL and headers, and the frames it received in order. */
interface Seen {
  url: string;
  apiKey: string | undefined;
  frames: Array<Record<string, unknown>>;
  socket: WebSocket;
}

/**
 * A venue that wants a login message before it serves subscriptions (Binance WebSocket API style): it answers the
 * login with `{ id, status }` as `answer` decides, and answers a subscription with an event on its stream.
 */
async function privateVenue(answer: (n: number) => 'ok' | 'refuse' | 'silent') {
  const server = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise<void>((resolve) => server.once('listening', () => resolve()));
  const seen: Seen[] = [];
  let logins = 0;
  server.on('connection', (socket, request) => {
    const entry: Seen = { url: request.url ?? '', apiKey: request.headers['x-api-key'] as string, frames: [], socket };
    seen.push(entry);
    socket.on('message', (data) => {
      const msg = JSON.parse(String(data)) as Record<string, unknown>;
      entry.frames.push(msg);
      if (msg.method === 'login') {
        const a = answer(++logins);
        if (a === 'ok') socket.send(JSON.stringify({ id: msg.id, status: 200 }));
        if (a === 'refuse') socket.send(JSON.stringify({ id: msg.id, status: 401 }));
      } else if (msg.method === 'SUBSCRIBE') {
        socket.send(JSON.stringify({ stream: (msg.params as string[])[0], n: entry.frames.length }));
      }
    });
  });
  const port = (server.address() as AddressInfo).port;
  return {
    url: `ws://127.0.0.1:${port}/ws-api`,
    seen,
    stop: () =>
      new Promise<void>((resolve) => {
        for (const c of server.clients) c.terminate();
        server.close(() => resolve());
      }),
  };
}

const fastBackoff = { initialDelayMs: 10, maxDelayMs: 50, multiplier: 2, stableAfterMs: 10_000 };

describe('ManagedConnection private streams (url factory, headers, login on every socket)', () => {
  const cleanup: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const fn of cleanup.splice(0).reverse()) await fn();
  });

  it('makes the URL and headers per connect and sends the login before the subscriptions on every reconnect', async () => {
    const venue = await privateVenue(() => 'ok');
    cleanup.push(venue.stop);
    const manager = new WebSocketManager({ exchanges: { v: { endpoints: [venue.url] } } });
    cleanup.push(() => manager.close());
    const attempts: ConnectAttempt[] = [];
    let token = 0;
    let loginId = 0;
    const conn = manager.connect('v', {
      backoff: fastBackoff,
      url: (a) => {
        attempts.push(a);
        return `${a.endpoint}?token=t${++token}`;
      },
      headers: () => ({ 'X-Api-Key': `key-${token}` }),
      login: (a) => ({ id: ++loginId, method: 'login', reconnect: a.reconnect }),
      loginAck: (m) => (m.id === loginId ? m.status === 200 : undefined),
      stream: (m) => (typeof m.stream === 'string' ? m.stream : undefined),
    });
    const logins: LoginInfo[] = [];
    conn.on('login', (i) => logins.push(i));
    await conn.subscribe('orders', { method: 'SUBSCRIBE', params: ['orders'] });
    await waitFor(() => logins.length === 1 && venue.seen[0]?.frames.length === 2, { timeoutMs: 5_000 });
    venue.seen[0]?.socket.terminate();
    await waitFor(() => logins.length === 2 && venue.seen[1]?.frames.length === 2, { timeoutMs: 5_000 });

    expect(venue.seen.map((s) => s.url)).toEqual(['/ws-api?token=t1', '/ws-api?token=t2']);
    expect(venue.seen.map((s) => s.apiKey)).toEqual(['key-1', 'key-2']);
    expect(attempts.map((a) => a.reconnect)).toEqual([false, true]);
    for (const s of venue.seen) {
      expect(s.frames.map((f) => f.method)).toEqual(['login', 'SUBSCRIBE']);
    }
    expect(venue.seen[1]?.frames[0]).toMatchObject({ method: 'login', reconnect: true, id: 2 });
    expect(logins.map((l) => [l.ok, l.reconnect])).toEqual([
      [true, false],
      [true, true],
    ]);
    expect(conn.stats()).toMatchObject({ logins: 2, loginFailures: 0 });
  });

  it('closes a socket whose login is refused or unanswered, reconnects, and subscribes only after an accepted login', async () => {
    const venue = await privateVenue((n) => (n === 1 ? 'refuse' : n === 2 ? 'silent' : 'ok'));
    cleanup.push(venue.stop);
    const manager = new WebSocketManager({ exchanges: { v: { endpoints: [venue.url] } } });
    cleanup.push(() => manager.close());
    let loginId = 0;
    const conn = manager.connect('v', {
      backoff: fastBackoff,
      login: () => ({ id: ++loginId, method: 'login' }),
      loginAck: (m) => (m.id === loginId ? m.status === 200 : undefined),
      loginTimeoutMs: 200,
      stream: (m) => (typeof m.stream === 'string' ? m.stream : undefined),
    });
    const logins: LoginInfo[] = [];
    conn.on('login', (i) => logins.push(i));
    const events: unknown[] = [];
    conn.on('message', (m) => events.push(m.data));
    await conn.subscribe('orders', { method: 'SUBSCRIBE', params: ['orders'] });
    await waitFor(() => events.length === 1, { timeoutMs: 10_000 });
    expect(logins.map((l) => [l.ok, l.reason])).toEqual([
      [false, 'refused'],
      [false, 'timeout'],
      [true, undefined],
    ]);
    // The refused and the unanswered sockets never got the subscription.
    expect(venue.seen.map((s) => s.frames.map((f) => f.method))).toEqual([
      ['login'],
      ['login'],
      ['login', 'SUBSCRIBE'],
    ]);
    expect(conn.stats()).toMatchObject({ logins: 1, loginFailures: 2 });
  });

  it('counts a throwing URL factory as a failed connect and retries', async () => {
    const venue = await privateVenue(() => 'ok');
    cleanup.push(venue.stop);
    const manager = new WebSocketManager({ exchanges: { v: { endpoints: [venue.url] } } });
    cleanup.push(() => manager.close());
    let calls = 0;
    const conn = manager.connect('v', {
      backoff: fastBackoff,
      url: async (a) => {
        calls++;
        if (calls === 1) throw new Error('listen key service down');
        return a.endpoint;
      },
    });
    await waitFor(() => conn.state === 'open', { timeoutMs: 5_000 });
    expect(calls).toBe(2);
    expect(conn.stats()).toMatchObject({ connectFailures: 1, connects: 1 });
  });

  it('rejects invalid private-stream options naming the field', () => {
    const manager = new WebSocketManager({ exchanges: { v: { endpoints: ['ws://127.0.0.1:1'] } } });
    const bad = [
      [{ loginAck: () => true }, 'connection.loginAck'],
      [{ headers: { a: 1 } }, 'connection.headers'],
      [{ url: 'ws://x' }, 'connection.url'],
      [{ login: {} }, 'connection.login'],
      [{ login: () => ({}), loginTimeoutMs: 0 }, 'connection.loginTimeoutMs'],
    ] as const;
    for (const [options, field] of bad) {
      try {
        manager.connect('v', options as never);
        expect.unreachable(`${field} accepted`);
      } catch (error) {
        expect(error).toBeInstanceOf(WsManagerError);
        expect((error as WsManagerError).field).toBe(field);
      }
    }
    return manager.close();
  });
});
