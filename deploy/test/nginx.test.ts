import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { connect as http2Connect } from 'node:http2';
import { Agent, request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import {
  freePort,
  runTestssl,
  SELF_SIGNED_CERT_FINDINGS,
  selfSignedCert,
  serviceUrls,
  TESTSSL_FULL_CHECKS,
  TESTSSL_POLICY_CHECKS,
  testsslFinding,
  uniqueName,
  waitFor,
} from '@cryptoscalp/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { issueToken } from '../../apps/trader/src/http/tokens.js';
import { NginxConfigError, type NginxSettings, renderNginxConfig } from '../nginx/render-config.js';
import { NginxServer } from '../rehearsal/nginx-server.js';
import { dropTraderSchema, startTraderRole, type TraderRole } from '../rehearsal/trader-process.js';

// deploy/nginx for real: rendered, checked by `nginx -t`, then run (its own prefix, ports and PID) in front of a
// real trader process (role all: simulator, in-process cache, the local PostgreSQL in its own schema), and probed over TLS, HTTP/2 and WebSocket.

const secret = 'nginx-test-secret-0123456789abcdef0123456789';
const dir = mkdtempSync(join(tmpdir(), 'nginx-test-'));
const schema = uniqueName('nginx_test');
const started = new Set<TraderRole>();
let nginx: NginxServer | undefined;
let settings: NginxSettings;
let ca: string;
let httpsPort: number;
let httpPort: number;
let trader: TraderRole;
let token: string;

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

const agent = () => new Agent({ ca, keepAlive: true, maxSockets: 4, servername: 'localhost' });

function get(url: string, options: { agent?: Agent; headers?: Record<string, string> } = {}): Promise<Reply> {
  const req = url.startsWith('https:') ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const r = req(url, { ca, servername: 'localhost', ...options }, (res) => {
      let body = '';
      res.on('data', (d) => {
        body += String(d);
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    r.on('error', reject);
    r.end();
  });
}

/** A TLS handshake with the given client limits: the negotiated version, ALPN and cipher, or the error. */
function handshake(options: {
  minVersion?: 'TLSv1.2' | 'TLSv1.3';
  maxVersion?: 'TLSv1.2' | 'TLSv1.3';
  ciphers?: string;
}) {
  return new Promise<{ protocol: string | null; alpn: string | false; cipher: string; ticket: boolean } | Error>(
    (resolve) => {
      const s = tlsConnect({
        host: '127.0.0.1',
        port: httpsPort,
        servername: 'localhost',
        ca,
        ALPNProtocols: ['h2', 'http/1.1'],
        ...options,
      });
      s.once('secureConnect', () => {
        const out = {
          protocol: s.getProtocol(),
          alpn: s.alpnProtocol ?? false,
          cipher: s.getCipher().standardName,
          ticket: s.getTLSTicket() !== undefined,
        };
        s.end();
        resolve(out);
      });
      s.once('error', (e) => resolve(e));
    },
  );
}

beforeAll(async () => {
  // A year of validity: testssl.sh rates a certificate that expires within 60 days MEDIUM.
  const cert = await selfSignedCert(dir, 'tls', 365);
  ca = readFileSync(cert.cert, 'utf8');
  [httpPort, httpsPort] = [await freePort(), await freePort()];
  const traderPort = await freePort();
  trader = await startTraderRole(
    'all',
    traderPort,
    {
      TRADER_ENV: 'test',
      DATABASE_URL: serviceUrls.postgres,
      TRADER_DATABASE_SCHEMA: schema,
      TRADER_DATA_DIR: join(dir, 'data'),
      TRADER_JWT_SECRET: secret,
      TRADER_HTTP_SHUTDOWN_DELAY_MS: '0',
    },
    started,
  );
  token = await issueToken({ sub: 'nginx-test', role: 'viewer', secret, ttl: '10m' });
  settings = {
    workerProcesses: '1',
    pidFile: join(dir, 'nginx.pid'),
    errorLog: 'stderr warn',
    accessLog: 'off',
    apiRate: '10r/s',
    apiBurst: '5',
    connPerClient: '6',
    resolver: '127.0.0.1',
    httpListen: `127.0.0.1:${httpPort}`,
    httpsListen: `127.0.0.1:${httpsPort}`,
    serverName: 'localhost',
    tlsCert: cert.cert,
    tlsKey: cert.key,
    gateways: [`127.0.0.1:${traderPort}`],
  };
  nginx = await NginxServer.start(settings, join(dir, 'prefix'), httpsPort);
}, 180_000);

afterAll(async () => {
  try {
    await nginx?.stop();
  } finally {
    for (const p of started) await p.stop();
    await dropTraderSchema(serviceUrls.postgres, schema);
    rmSync(dir, { recursive: true, force: true });
  }
}, 60_000);

describe('nginx in front of a trader', () => {
  it('passes nginx -t, and the renderer refuses unknown, missing and injected settings', async () => {
    const out = await NginxServer.check(nginx?.prefix as string, nginx?.conf as string);
    expect(out).toMatch(/syntax is ok/);
    expect(out).toMatch(/test is successful/);
    const other = join(dir, 'bad');
    expect(() => renderNginxConfig({ ...settings, gzip: 'on' } as NginxSettings, other)).toThrow(
      /gzip: is not a known setting/,
    );
    expect(() => renderNginxConfig({ ...settings, apiBurst: '5; allow all' }, other)).toThrow(NginxConfigError);
    expect(() => renderNginxConfig({ ...settings, gateways: [] }, other)).toThrow(/gateways/);
    const { resolver: _gone, ...missing } = settings;
    expect(() => renderNginxConfig(missing as NginxSettings, other)).toThrow(/resolver/);
  });

  it('redirects plain HTTP to HTTPS, keeping the path', async () => {
    const r = await get(`http://127.0.0.1:${httpPort}/api/status?x=1`, { headers: { host: 'localhost' } });
    expect(r.status).toBe(301);
    expect(r.headers.location).toBe('https://localhost/api/status?x=1');
  });

  it('speaks TLS 1.3 and HTTP/2, TLS 1.2 only with forward-secret AEAD suites, without session tickets', async () => {
    const modern = await handshake({});
    expect(modern).not.toBeInstanceOf(Error);
    expect(modern).toMatchObject({ protocol: 'TLSv1.3', alpn: 'h2' });
    const tls12 = await handshake({ maxVersion: 'TLSv1.2', ciphers: 'ECDHE-ECDSA-AES128-GCM-SHA256' });
    expect(tls12).toMatchObject({
      protocol: 'TLSv1.2',
      cipher: 'TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256',
      ticket: false,
    });
    // CBC with SHA-1 MAC and no forward secrecy: offered alone, the server must refuse the handshake.
    expect(await handshake({ maxVersion: 'TLSv1.2', ciphers: 'ECDHE-ECDSA-AES128-SHA' })).toBeInstanceOf(Error);
    expect(await handshake({ maxVersion: 'TLSv1.2', ciphers: 'AES128-GCM-SHA256' })).toBeInstanceOf(Error);
  });

  it('serves the dashboard over HTTP/2 with HSTS, and hashed assets with a year of immutable caching', async () => {
    const session = http2Connect(`https://127.0.0.1:${httpsPort}`, { ca, servername: 'localhost' });
    try {
      const fetch2 = (path: string) =>
        new Promise<{ headers: Record<string, unknown>; body: string }>((resolve, reject) => {
          const s = session.request({ ':path': path, ':authority': 'localhost' });
          let headers: Record<string, unknown> = {};
          let body = '';
          s.on('response', (h) => {
            headers = h;
          });
          s.on('data', (d) => {
            body += String(d);
          });
          s.on('end', () => resolve({ headers, body }));
          s.on('error', reject);
          s.end();
        });
      const page = await fetch2('/');
      expect(page.headers[':status']).toBe(200);
      expect(page.headers['strict-transport-security']).toBe('max-age=63072000; includeSubDomains');
      const asset = /\/assets\/[^"]+\.[0-9a-f]{10}\.js/.exec(page.body)?.[0];
      expect(asset, 'the page references a hashed asset').toBeDefined();
      const a = await fetch2(asset as string);
      expect(a.headers[':status']).toBe(200);
      expect(a.headers['cache-control']).toBe('public, max-age=31536000, immutable');
      expect(a.headers['strict-transport-security']).toBe('max-age=63072000; includeSubDomains');
    } finally {
      session.close();
    }
  });

  it('refuses /metrics and /health details from outside, which the trader itself serves', async () => {
    const auth = { authorization: `Bearer ${token}` };
    expect((await get(`${trader.url}/metrics`, { headers: auth })).status).toBe(200);
    // Its health status answers 200 or 503 by the components' state; either way the trader serves it.
    expect([200, 503]).toContain((await get(`${trader.url}/health/status`, { headers: auth })).status);
    for (const path of ['/metrics', '/health/status', '/health/readiness'])
      expect((await get(`https://127.0.0.1:${httpsPort}${path}`, { headers: auth })).status, path).toBe(403);
    expect((await get(`https://127.0.0.1:${httpsPort}/api/status`, { headers: auth })).status).toBe(200);
  });

  it('upgrades /api/stream to a WebSocket and delivers live messages through it', async () => {
    const ws = new WebSocket(`wss://127.0.0.1:${httpsPort}/api/stream`, ['bearer', token], { ca });
    const seen: { type: string; topic?: string }[] = [];
    ws.on('message', (raw) => seen.push(JSON.parse(String(raw))));
    try {
      await new Promise<void>((resolve, reject) => {
        ws.once('open', () => resolve());
        ws.once('error', reject);
      });
      ws.send(JSON.stringify({ op: 'subscribe', topic: 'prices.BTCUSDT' }));
      await waitFor(() => seen.some((m) => m.type === 'message' && m.topic === 'prices.BTCUSDT'), {
        timeoutMs: 30_000,
        what: 'a price through nginx',
      });
      expect(seen[0]).toMatchObject({ type: 'subscribed', topic: 'prices.BTCUSDT' });
    } finally {
      ws.terminate();
    }
  });

  it('limits connections per client: streams beyond the limit are refused with 429', async () => {
    const sockets: WebSocket[] = [];
    const outcomes: (number | 'open')[] = [];
    try {
      // Spaced below the request rate, so only the connection limit can refuse them.
      for (let i = 0; i < 8; i++) {
        const ws = new WebSocket(`wss://127.0.0.1:${httpsPort}/api/stream`, ['bearer', token], { ca });
        sockets.push(ws);
        outcomes.push(
          await new Promise<number | 'open'>((resolve) => {
            ws.once('open', () => resolve('open'));
            ws.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
            ws.once('error', () => resolve(0));
          }),
        );
        await new Promise((r) => setTimeout(r, 200));
      }
    } finally {
      for (const ws of sockets) ws.terminate();
    }
    expect(outcomes.filter((o) => o === 'open').length).toBe(Number(settings.connPerClient));
    expect(outcomes.filter((o) => o !== 'open')).toEqual([429, 429]);
  });

  it('rate limits a burst of API requests with 429 from nginx, before the gateway sees them', async () => {
    await new Promise((r) => setTimeout(r, 1_500)); // the leaky bucket drains from the previous tests
    const keepAlive = agent();
    try {
      const started = performance.now();
      const replies = await Promise.all(
        Array.from({ length: 40 }, () =>
          get(`https://127.0.0.1:${httpsPort}/api/status`, {
            agent: keepAlive,
            headers: { authorization: `Bearer ${token}` },
          }),
        ),
      );
      const seconds = (performance.now() - started) / 1000;
      const statuses = replies.map((r) => r.status);
      expect(statuses.every((s) => s === 200 || s === 429)).toBe(true);
      // The leaky bucket admits the burst at once, then the rate: however slowly the burst went through (a busy
      // machine), no more than that was let through, and the rest was refused.
      const admitted = statuses.filter((s) => s === 200).length;
      expect(admitted).toBeGreaterThanOrEqual(Number(settings.apiBurst));
      const perSecond = Number.parseInt(settings.apiRate, 10);
      expect(admitted).toBeLessThanOrEqual(Number(settings.apiBurst) + 1 + Math.ceil(seconds * perSecond));
      const refused = replies.filter((r) => r.status === 429);
      expect(refused.length).toBe(40 - admitted);
      expect(refused.length).toBeGreaterThan(0);
      // nginx's own page, not the trader's JSON E_API_RATE_LIMITED (whose per-IP limit is 1,000 per 10 s).
      for (const r of refused) expect(r.body).toMatch(/<html>/);
    } finally {
      keepAlive.destroy();
    }
  });
  it('passes testssl.sh: no finding of MEDIUM or worse but the self-signed certificate, HSTS present', async () => {
    // TESTSSL_FULL=1 (`npm run test:tls`) adds server defaults, cipher preference and the vulnerability checks.
    const full = process.env.TESTSSL_FULL === '1';
    const report = await runTestssl(httpsPort, {
      checks: full ? TESTSSL_FULL_CHECKS : TESTSSL_POLICY_CHECKS,
      exclude: SELF_SIGNED_CERT_FINDINGS,
    });
    console.log(
      `testssl (${full ? 'full' : 'policy'} checks) against nginx: ${report.findings.length} findings in ${Math.round(report.durationMs / 1000)} s`,
    );
    expect(report.failing).toEqual([]);
    expect(testsslFinding(report, 'TLS1')?.finding).toMatch(/not offered/);
    expect(testsslFinding(report, 'TLS1_1')?.finding).toMatch(/not offered/);
    expect(testsslFinding(report, 'TLS1_3')?.finding).toMatch(/offered/);
    expect(testsslFinding(report, 'HSTS_time')).toMatchObject({ severity: 'OK' });
  }, 420_000);
});
