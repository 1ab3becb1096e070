import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { serviceUrls, uniqueName, waitFor } from '@cryptoscalp/testkit';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { createApiServer, issueToken, type RunningApiServer } from '../../src/api/index.js';
import { FakeTrader } from './api-fake-trader.js';
import { SECRET } from './api-harness.js';

const pool = new pg.Pool({ connectionString: serviceUrls.postgres, max: 2 });
const schema = uniqueName('api_mount');

afterAll(async () => {
  await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`).catch(() => {});
  await pool.end();
});

describe('mounted on the trader’s own HTTP server (httpFallback)', () => {
  it('serves the API, the dashboard and the stream through the host server, and leaves it open on close', async () => {
    let api: RunningApiServer | undefined;
    // The host: answers its own paths (like the trader's health handler) and hands the rest to the API.
    const host = createServer((req: IncomingMessage, res: ServerResponse) => {
      if (req.url === '/health/liveness') return void res.end('{"status":"pass"}');
      if (api !== undefined) return void api.handler(req, res);
      res.writeHead(503).end();
    });
    await new Promise<void>((r) => host.listen(0, '127.0.0.1', r));
    const base = `http://127.0.0.1:${(host.address() as AddressInfo).port}`;
    const trader = new FakeTrader();
    api = await createApiServer({ server: host, trader, auth: { secret: SECRET }, audit: { pool, schema } });
    try {
      expect(api.url).toBe(base);
      expect(api.server).toBe(host);
      const token = await issueToken({ sub: 'm', role: 'viewer', secret: SECRET });
      expect(await (await fetch(`${base}/health/liveness`)).json()).toEqual({ status: 'pass' });
      const me = await fetch(`${base}/api/me`, { headers: { authorization: `Bearer ${token}` } });
      expect(await me.json()).toMatchObject({ sub: 'm', role: 'viewer' });
      expect((await fetch(`${base}/api/me`)).status).toBe(401);
      expect((await fetch(`${base}/`)).headers.get('content-type')).toMatch(/text\/html/);

      const ws = new WebSocket(`${base.replace('http', 'ws')}/api/stream`, ['bearer', token]);
      const got: { type: string; topic?: string; data?: { total: number } }[] = [];
      ws.on('message', (raw) => got.push(JSON.parse(raw.toString())));
      await new Promise((r) => ws.once('open', r));
      ws.send(JSON.stringify({ op: 'subscribe', topic: 'pnl' }));
      await waitFor(() => got.some((m) => m.type === 'subscribed'), { what: 'subscribed' });
      trader.emit({ type: 'pnl', pnl: { ...trader.pnlNow, total: 7 } });
      await waitFor(() => got.some((m) => m.type === 'message'), { what: 'pnl message' });
      expect(got.find((m) => m.type === 'message')?.data?.total).toBe(7);
      ws.close();
    } finally {
      await api.close();
    }
    expect(host.listening).toBe(true);
    expect((await fetch(`${base}/health/liveness`)).status).toBe(200);
    await new Promise<void>((r) => host.close(() => r()));
  });
});
