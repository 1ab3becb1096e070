import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PoolManager } from '@cryptoscalp/db-pool';
import { freePort, serviceUrls, uniqueName, waitFor } from '@cryptoscalp/testkit';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { issueToken } from '../../src/http/tokens.js';
import { killTraderChildren, startTraderProcess, type TraderProcess } from './trader-process.js';

// One engine and two gateways as separate processes on the real Redis and PostgreSQL: the gateways serve from
// the engine's event stream and send commands back over the bus.
const schema = uniqueName('trader_roles');
const busKey = `test:${uniqueName('roles')}`;
const dataDir = mkdtempSync(join(tmpdir(), 'trader-roles-'));
const secret = 'roles-test-secret-0123456789abcdef0123456789';
const admin = new PoolManager({ primary: { connectionString: serviceUrls.postgres } });
const redis = new Redis(serviceUrls.redis);

afterAll(async () => {
  await killTraderChildren();
  await admin.query(`drop schema if exists ${schema} cascade`);
  await admin.close();
  const keys = await redis.keys(`${busKey}*`);
  if (keys.length > 0) await redis.del(...keys);
  const cacheKeys = await redis.keys(`${busKey.replace(/:/g, '.')}*`);
  if (cacheKeys.length > 0) await redis.del(...cacheKeys);
  redis.disconnect();
  rmSync(dataDir, { recursive: true, force: true });
}, 60_000);

const env = (extra: Record<string, string> = {}): Record<string, string> => ({
  REDIS_URL: serviceUrls.redis,
  DATABASE_URL: serviceUrls.postgres,
  TRADER_DATABASE_SCHEMA: schema,
  TRADER_BUS_KEY: busKey,
  TRADER_BUS_SNAPSHOT_INTERVAL_MS: '1000',
  TRADER_CACHE_PREFIX: busKey.replace(/:/g, '.'),
  TRADER_JWT_SECRET: secret,
  TRADER_HTTP_SHUTDOWN_DELAY_MS: '0',
  TRADER_STRATEGY_WARMUP_SAMPLES: '40',
  TRADER_INSTANCE_ID: 'roles',
  ...extra,
});

interface StreamMessage {
  type: string;
  topic?: string;
  epoch?: string;
  offset?: number;
  data?: { fillId?: string } & Record<string, unknown>;
}

/** A stream client on the fills topic that remembers what it saw and can resume on another connection. */
class FillsClient {
  readonly fills: { fillId: string; offset: number }[] = [];
  epoch: string | undefined;
  offset: number | undefined;
  resnapshots = 0;
  ws: WebSocket | undefined;

  async connect(base: string, token: string): Promise<void> {
    const ws = new WebSocket(`${base.replace(/^http/, 'ws')}/api/stream`, ['bearer', token]);
    this.ws = ws;
    ws.on('message', (raw) => {
      const m = JSON.parse(String(raw)) as StreamMessage;
      if (m.type === 'subscribed') this.epoch = m.epoch;
      if (m.type === 'resnapshot') this.resnapshots++;
      if (m.type === 'message' && m.topic === 'fills' && m.data?.fillId !== undefined) {
        this.fills.push({ fillId: m.data.fillId, offset: m.offset as number });
        this.epoch = m.epoch;
        this.offset = m.offset;
      }
    });
    ws.on('error', () => {});
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    ws.send(
      JSON.stringify({
        op: 'subscribe',
        topic: 'fills',
        ...(this.offset === undefined ? {} : { offset: this.offset, epoch: this.epoch }),
      }),
    );
  }

  close(): void {
    this.ws?.terminate();
  }
}

async function api(base: string, token: string, path: string, init: RequestInit = {}) {
  const res = await fetch(`${base}${path}`, {
    ...init,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', ...(init.headers ?? {}) },
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> & unknown[] };
}

describe('roles: one engine, two gateways', () => {
  it('streams the engine fills through gateway A, survives a gateway restart without losing a fill, and takes a kill switch through gateway B', async () => {
    const token = await issueToken({ sub: 'ops', role: 'admin', secret, ttl: '10m' });
    const engine: TraderProcess = startTraderProcess(['--role', 'engine', '--port', '0', '--data-dir', dataDir], env());
    const engineUrl = await engine.ready();
    const portA = await freePort();
    const gatewayA = startTraderProcess(
      ['--role', 'gateway', '--port', String(portA)],
      env({ TRADER_INSTANCE_ID: 'gw-a' }),
    );
    const gatewayB = startTraderProcess(['--role', 'gateway', '--port', '0'], env({ TRADER_INSTANCE_ID: 'gw-b' }));
    const baseA = await gatewayA.ready();
    const baseB = await gatewayB.ready();

    const client = new FillsClient();
    await client.connect(baseA, token);
    await waitFor(() => client.fills.length >= 3, { timeoutMs: 60_000, intervalMs: 100, what: 'fills on gateway A' });

    // Gateway A dies hard; fills keep coming from the engine meanwhile; a new gateway A comes up on the same port.
    client.close();
    gatewayA.child.kill('SIGKILL');
    await gatewayA.exited;
    const seenBefore = client.fills.length;
    // Fills the restarted gateway's clients must not miss: wait until the engine made some while A was down.
    const fillCount = async () => ((await api(baseB, token, '/api/fills?limit=1000')).body as unknown[]).length;
    const atKill = await fillCount();
    await waitFor(async () => (await fillCount()) >= atKill + 2, {
      timeoutMs: 60_000,
      intervalMs: 200,
      what: 'fills while A is down',
    });
    const gatewayA2 = startTraderProcess(
      ['--role', 'gateway', '--port', String(portA)],
      env({ TRADER_INSTANCE_ID: 'gw-a' }),
    );
    await gatewayA2.ready();
    await client.connect(baseA, token);
    await waitFor(() => client.fills.length >= seenBefore + 3, {
      timeoutMs: 60_000,
      intervalMs: 100,
      what: 'fills after restart',
    });

    // The kill switch goes through gateway B, halts the engine, and shows on both gateways.
    const engaged = await api(baseB, token, '/api/kill-switch', {
      method: 'POST',
      body: JSON.stringify({ mode: 'HALTED', reason: 'roles test' }),
    });
    expect(engaged.status).toBe(200);
    expect(engaged.body.mode).toBe('HALTED');
    for (const base of [baseA, baseB])
      await waitFor(async () => (await api(base, token, '/api/risk')).body.mode === 'HALTED', {
        timeoutMs: 10_000,
        what: `HALTED on ${base}`,
      });
    // The engine's own health shows it (its checks are cached for a moment).
    await waitFor(async () => (await (await fetch(`${engineUrl}/health/status`)).text()).includes('HALTED'), {
      timeoutMs: 10_000,
      what: 'HALTED in the engine health',
    });

    // Every fill the engine made up to now reached the client exactly once, in order, the restart included.
    await new Promise((r) => setTimeout(r, 1_000));
    const all = (await api(baseB, token, '/api/fills?limit=1000')).body as unknown as { fillId: string }[];
    const engineFills = all.map((f) => f.fillId).reverse();
    const first = engineFills.indexOf(client.fills[0]?.fillId as string);
    expect(first).toBeGreaterThanOrEqual(0);
    const received = client.fills.map((f) => f.fillId);
    expect(new Set(received).size).toBe(received.length);
    expect(received).toEqual(engineFills.slice(first, first + received.length));
    expect(engineFills.length - first).toBe(received.length);
    expect(client.resnapshots).toBe(0);
    client.close();

    for (const p of [gatewayA2, gatewayB, engine]) expect(await p.stop()).toBe(0);
    expect(engine.output()).toMatch(/trader: summary/);
  }, 240_000);
});
