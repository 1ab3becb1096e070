import { connect } from 'node:net';
import { waitFor } from '@cryptoscalp/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { issueToken } from '../../src/http/tokens.js';
import { type Harness, type Json, SECRET, startHarness, upgradeRequest } from './api-harness.js';

let h: Harness;

beforeAll(async () => {
  h = await startHarness({
    stream: { bookDepth: 2, historySize: 5, maxBufferedBytes: 256 * 1024, flushIntervalMs: 10 },
  });
});

afterAll(async () => {
  await h?.close();
});

/** A stream client that records every message. */
class Client {
  readonly messages: Json[] = [];
  readonly ws: WebSocket;
  readonly opened: Promise<void>;
  constructor(url: string, protocols?: string[], headers?: Record<string, string>) {
    this.ws = new WebSocket(url, protocols, headers === undefined ? {} : { headers });
    this.ws.on('message', (raw) => this.messages.push(JSON.parse(raw.toString())));
    this.opened = new Promise((resolve, reject) => {
      this.ws.once('open', () => resolve());
      this.ws.once('error', reject);
    });
  }
  send(msg: unknown): void {
    this.ws.send(JSON.stringify(msg));
  }
  of(type: string, topic?: string): Json[] {
    return this.messages.filter((m) => m.type === type && (topic === undefined || m.topic === topic));
  }
  async waitFor(what: string, check: () => boolean): Promise<void> {
    await waitFor(check, { timeoutMs: 10_000, what });
  }
  close(): void {
    this.ws.close();
  }
}

const wsUrl = (path = '/api/stream') => h.api.url.replace('http', 'ws') + path;

/** The HTTP status the server answers a raw upgrade request with (101 on success). */
const upgradeStatus = async (path: string, headers: Record<string, string> = {}): Promise<number> =>
  (await upgradeRequest(`${h.api.url}${path}`, headers)).status;

/** A raw upgrade on its own socket: resolves the response text once the server has closed the connection. */
function rawUpgrade(base: string, path: string): Promise<string> {
  const { hostname, port } = new URL(base);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname, () => {
      socket.write(
        `GET ${path} HTTP/1.1\r\nHost: ${hostname}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n` +
          'Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n',
      );
    });
    let text = '';
    socket.on('data', (d) => {
      text += d.toString();
    });
    socket.on('close', () => resolve(text));
    socket.on('error', reject);
    socket.setTimeout(5_000, () => reject(new Error(`upgrade to ${path} left hanging`)));
  });
}

describe('live streams', () => {
  it('refuses upgrades without a valid token (401) and on other paths (404)', async () => {
    const bearer = (token: string) => ({ 'sec-websocket-protocol': `bearer, ${token}` });
    expect(await upgradeStatus('/api/stream')).toBe(401);
    expect(await upgradeStatus('/api/stream', bearer('not-a-jwt'))).toBe(401);
    const expired = await issueToken({ sub: 'x', role: 'viewer', secret: SECRET, ttl: -60 });
    expect(await upgradeStatus('/api/stream', bearer(expired))).toBe(401);
    expect(await upgradeStatus('/elsewhere', bearer(h.tokens.viewer))).toBe(404);
    // Refused, and the connection closed by the server (not left hanging).
    expect(await rawUpgrade(h.api.url, '/api/me')).toMatch(/^HTTP\/1\.1 404 Not Found\r\n/);
    expect(await rawUpgrade(h.api.url, '/api/stream')).toMatch(/^HTTP\/1\.1 401 Unauthorized\r\n/);
    expect(await upgradeStatus('/api/stream', bearer(h.tokens.viewer))).toBe(101);
    expect(await upgradeStatus('/api/stream', { authorization: `Bearer ${h.tokens.viewer}` })).toBe(101);
    const { rows } = await h.pool.query(
      `SELECT detail FROM "${h.schema}".audit_log WHERE action = 'auth.failure' AND detail->>'target' LIKE 'UPGRADE%'`,
    );
    expect(rows.length).toBeGreaterThan(0);
  });

  it('authenticates with the bearer subprotocol and delivers every topic', async () => {
    const c = new Client(wsUrl(), ['bearer', h.tokens.viewer]);
    await c.opened;
    expect(c.ws.protocol).toBe('bearer');
    const topics = ['prices.BTCUSDT', 'book.BTCUSDT', 'fills', 'positions', 'pnl', 'alerts'];
    for (const topic of topics) c.send({ op: 'subscribe', topic });
    await c.waitFor('subscribed', () => c.of('subscribed').length === topics.length);
    h.trader.emit({ type: 'price', symbol: 'BTCUSDT', price: 60_010, bid: 60_005, ask: 60_015, ts: 1 });
    h.trader.emit({ type: 'price', symbol: 'ETHUSDT', price: 3_000, ts: 1 });
    h.trader.emit({
      type: 'book',
      symbol: 'BTCUSDT',
      bids: [
        [60_005, 1],
        [60_004, 2],
        [60_003, 3],
      ],
      asks: [
        [60_015, 1],
        [60_016, 2],
        [60_017, 3],
      ],
      ts: 2,
    });
    const fill = {
      fillId: 'f-1',
      clientOrderId: 'o-1',
      symbol: 'BTCUSDT',
      side: 'buy' as const,
      price: 60_010,
      qty: 0.01,
      fee: 0.02,
      liquidity: 'taker' as const,
      ts: 3,
    };
    h.trader.emit({ type: 'fill', fill });
    h.trader.emit({ type: 'position', position: (await h.trader.positions())[0]! });
    h.trader.emit({ type: 'pnl', pnl: { ...h.trader.pnlNow, total: 20 } });
    h.trader.emit({ type: 'alert', alert: { id: 'a-2', name: 'drawdown', severity: 'critical', state: 'firing' } });
    await c.waitFor('6 messages', () => c.of('message').length >= 6);
    expect(c.of('message').map((m) => m.topic)).toEqual(topics);
    expect(c.of('message', 'prices.BTCUSDT')[0].data.price).toBe(60_010);
    expect(c.of('message', 'book.BTCUSDT')[0].data.bids).toEqual([
      [60_005, 1],
      [60_004, 2],
    ]);
    expect(c.of('message', 'fills')[0].data).toEqual(fill);
    expect(c.of('message', 'pnl')[0].data.total).toBe(20);
    c.close();
  });

  it('accepts the token in an Authorization header, answers bad requests and resumes from an offset', async () => {
    const c = new Client(wsUrl(), undefined, { authorization: `Bearer ${h.tokens.viewer}` });
    await c.opened;
    c.send({ op: 'dance' });
    c.ws.send('not json');
    c.send({ op: 'ping', id: 7 });
    await c.waitFor('errors and pong', () => c.of('error').length === 2 && c.of('pong').length === 1);
    expect(c.of('error')[0].code).toBe('bad_request');
    expect(c.of('pong')[0].id).toBe(7);
    c.send({ op: 'subscribe', topic: 'pnl' });
    await c.waitFor('subscribed', () => c.of('subscribed').length === 1);
    const { epoch, offset: base } = c.of('subscribed')[0] as { epoch: string; offset: number };
    for (let i = 1; i <= 3; i++) h.trader.emit({ type: 'pnl', pnl: { ...h.trader.pnlNow, total: 100 + i } });
    await c.waitFor('3 pnl', () => c.of('message', 'pnl').length === 3);
    expect(c.of('message', 'pnl').map((m) => m.offset)).toEqual([base + 1, base + 2, base + 3]);
    expect(c.of('message', 'pnl').every((m) => m.epoch === epoch)).toBe(true);
    c.close();

    // Missed two while away: the reconnecting client asks from its last offset and gets exactly those.
    for (let i = 4; i <= 5; i++) h.trader.emit({ type: 'pnl', pnl: { ...h.trader.pnlNow, total: 100 + i } });
    const again = new Client(wsUrl(), ['bearer', h.tokens.viewer]);
    await again.opened;
    again.send({ op: 'subscribe', topic: 'pnl', epoch, offset: base + 3 });
    await again.waitFor('replay', () => again.of('message', 'pnl').length === 2);
    expect(again.of('message', 'pnl').map((m) => m.data.total)).toEqual([104, 105]);

    // Too far behind the history (5 messages): a resnapshot notice, then live messages only.
    again.send({ op: 'unsubscribe', topic: 'pnl' });
    await again.waitFor('unsubscribed', () => again.of('unsubscribed').length === 1);
    for (let i = 6; i <= 12; i++) h.trader.emit({ type: 'pnl', pnl: { ...h.trader.pnlNow, total: 100 + i } });
    again.send({ op: 'subscribe', topic: 'pnl', epoch, offset: base + 3 });
    await again.waitFor('resnapshot', () => again.of('resnapshot', 'pnl').length === 1);
    expect(again.of('resnapshot', 'pnl')[0].offset).toBe(base + 12);
    h.trader.emit({ type: 'pnl', pnl: { ...h.trader.pnlNow, total: 113 } });
    await again.waitFor('live after resnapshot', () => again.of('message', 'pnl').at(-1)?.data.total === 113);
    expect(again.of('message', 'pnl')).toHaveLength(3);
    again.close();
  });

  it('conflates a slow client to the latest message per topic and catches it up when it drains', async () => {
    const c = new Client(wsUrl(), ['bearer', h.tokens.viewer]);
    await c.opened;
    c.send({ op: 'subscribe', topic: 'prices.SLOWUSDT' });
    await c.waitFor('subscribed', () => c.of('subscribed').length === 1);
    // Stop reading: the kernel buffers fill, then the server's socket buffer passes maxBufferedBytes.
    const socket = (c.ws as unknown as { _socket: { pause(): void; resume(): void } })._socket;
    socket.pause();
    // Frames well under the bound: a frame larger than maxBufferedBytes would never be flushed (reported).
    const pad = 'x'.repeat(32 * 1024);
    const published = 1_000;
    for (let i = 1; i <= published; i++)
      h.trader.emit({ type: 'price', symbol: 'SLOWUSDT', price: i, ts: i, pad } as never);
    await waitFor(() => h.api.stats().stream.conflated > 0, { timeoutMs: 10_000, what: 'conflation' });
    socket.resume();
    await c.waitFor('latest price', () => c.of('message', 'prices.SLOWUSDT').at(-1)?.data.price === published);
    const got = c.of('message', 'prices.SLOWUSDT');
    expect(got.length).toBeLessThan(published);
    const offsets = got.map((m) => m.offset);
    expect([...offsets].sort((a, b) => a - b)).toEqual(offsets);
    c.close();
  });

  it('publishes trader events at their durable log offset, under the configured epoch', async () => {
    const other = await startHarness(
      { stream: { epoch: 'log-epoch-7' } },
      { pool: h.pool, schema: h.schema, trader: h.trader },
    );
    try {
      const c = new Client(`${other.api.url.replace('http', 'ws')}/api/stream`, ['bearer', other.tokens.viewer]);
      await c.opened;
      c.send({ op: 'subscribe', topic: 'alerts' });
      await c.waitFor('subscribed', () => c.of('subscribed').length === 1);
      expect(c.of('subscribed')[0].epoch).toBe('log-epoch-7');
      const alert = { id: 'a-7', name: 'gap', severity: 'warning', state: 'firing' };
      h.trader.emit({ type: 'alert', alert, offset: 500 });
      h.trader.emit({ type: 'alert', alert, offset: 500 }); // a redelivery of the same log record
      h.trader.emit({ type: 'alert', alert: { ...alert, state: 'resolved' }, offset: 501 });
      other.api.publish('alerts', { ...alert, state: 'direct' }, { offset: 502 });
      await c.waitFor('3 alerts', () => c.of('message', 'alerts').length >= 3);
      expect(c.of('message', 'alerts').map((m) => [m.offset, m.epoch, m.data.state])).toEqual([
        [500, 'log-epoch-7', 'firing'],
        [501, 'log-epoch-7', 'resolved'],
        [502, 'log-epoch-7', 'direct'],
      ]);
      c.close();
    } finally {
      await other.close();
    }
  });

  it('closes stream clients when the server closes', async () => {
    const other = await startHarness({}, { pool: h.pool, schema: h.schema, trader: h.trader });
    const c = new Client(`${other.api.url.replace('http', 'ws')}/api/stream`, ['bearer', other.tokens.viewer]);
    await c.opened;
    const closed = new Promise<number>((resolve) => c.ws.once('close', (code) => resolve(code)));
    const listeners = h.trader.listenerCount;
    await other.close();
    expect(await closed).toBe(1001);
    expect(h.trader.listenerCount).toBe(listeners - 1);
    await other.close();
  });
});
