import diagnostics from 'node:diagnostics_channel';
import { createServer } from 'node:http';
import { freePort, waitFor } from '@cryptoscalp/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { HUB_CHANNEL, StreamHub, type StreamHubOptions } from '../../src/hub.js';
import { TestHubClient } from './helpers/hub-client.js';

describe('StreamHub', () => {
  const cleanup: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const fn of cleanup.splice(0).reverse()) await fn();
  });

  async function startHub(options: Partial<StreamHubOptions> = {}): Promise<{ hub: StreamHub; url: string }> {
    const hub = new StreamHub({ port: 0, ...options } as StreamHubOptions);
    cleanup.push(() => hub.close());
    await hub.ready();
    return { hub, url: `ws://127.0.0.1:${hub.address()?.port}` };
  }

  async function client(url: string): Promise<TestHubClient> {
    const c = await TestHubClient.connect(url);
    cleanup.push(() => c.close());
    return c;
  }

  it('delivers published messages to subscribers only, in order, with offsets; unsubscribe stops them', async () => {
    const { hub, url } = await startHub();
    const a = await client(url);
    const b = await client(url);
    const sub = await a.subscribe('trades');
    expect(sub.offset).toBe(0);
    expect(typeof sub.epoch).toBe('string');
    await b.subscribe('other');
    for (let i = 1; i <= 5; i++) hub.publish('trades', { i });
    await waitFor(() => a.messages('trades').length === 5);
    expect(a.messages('trades').map((m) => m.offset)).toEqual([1, 2, 3, 4, 5]);
    expect(a.messages('trades').map((m) => (m.data as { i: number }).i)).toEqual([1, 2, 3, 4, 5]);
    expect(b.messages()).toHaveLength(0);
    a.send({ op: 'unsubscribe', topic: 'trades', id: 7 });
    await a.waitFor((m) => m.type === 'unsubscribed' && m.id === 7);
    hub.publish('trades', { i: 6 });
    a.send({ op: 'ping', id: 'p' });
    await a.waitFor((m) => m.type === 'pong' && m.id === 'p');
    expect(a.messages('trades')).toHaveLength(5);
    const stats = hub.stats() as { clients: number; published: number; framesSent: number };
    expect(stats.clients).toBe(2);
    expect(stats.published).toBe(6);
    expect((await hub.healthCheck()).status).toBe('pass');
  });

  it('resumes from an offset in history, or tells the client to resnapshot', async () => {
    const { hub, url } = await startHub({ history: { maxMessages: 10 } });
    const a = await client(url);
    const sub = await a.subscribe('book');
    for (let i = 1; i <= 4; i++) hub.publish('book', { i });
    await waitFor(() => a.messages('book').length === 4);
    await a.close();
    for (let i = 5; i <= 8; i++) hub.publish('book', { i });
    const again = await client(url);
    again.send({ op: 'subscribe', topic: 'book', offset: 4, epoch: sub.epoch });
    await waitFor(() => again.messages('book').length === 4);
    expect(again.messages('book').map((m) => m.offset)).toEqual([5, 6, 7, 8]);
    hub.publish('book', { i: 9 });
    await waitFor(() => again.messages('book').length === 5);
    expect(again.received.some((m) => m.type === 'resnapshot')).toBe(false);

    // too old for a 10-message history
    for (let i = 10; i <= 30; i++) hub.publish('book', { i });
    const old = await client(url);
    old.send({ op: 'subscribe', topic: 'book', offset: 2, epoch: sub.epoch });
    const resnap = await old.waitFor((m) => m.type === 'resnapshot');
    expect(resnap.offset).toBe(30);
    // wrong epoch (e.g. another hub instance)
    const other = await client(url);
    other.send({ op: 'subscribe', topic: 'book', offset: 29, epoch: 'nope' });
    await other.waitFor((m) => m.type === 'resnapshot');
    hub.publish('book', { i: 31 });
    await waitFor(() => old.messages('book').length === 1 && other.messages('book').length === 1);
    expect((hub.stats() as { resumes: number; resnapshots: number }).resnapshots).toBe(2);
  });

  it('authenticates at upgrade (401 on reject) and authorizes topics with the principal', async () => {
    const { hub, url } = await startHub({
      authenticate: (req) => (req.headers.authorization === 'Bearer good' ? { user: 'u1' } : false),
      authorize: (principal, topic) => topic.startsWith(`${principal?.user}.`),
    });
    const status = await new Promise<number | undefined>((resolve) => {
      const ws = new WebSocket(url, { headers: { authorization: 'Bearer bad' } });
      ws.on('unexpected-response', (_req, res) => {
        resolve(res.statusCode);
        ws.terminate();
      });
      ws.on('error', () => {});
    });
    expect(status).toBe(401);
    const ok = await TestHubClient.connect(url, { authorization: 'Bearer good' });
    cleanup.push(() => ok.close());
    await ok.subscribe('u1.orders');
    ok.send({ op: 'subscribe', topic: 'u2.orders', id: 9 });
    await ok.waitFor((m) => m.type === 'error' && m.code === 'forbidden' && m.id === 9);
    expect((hub.stats() as { authRejected: number; forbidden: number }).forbidden).toBe(1);
    expect((hub.stats() as { authRejected: number }).authRejected).toBe(1);
  });

  it('attaches to an existing http.Server on a path and closes clients with 1001', async () => {
    const server = createServer((_req, res) => res.end('ok'));
    const port = await freePort();
    await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
    cleanup.push(() => new Promise<void>((r) => server.close(() => r())));
    const hub = new StreamHub({ server, path: '/stream' });
    await hub.ready();
    const c = await TestHubClient.connect(`ws://127.0.0.1:${port}/stream`);
    await c.subscribe('x');
    hub.publish('x', 1);
    await waitFor(() => c.messages('x').length === 1);
    await hub.close();
    await hub.close();
    await waitFor(() => c.closeCode !== undefined);
    expect(c.closeCode).toBe(1001);
    expect((await hub.healthCheck()).status).toBe('fail');
    expect(() => hub.publish('x', 2)).toThrow(/closed/);
    // the http server still serves
    const res = await fetch(`http://127.0.0.1:${port}/`);
    expect(await res.text()).toBe('ok');
  });

  it('rate-limits inbound messages, rejects bad requests and closes oversized ones with 1009', async () => {
    const { hub, url } = await startHub({ inboundRatePerSecond: 1, inboundBurst: 3, maxMessageBytes: 256 });
    const c = await client(url);
    c.ws.send('not json');
    await c.waitFor((m) => m.type === 'error' && m.code === 'bad_request');
    for (let i = 0; i < 10; i++) c.send({ op: 'ping', id: i });
    await c.waitFor((m) => m.type === 'error' && m.code === 'rate_limited');
    expect((hub.stats() as { rateLimited: number }).rateLimited).toBeGreaterThan(0);
    c.ws.send(JSON.stringify({ op: 'ping', pad: 'x'.repeat(1000) }));
    await waitFor(() => c.closeCode !== undefined);
    expect(c.closeCode).toBe(1009);
  });

  it('terminates clients that stop answering pings', async () => {
    const { hub, url } = await startHub({ heartbeatIntervalMs: 50 });
    const events: string[] = [];
    const listener = (m: unknown) => events.push((m as { event: string }).event);
    diagnostics.subscribe(HUB_CHANNEL, listener);
    cleanup.push(async () => {
      diagnostics.unsubscribe(HUB_CHANNEL, listener);
    });
    const c = await client(url);
    await c.subscribe('t');
    // A paused socket cannot answer pings.
    (c.ws as unknown as { _socket: { pause(): void } })._socket.pause();
    await waitFor(() => (hub.stats() as { heartbeatTerminations: number }).heartbeatTerminations === 1, {
      what: 'termination',
    });
    await waitFor(() => (hub.stats() as { clients: number }).clients === 0);
    expect(events).toContain('heartbeat-timeout');
    c.ws.terminate();
  });

  it('bounds the number of topics by evicting the oldest one without subscribers', async () => {
    const { hub, url } = await startHub({ maxTopics: 3 });
    const c = await client(url);
    const sub = await c.subscribe('kept');
    hub.publish('kept', 1);
    for (const t of ['a', 'b', 'c', 'd']) hub.publish(t, 1);
    const stats = hub.stats() as { topics: number; topicsEvicted: number };
    expect(stats.topics).toBe(3);
    expect(stats.topicsEvicted).toBe(2);
    // the subscribed topic survived with its history
    const again = await client(url);
    again.send({ op: 'subscribe', topic: 'kept', offset: 0, epoch: sub.epoch });
    await waitFor(() => again.messages('kept').length === 1);
  });
});
