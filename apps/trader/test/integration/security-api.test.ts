import { readdirSync } from 'node:fs';
import { connect } from 'node:net';
import { waitFor } from '@cryptoscalp/testkit';
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { type Harness, type Json, SECRET, startHarness, upgradeRequest } from './api-harness.js';

/** The probe's findings 2, 3, 4, 7 and 8 against the API server (fake trader, real PostgreSQL for the audit log). */
const METRICS_TOKEN = 'scrape-4f9c2e71b8d05a36c1e7f2094ab8d6e3';
let h: Harness;
let renders = 0;

beforeAll(async () => {
  h = await startHarness({
    metrics: async () => {
      renders++;
      return { contentType: 'text/plain; version=0.0.4; charset=utf-8', body: 'trader_up 1\n' };
    },
    metricsToken: METRICS_TOKEN,
    // Long enough that every scrape of the flood below shares one rendering, however slow the machine.
    metricsMaxAgeMs: 60_000,
    metricsMaxPerSecond: 20,
  });
});

afterAll(async () => {
  await h?.close();
});

const auditRows = async (action: string): Promise<Json[]> =>
  (await h.pool.query(`SELECT * FROM "${h.schema}".audit_log WHERE action = $1 ORDER BY id`, [action])).rows;

/** A raw upgrade to `path`: waits for the server's answer (or 2 s), then closes the client side. */
function upgradeThenClose(path: string): Promise<string> {
  const { hostname, port } = new URL(h.api.url);
  return new Promise((resolve) => {
    let text = '';
    const socket = connect(Number(port), hostname, () =>
      socket.write(
        `GET ${path} HTTP/1.1\r\nHost: ${hostname}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n` +
          'Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n',
      ),
    );
    const done = () => {
      clearTimeout(timer);
      socket.destroy();
      resolve(text);
    };
    const timer = setTimeout(done, 2_000);
    socket.on('data', (d) => {
      text += d.toString();
      done();
    });
    socket.on('close', done);
    socket.on('error', done);
  });
}

const openFds = (): number => readdirSync('/proc/self/fd').length;

describe('upgrades to other paths (probe finding 2)', () => {
  it('are answered 404 and closed: 300 of them leave no descriptor behind', async () => {
    const before = openFds();
    const answers: string[] = [];
    for (let batch = 0; batch < 6; batch++)
      answers.push(...(await Promise.all(Array.from({ length: 50 }, () => upgradeThenClose('/x')))));
    expect(answers.every((a) => a.startsWith('HTTP/1.1 404 '))).toBe(true);
    // The server closes its side: the descriptors come back (a leak kept one per upgrade, in CLOSE-WAIT).
    await waitFor(() => openFds() <= before + 5, { timeoutMs: 10_000, what: `open fds back to ${before}` });
  });
});

describe('/metrics and the scrape token (probe finding 3)', () => {
  it('takes the scrape token on /metrics only, and a token of any role', async () => {
    const scrape = await h.call('GET', '/metrics', { token: METRICS_TOKEN });
    expect(scrape.status).toBe(200);
    expect(scrape.body).toBe('trader_up 1\n');
    expect((await h.call('GET', '/metrics', { token: h.tokens.viewer })).status).toBe(200);
    expect((await h.call('GET', '/metrics')).status).toBe(401);
    expect((await h.call('GET', '/metrics', { token: `${METRICS_TOKEN}x` })).status).toBe(401);
    expect((await h.call('GET', '/metrics', { token: METRICS_TOKEN.slice(0, -1) })).status).toBe(401);
    for (const path of ['/api/me', '/api/positions', '/api/audit'])
      expect((await h.call('GET', path, { token: METRICS_TOKEN })).status, path).toBe(401);
  });

  it('renders once for a flood of 50 concurrent scrapes, and answers the scrapes beyond the cap with a cheap 429', async () => {
    const before = renders;
    const all = await Promise.all(
      Array.from({ length: 50 }, () => h.call('GET', '/metrics', { token: METRICS_TOKEN })),
    );
    expect(renders - before).toBeLessThanOrEqual(1);
    const served = all.filter((r) => r.status === 200);
    // 20 a second: the flood may straddle one second boundary.
    expect(served.length).toBeGreaterThanOrEqual(1);
    expect(served.length).toBeLessThanOrEqual(40);
    for (const r of all.filter((x) => x.status !== 200)) {
      expect(r.status).toBe(429);
      expect(r.headers.get('retry-after')).toBe('1');
      expect(r.body.message).toBe('at most 20 /metrics scrapes per second');
    }
  });
});

describe('query integers (probe finding 4)', () => {
  it('accepts plain decimal digits only, within the bounds, and never answers 500', async () => {
    expect((await h.call('GET', '/api/orders?limit=5', { token: h.tokens.viewer })).status).toBe(200);
    for (const bad of [
      'Infinity',
      '-Infinity',
      '0x10',
      '%205',
      '5%20',
      '1e3',
      '',
      '%2B5',
      '05',
      '5.0',
      '1000000000000000000000',
      'NaN',
    ]) {
      const r = await h.call('GET', `/api/orders?limit=${bad}`, { token: h.tokens.viewer });
      expect(r.status, bad).toBe(400);
      expect(r.body).toMatchObject({ code: 'E_API_BAD_REQUEST', field: 'querystring.limit' });
    }
    const audit = await h.call('GET', '/api/audit?limit=Infinity', { token: h.tokens.admin });
    expect(audit.status).toBe(400);
    expect(audit.body.message).toMatch(/querystring\.limit must be a decimal integer/);
    expect((await h.call('GET', '/api/orders?limit=1001', { token: h.tokens.viewer })).status).toBe(400);
    expect((await h.call('GET', '/api/fills?since=0x10', { token: h.tokens.viewer })).body.field).toBe(
      'querystring.since',
    );
  });
});

describe('tokens (probe finding 7)', () => {
  const sign = (iat: number, exp: number) =>
    new SignJWT({ role: 'admin' })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setSubject('long-lived')
      .setIssuer('cryptoscalp-trader')
      .setAudience('cryptoscalp-api')
      .setIssuedAt(iat)
      .setExpirationTime(exp)
      .sign(new TextEncoder().encode(SECRET));

  it('refuses a token living longer than the maximum with 401 (not 500), and audits the refusal', async () => {
    const now = Math.floor(Date.now() / 1000);
    for (const exp of [now + 1e12, now + 31 * 86_400]) {
      const r = await h.call('GET', '/api/me', { token: await sign(now, exp) });
      expect(r.status).toBe(401);
      expect(r.body.message).toMatch(/lifetime exceeds the maximum of 2592000 s/);
    }
    // A forward-dated iat does not stretch the limit.
    const r = await h.call('GET', '/api/me', { token: await sign(now + 1e9, now + 1e9 + 60) });
    expect(r.status).toBe(401);
    expect((await h.call('GET', '/api/me', { token: await sign(now, now + 29 * 86_400) })).status).toBe(200);
    await waitFor(async () => (await auditRows('auth.failure')).some((row) => /lifetime/.test(row.detail.reason)), {
      timeoutMs: 10_000,
      what: 'audited refusal',
    });
  });

  it('accepts one spelling of a token: the other base64url spellings of its signature are refused', async () => {
    const token = h.tokens.trader;
    const last = token.at(-1) as string;
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const i = alphabet.indexOf(last);
    // A 32-byte HMAC is 43 characters: the last one carries 4 bits, and 2 spare bits the decoder ignores.
    const spellings = [0, 1, 2, 3].map((spare) => token.slice(0, -1) + alphabet[(i & ~3) | spare]);
    expect(spellings).toContain(token);
    for (const t of spellings) {
      const r = await h.call('GET', '/api/me', { token: t });
      expect(r.status, t.slice(-3)).toBe(t === token ? 200 : 401);
    }
  });
});

describe('streams (probe finding 8)', () => {
  const wsUrl = () => `${h.api.url.replace('http', 'ws')}/api/stream`;
  const open = (protocols: string[] | undefined, headers: Record<string, string> = {}) =>
    new Promise<WebSocket>((resolve, reject) => {
      const ws = new WebSocket(wsUrl(), protocols, { headers });
      ws.once('open', () => resolve(ws));
      ws.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
      ws.once('error', reject);
    });
  const reply = (ws: WebSocket, topic: string) =>
    new Promise<Json>((resolve) => {
      const onMessage = (raw: WebSocket.RawData) => {
        const m = JSON.parse(raw.toString());
        if (m.topic !== topic && m.type !== 'error') return;
        ws.off('message', onMessage);
        resolve(m);
      };
      ws.on('message', onMessage);
      ws.send(JSON.stringify({ op: 'subscribe', topic }));
    });

  it('no longer takes the token from the query string', async () => {
    expect((await upgradeRequest(`${h.api.url}/api/stream?token=${h.tokens.viewer}`)).status).toBe(401);
    const ws = await open(['bearer', h.tokens.viewer]);
    expect(ws.protocol).toBe('bearer');
    ws.close();
  });

  it('refuses pages of other origins (403) and takes its own and non-browser clients', async () => {
    const bearer = { 'sec-websocket-protocol': `bearer, ${h.tokens.viewer}` };
    const { host } = new URL(h.api.url);
    for (const origin of ['https://evil.example', 'null', `http://${host}.evil.example`])
      expect((await upgradeRequest(`${h.api.url}/api/stream`, { ...bearer, origin })).status, origin).toBe(403);
    expect((await upgradeRequest(`${h.api.url}/api/stream`, { ...bearer, origin: `http://${host}` })).status).toBe(101);
    expect((await upgradeRequest(`${h.api.url}/api/stream`, bearer)).status).toBe(101);
  });

  it('authorizes topics by role: a viewer gets the API topics, not audit or admin', async () => {
    const viewer = await open(['bearer', h.tokens.viewer]);
    expect((await reply(viewer, 'pnl')).type).toBe('subscribed');
    for (const topic of ['audit', 'admin', 'admin.users', 'whatever'])
      expect(await reply(viewer, topic), topic).toMatchObject({ type: 'error', code: 'forbidden' });
    viewer.close();
    const admin = await open(['bearer', h.tokens.admin]);
    for (const topic of ['audit', 'admin.users']) expect((await reply(admin, topic)).type, topic).toBe('subscribed');
    expect(await reply(admin, 'whatever')).toMatchObject({ type: 'error', code: 'forbidden' });
    admin.close();
  });
});
