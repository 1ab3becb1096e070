import { request } from 'node:http';
import { serviceUrls, uniqueName } from '@cryptoscalp/testkit';
import pg from 'pg';
import { createHttpServer } from '../../src/http/server.js';
import { issueToken } from '../../src/http/tokens.js';
import type { TraderPort } from '../../src/http/trader-port.js';
import type { HttpServerOptions, RunningHttpServer } from '../../src/http/types.js';
import { FakeTrader } from './api-fake-trader.js';

/** A parsed JSON response body, read freely by the tests. */
// biome-ignore lint/suspicious/noExplicitAny: test code reads arbitrary JSON
export type Json = any;

export const SECRET = 'test-secret-0123456789abcdef-0123456789';

/** A server on loopback with a fake trader, its own audit schema, and tokens per role. */
export interface Harness {
  api: RunningHttpServer;
  trader: FakeTrader;
  pool: pg.Pool;
  schema: string;
  tokens: { viewer: string; trader: string; admin: string };
  call(
    method: string,
    path: string,
    init?: { token?: string; body?: unknown; headers?: Record<string, string>; rawBody?: string },
  ): Promise<{ status: number; body: Json; headers: Headers }>;
  close(): Promise<void>;
}

export async function startHarness(
  overrides: Partial<HttpServerOptions> = {},
  shared?: { pool: pg.Pool; schema: string; trader?: FakeTrader },
  port?: TraderPort,
): Promise<Harness> {
  const pool = shared?.pool ?? new pg.Pool({ connectionString: serviceUrls.postgres, max: 4 });
  const schema = shared?.schema ?? uniqueName('api_audit');
  const trader = shared?.trader ?? new FakeTrader();
  const api = await createHttpServer({
    trader: port ?? trader,
    auth: { secret: SECRET },
    audit: { pool, schema },
    ...overrides,
  });
  const tokens = {
    viewer: await issueToken({ sub: 'vera', role: 'viewer', secret: SECRET }),
    trader: await issueToken({ sub: 'theo', role: 'trader', secret: SECRET }),
    admin: await issueToken({ sub: 'ada', role: 'admin', secret: SECRET }),
  };
  const call: Harness['call'] = async (method, path, init = {}) => {
    const headers: Record<string, string> = { ...init.headers };
    if (init.token !== undefined) headers.authorization = `Bearer ${init.token}`;
    let body: string | undefined = init.rawBody;
    if (init.body !== undefined) {
      body = JSON.stringify(init.body);
      headers['content-type'] = 'application/json';
    }
    const res = await fetch(api.url + path, { method, headers, ...(body === undefined ? {} : { body }) });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = text === '' ? undefined : JSON.parse(text);
    } catch {
      // not JSON
    }
    return { status: res.status, body: parsed, headers: res.headers };
  };
  return {
    api,
    trader,
    pool,
    schema,
    tokens,
    call,
    async close() {
      await api.close();
      if (shared === undefined) {
        await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`).catch(() => {});
        await pool.end();
      }
    },
  };
}

/**
 * Sends a raw WebSocket upgrade request to `url` and resolves what the server answered: its status (101 on success)
 * and, on a refusal, its Retry-After header.
 */
export function upgradeRequest(
  url: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; retryAfter: string | undefined }> {
  return new Promise((resolve, reject) => {
    const req = request(url, {
      headers: {
        connection: 'Upgrade',
        upgrade: 'websocket',
        'sec-websocket-version': '13',
        'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==',
        ...headers,
      },
    });
    req.on('upgrade', (res, socket) => {
      socket.destroy();
      resolve({ status: res.statusCode ?? 0, retryAfter: undefined });
    });
    req.on('response', (res) => {
      res.resume();
      resolve({ status: res.statusCode ?? 0, retryAfter: res.headers['retry-after'] as string | undefined });
    });
    req.on('error', reject);
    req.end();
  });
}
