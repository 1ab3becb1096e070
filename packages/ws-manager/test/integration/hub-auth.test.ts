import diagnostics from 'node:diagnostics_channel';
import { createServer, type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import { freePort, waitFor } from '@cryptoscalp/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { type AuthResult, HUB_CHANNEL, StreamHub, type StreamHubOptions } from '../../src/hub.js';
import { TestHubClient } from './helpers/hub-client.js';

interface UpgradeOutcome {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/** Attempts a real WebSocket upgrade; resolves with the HTTP answer (101 when the socket opened). */
function upgrade(url: string, headers: Record<string, string> = {}): Promise<UpgradeOutcome> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers });
    ws.on('open', () => {
      resolve({ status: 101, headers: {}, body: '' });
      ws.terminate();
    });
    ws.on('unexpected-response', (_req, res: IncomingMessage) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => {
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') });
        ws.terminate();
      });
    });
    ws.on('error', (error) => reject(error));
  });
}

type HubStats = {
  authRejected: number;
  authRejectedByStatus: Record<string, number>;
  forbidden: number;
  resumes: number;
  resnapshots: number;
  clients: number;
};

describe('StreamHub authentication and authorization', () => {
  const cleanup: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const fn of cleanup.splice(0).reverse()) await fn();
  });

  async function startHub(options: Partial<StreamHubOptions>): Promise<{ hub: StreamHub; url: string }> {
    const hub = new StreamHub({ port: 0, heartbeatIntervalMs: 0, ...options } as StreamHubOptions);
    cleanup.push(() => hub.close());
    await hub.ready();
    return { hub, url: `ws://127.0.0.1:${hub.address()?.port}` };
  }

  function hubEvents(): Array<Record<string, unknown>> {
    const events: Array<Record<string, unknown>> = [];
    const listener = (m: unknown) => events.push(m as Record<string, unknown>);
    diagnostics.subscribe(HUB_CHANNEL, listener);
    cleanup.push(async () => {
      diagnostics.unsubscribe(HUB_CHANNEL, listener);
    });
    return events;
  }

  it('refuses upgrades with the status authenticate chose (401, 403, 429 + Retry-After, 503) and accepts the rest', async () => {
    const cases: Record<string, () => AuthResult | Promise<AuthResult>> = {
      ok: () => ({ user: 'u1' }),
      true: () => true,
      false: () => false,
      null: () => null,
      throw: () => {
        throw new Error('token store down');
      },
      forbidden: () => ({ ok: false, status: 403, reason: 'account suspended' }),
      busy: async () => ({
        ok: false,
        status: 429,
        headers: {
          'Retry-After': 7,
          'X-Evil': 'a\r\nSet-Cookie: pwned=1',
          'Bad Name': 'x',
          'Content-Length': '999',
          'X-Unicode': 'caf\u20ac',
          'X-Object': { nested: true } as unknown as string,
          'X-Limit': 'connections',
        },
      }),
      down: () => ({ ok: false, status: 503, headers: { 'Retry-After': '2' } }),
      unauthenticated: () => ({ ok: false }),
      'bad-status': () => ({ ok: false, status: 200 }),
      hostile: () =>
        ({
          ok: false,
          status: 403,
          get headers(): Record<string, string> {
            throw new Error('getter exploded');
          },
        }) as AuthResult,
      'thrown-rejection': () => {
        throw { ok: false, status: 403 };
      },
    };
    const { hub, url } = await startHub({
      authenticate: (req) => {
        const pick = cases[String(req.headers['x-case'])];
        if (pick === undefined) throw new Error('no case');
        return pick();
      },
    });
    const events = hubEvents();
    const at = (name: string) => upgrade(url, { 'x-case': name });

    expect((await at('ok')).status).toBe(101);
    expect((await at('true')).status).toBe(101);
    expect((await at('false')).status).toBe(401);
    expect((await at('null')).status).toBe(401);
    expect((await at('throw')).status).toBe(401);
    expect((await at('unauthenticated')).status).toBe(401);
    expect((await at('bad-status')).status).toBe(401);

    const forbidden = await at('forbidden');
    expect(forbidden.status).toBe(403);
    expect(forbidden.body).toBe('account suspended');
    expect(forbidden.headers['content-type']).toBe('text/plain; charset=utf-8');
    expect((await at('thrown-rejection')).status).toBe(403);

    const busy = await at('busy');
    expect(busy.status).toBe(429);
    expect(busy.headers['retry-after']).toBe('7');
    expect(busy.headers['x-limit']).toBe('connections');
    expect(busy.headers['set-cookie']).toBeUndefined();
    expect(busy.headers['x-evil']).toBeUndefined();
    expect(busy.headers['x-unicode']).toBeUndefined();
    expect(busy.headers['x-object']).toBeUndefined();
    expect(busy.headers['content-length']).toBe('0');
    expect(busy.body).toBe('');

    const down = await at('down');
    expect(down.status).toBe(503);
    expect(down.headers['retry-after']).toBe('2');

    // a refusal that cannot even be read drops the request: no crash, no unhandled rejection, the hub keeps serving
    await expect(at('hostile')).rejects.toThrow();
    expect((await at('true')).status).toBe(101);

    const stats = hub.stats() as HubStats;
    expect(stats.authRejected).toBe(9);
    expect(stats.authRejectedByStatus).toEqual({ '401': 5, '403': 2, '429': 1, '503': 1 });
    const rejected = events.filter((e) => e.event === 'auth-rejected');
    expect(rejected.map((e) => e.status)).toEqual([401, 401, 401, 401, 401, 403, 403, 429, 503]);
    expect(rejected.find((e) => e.status === 403)?.reason).toBe('account suspended');
    expect(rejected.find((e) => e.status === 429)?.reason).toBe('Too Many Requests');
  });

  it('answers 503 when the hub closed while authenticate was running', async () => {
    const server = createServer((_req, res) => res.end('ok'));
    const port = await freePort();
    await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
    cleanup.push(() => new Promise<void>((r) => server.close(() => r())));
    let release: (value: AuthResult) => void = () => {};
    let called = false;
    const hub = new StreamHub({
      server,
      heartbeatIntervalMs: 0,
      authenticate: () =>
        new Promise<AuthResult>((resolve) => {
          called = true;
          release = resolve;
        }),
    });
    await hub.ready();
    const outcome = upgrade(`ws://127.0.0.1:${port}/`);
    await waitFor(() => called, { what: 'authenticate called' });
    await hub.close();
    release(true);
    expect((await outcome).status).toBe(503);
    expect((hub.stats() as HubStats).authRejected).toBe(0);
  });

  it('authorizes every topic with the principal, on plain subscribe and on resume from an offset', async () => {
    const seen: Array<[unknown, string]> = [];
    const { hub, url } = await startHub({
      history: { maxMessages: 100 },
      authenticate: (req) => {
        const user = req.headers['x-user'];
        return typeof user === 'string' ? { user } : true;
      },
      authorize: (principal, topic) => {
        seen.push([principal?.user, topic]);
        if (topic === 'boom') throw new Error('policy store down');
        return topic === 'public' || topic.startsWith(`${String(principal?.user)}.`);
      },
    });
    const events = hubEvents();
    const alice = await TestHubClient.connect(url, { 'x-user': 'alice' });
    cleanup.push(() => alice.close());
    const anonymous = await TestHubClient.connect(url);
    cleanup.push(() => anonymous.close());

    // plain subscribe
    const own = await alice.subscribe('alice.orders');
    alice.send({ op: 'subscribe', topic: 'bob.orders', id: 1 });
    await alice.waitFor((m) => m.type === 'error' && m.code === 'forbidden' && m.id === 1);
    alice.send({ op: 'subscribe', topic: 'boom', id: 2 });
    await alice.waitFor((m) => m.type === 'error' && m.code === 'forbidden' && m.id === 2);
    await anonymous.subscribe('public');
    anonymous.send({ op: 'subscribe', topic: 'alice.orders', id: 3 });
    await anonymous.waitFor((m) => m.type === 'error' && m.code === 'forbidden' && m.id === 3);
    expect(seen).toContainEqual(['alice', 'alice.orders']);
    expect(seen).toContainEqual([undefined, 'public']);

    for (let i = 1; i <= 3; i++) hub.publish('bob.orders', { i });
    for (let i = 1; i <= 3; i++) hub.publish('alice.orders', { i });
    await waitFor(() => alice.messages('alice.orders').length === 3);

    // resume from an offset: a forbidden topic replays nothing and reveals no epoch/offset (not even a resnapshot)
    const bobEpoch = await peekEpoch(url, 'bob.orders');
    const resumesBefore = (hub.stats() as HubStats).resumes;
    const resnapshotsBefore = (hub.stats() as HubStats).resnapshots;
    alice.send({ op: 'subscribe', topic: 'bob.orders', offset: 0, epoch: bobEpoch, id: 4 });
    await alice.waitFor((m) => m.type === 'error' && m.code === 'forbidden' && m.id === 4);
    alice.send({ op: 'subscribe', topic: 'bob.orders', offset: 1, epoch: 'stale', id: 5 });
    await alice.waitFor((m) => m.type === 'error' && m.code === 'forbidden' && m.id === 5);
    // an allowed resume on the same connection replays, proving the forbidden ones were answered first
    const again = await TestHubClient.connect(url, { 'x-user': 'alice' });
    cleanup.push(() => again.close());
    again.send({ op: 'subscribe', topic: 'alice.orders', offset: 1, epoch: own.epoch, id: 6 });
    await waitFor(() => again.messages('alice.orders').length === 2, { what: 'allowed resume replays' });
    expect(again.messages('alice.orders').map((m) => m.offset)).toEqual([2, 3]);
    hub.publish('bob.orders', { i: 4 });
    hub.publish('alice.orders', { i: 4 });
    await waitFor(() => alice.messages('alice.orders').length === 4);
    expect(alice.messages('bob.orders')).toHaveLength(0);
    expect(alice.received.some((m) => m.topic === 'bob.orders' && m.type !== 'error')).toBe(false);
    expect(anonymous.messages('alice.orders')).toHaveLength(0);

    const stats = hub.stats() as HubStats;
    expect(stats.forbidden).toBe(5);
    expect(stats.resumes).toBe(resumesBefore + 1);
    expect(stats.resnapshots).toBe(resnapshotsBefore);
    expect(events.filter((e) => e.event === 'forbidden').map((e) => e.topic)).toEqual([
      'bob.orders',
      'boom',
      'alice.orders',
      'bob.orders',
      'bob.orders',
    ]);
  });
});

/** The epoch of a topic, as its owner learns it (a subscribe's answer). */
async function peekEpoch(url: string, topic: string): Promise<string> {
  const peek = await TestHubClient.connect(url, { 'x-user': topic.split('.')[0] ?? '' });
  try {
    return String((await peek.subscribe(topic)).epoch);
  } finally {
    await peek.close();
  }
}
