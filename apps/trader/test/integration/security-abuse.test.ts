import { connect, createServer, type Server, type Socket as ServerSocket, type Socket } from 'node:net';
import { waitFor } from '@cryptoscalp/testkit';
import { Redis } from 'ioredis';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { ApiError } from '../../src/http/errors.js';
import { validateOptions } from '../../src/http/options.js';
import type { HttpServerOptions } from '../../src/http/types.js';
import { FakeTrader } from './api-fake-trader.js';
import { type Harness, startHarness, upgradeRequest } from './api-harness.js';

/**
 * Abuse limits (issue 16, item 4): the per-IP connection cap, header and request timeouts, upgrade rate limits and the
 * upgrade timeout on every path, and load shedding when the event loop is really starved. Each against a real server on
 * loopback (fake trader, real PostgreSQL for the audit log).
 */
const harnesses: Harness[] = [];
const sockets: Socket[] = [];

afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  for (const h of harnesses.splice(0)) await h.close();
});

async function start(overrides: Partial<HttpServerOptions>): Promise<Harness> {
  const h = await startHarness(overrides);
  harnesses.push(h);
  return h;
}

/** A raw TCP connection to the harness; resolves once connected. Records what it receives and when it closes. */
function open(h: Harness): Promise<{ socket: Socket; text: () => string; closed: Promise<void> }> {
  const { hostname, port } = new URL(h.api.url);
  return new Promise((resolve, reject) => {
    let text = '';
    const socket = connect(Number(port), hostname);
    sockets.push(socket);
    const closed = new Promise<void>((r) => socket.once('close', () => r()));
    socket.on('data', (d) => {
      text += d.toString();
    });
    socket.once('error', () => {});
    socket.once('connect', () => resolve({ socket, text: () => text, closed }));
    socket.once('close', () => reject(new Error('closed before connecting')));
  });
}

describe('options', () => {
  const base = { trader: new FakeTrader(), auth: { secret: 'x'.repeat(40) }, audit: { pool: {} as never } };
  it.each([
    [{ maxConnectionsPerIp: -1 }, 'maxConnectionsPerIp'],
    [{ maxConnectionsPerIp: 1.5 }, 'maxConnectionsPerIp'],
    [{ headersTimeoutMs: 0 }, 'headersTimeoutMs'],
    [{ requestTimeoutMs: '30s' }, 'requestTimeoutMs'],
    [{ upgradeTimeoutMs: 0 }, 'upgradeTimeoutMs'],
    [{ headersTimeoutMs: 20_000, requestTimeoutMs: 10_000 }, 'headersTimeoutMs'],
  ])('refuses %o naming %s', (bad, field) => {
    let error: unknown;
    try {
      validateOptions({ ...base, ...(bad as object) } as unknown as HttpServerOptions);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ApiError);
    expect(error).toMatchObject({ code: 'E_API_INVALID_OPTION', field });
  });

  it('has the documented defaults', () => {
    const o = validateOptions(base as unknown as HttpServerOptions);
    expect(o).toMatchObject({
      maxConnectionsPerIp: 256,
      headersTimeoutMs: 10_000,
      requestTimeoutMs: 30_000,
      upgradeTimeoutMs: 10_000,
    });
  });
});

describe('per-IP connection cap', () => {
  it('closes connections over maxConnectionsPerIp at once, counts them, and admits again once one closes', async () => {
    const h = await start({ maxConnectionsPerIp: 4 });
    const held = await Promise.all(Array.from({ length: 4 }, () => open(h)));
    await waitFor(() => h.api.stats().connections.open === 4, { what: '4 connections open' });
    // The fifth and sixth: accepted by the kernel, closed by the server before any byte is exchanged.
    for (let i = 0; i < 2; i++) {
      const extra = await open(h);
      extra.socket.write('GET /health/liveness HTTP/1.1\r\nHost: x\r\n\r\n');
      await extra.closed;
      expect(extra.text()).toBe('');
    }
    expect(h.api.stats().connections).toMatchObject({ open: 4, refused: 2 });
    // The held connections still work.
    held[0]?.socket.write('GET /api/openapi.json HTTP/1.1\r\nHost: x\r\n\r\n');
    await waitFor(() => (held[0]?.text() ?? '').startsWith('HTTP/1.1 200 '), { what: 'a held connection answered' });
    // One closes: a new one is admitted and served.
    held[1]?.socket.destroy();
    await waitFor(() => h.api.stats().connections.open === 3, { what: 'back to 3 open' });
    const again = await open(h);
    again.socket.write('GET /api/openapi.json HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    await again.closed;
    expect(again.text()).toMatch(/^HTTP\/1\.1 200 /);
    expect(h.api.stats().connections.refused).toBe(2);
  });

  it('caps stream connections too', async () => {
    const h = await start({ maxConnectionsPerIp: 2 });
    const url = `${h.api.url}/api/stream`;
    const auth = { 'sec-websocket-protocol': `bearer, ${h.tokens.viewer}` };
    // Two open WebSockets fill the cap (upgradeRequest closes its socket: hold them with raw sockets instead).
    const ws = await Promise.all([open(h), open(h)]);
    for (const w of ws)
      w.socket.write(
        'GET /api/stream HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n' +
          `Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Protocol: bearer, ${h.tokens.viewer}\r\n\r\n`,
      );
    await waitFor(() => ws.every((w) => w.text().startsWith('HTTP/1.1 101 ')), { what: 'two streams open' });
    await expect(upgradeRequest(url, auth)).rejects.toThrow();
    expect(h.api.stats().connections.refused).toBe(1);
  });

  it('exempts trusted proxies, whose connections carry many clients', async () => {
    const h = await start({ maxConnectionsPerIp: 2, trustProxy: 'loopback' });
    await Promise.all(Array.from({ length: 5 }, () => open(h)));
    await waitFor(() => h.api.stats().connections.open === 5, { what: '5 connections open' });
    expect(h.api.stats().connections.refused).toBe(0);
  });
});

describe('header and request timeouts (slow clients)', () => {
  it('answers 408 and closes a connection whose headers do not arrive in time', async () => {
    const h = await start({ headersTimeoutMs: 300, requestTimeoutMs: 600 });
    const slow = await open(h);
    slow.socket.write('GET /health/liveness HTTP/1.1\r\nHost: x\r\n');
    const silent = await open(h);
    const started = Date.now();
    await Promise.all([slow.closed, silent.closed]);
    // Node checks every second at most here (connectionsCheckingInterval), not every 30 s.
    expect(Date.now() - started).toBeLessThan(8_000);
    expect(slow.text()).toMatch(/^HTTP\/1\.1 408 /);
    expect(h.api.stats().connections.timedOut).toBeGreaterThanOrEqual(1);
  });

  it('answers 408 and closes a connection whose body trickles in', async () => {
    const h = await start({ headersTimeoutMs: 300, requestTimeoutMs: 800 });
    const slow = await open(h);
    slow.socket.write(
      `POST /api/kill-switch HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${h.tokens.admin}\r\n` +
        'Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{"mode":',
    );
    const timer = setInterval(() => slow.socket.write(' '), 100);
    try {
      await slow.closed;
    } finally {
      clearInterval(timer);
    }
    expect(slow.text()).toMatch(/^HTTP\/1\.1 408 /);
    expect(h.trader.calls.filter((c) => c.method === 'engageKillSwitch')).toHaveLength(0);
  });
});

describe('upgrades on every path', () => {
  it('rate limits upgrades to other paths per IP (429 with Retry-After), and counts them', async () => {
    const h = await start({ rateLimit: { perIp: 5, windowMs: 60_000 } });
    const answers = [];
    for (let i = 0; i < 7; i++) answers.push(await upgradeRequest(`${h.api.url}/x${i}`));
    expect(answers.slice(0, 5).map((a) => a.status)).toEqual([404, 404, 404, 404, 404]);
    expect(answers[5]).toMatchObject({ status: 429 });
    expect(Number(answers[5]?.retryAfter)).toBeGreaterThan(0);
    // The stream path shares the same per-IP budget.
    expect((await upgradeRequest(`${h.api.url}/api/stream`)).status).toBe(429);
    expect(h.api.stats().upgrades.refused).toBe(7);
  });

  describe('with a rate-limit store that never answers', () => {
    let blackhole: Server | undefined;
    const peers: ServerSocket[] = [];
    let redis: Redis | undefined;

    afterAll(async () => {
      redis?.disconnect();
      for (const p of peers) p.destroy();
      await new Promise<void>((r) => (blackhole === undefined ? r() : blackhole.close(() => r())));
    });

    it('refuses a stream upgrade with 503 once upgradeTimeoutMs has passed, instead of holding the socket', async () => {
      // A TCP peer that accepts and never answers: every Redis command waits forever.
      blackhole = createServer((s) => {
        peers.push(s);
        s.on('error', () => {});
      });
      await new Promise<void>((r) => blackhole?.listen(0, '127.0.0.1', () => r()));
      const address = blackhole.address();
      if (address === null || typeof address !== 'object') throw new Error('no address');
      redis = new Redis({ host: '127.0.0.1', port: address.port, lazyConnect: false, maxRetriesPerRequest: null });
      redis.on('error', () => {});
      const h = await start({
        redis,
        // The store's own timeout is far beyond the upgrade's: the upgrade timeout is what answers.
        rateLimit: { storeTimeoutMs: 60_000 },
        upgradeTimeoutMs: 300,
      });
      const started = Date.now();
      const answer = await upgradeRequest(`${h.api.url}/api/stream`, {
        'sec-websocket-protocol': `bearer, ${h.tokens.viewer}`,
      });
      expect(answer).toEqual({ status: 503, retryAfter: '1' });
      expect(Date.now() - started).toBeLessThan(10_000);
      expect(h.api.stats().upgrades.timedOut).toBe(1);
    });
  });
});

describe('load shedding when the event loop is starved', () => {
  it('sheds while the loop is blocked, and recovers once it is not', async () => {
    const h = await start({
      loadShedding: { maxEventLoopDelayMs: 100, maxHeapUsedBytes: 0, sampleIntervalMs: 100, retryAfterSec: 2 },
    });
    expect((await h.call('GET', '/api/me', { token: h.tokens.viewer })).status).toBe(200);
    // Block the (shared) event loop for 300 ms at a time, as a runaway computation in the trading loop would.
    let blocking = true;
    const block = () => {
      const until = performance.now() + 300;
      while (performance.now() < until) {
        // busy
      }
      if (blocking) setTimeout(block, 20);
    };
    setTimeout(block, 0);
    try {
      await waitFor(async () => (await h.call('GET', '/api/me', { token: h.tokens.viewer })).status === 503, {
        timeoutMs: 20_000,
        what: 'shedding',
      });
      const shed = await h.call('GET', '/api/positions', { token: h.tokens.viewer });
      expect(shed.status).toBe(503);
      expect(shed.body).toMatchObject({ code: 'E_API_OVERLOADED' });
      expect(shed.body.message).toMatch(/eventLoopDelay/);
      expect(shed.headers.get('retry-after')).toBe('2');
    } finally {
      blocking = false;
    }
    await waitFor(async () => (await h.call('GET', '/api/me', { token: h.tokens.viewer })).status === 200, {
      timeoutMs: 20_000,
      what: 'recovery',
    });
    expect(h.api.stats().shed).toBeGreaterThanOrEqual(2);
  }, 60_000);
});
