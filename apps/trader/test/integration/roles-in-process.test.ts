import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PoolManager } from '@cryptoscalp/db-pool';
import { serviceUrls, uniqueName, waitFor } from '@cryptoscalp/testkit';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import type { EventConsumer } from '../../src/app/components/event-consumer.js';
import { createTrader, type Trader } from '../../src/app/trader.js';
import { loadConfig } from '../../src/config/load-config.js';
import { issueToken } from '../../src/http/tokens.js';

// The engine and gateway roles in one test process (the separate-process version is roles.test.ts): the
// gateways' read models follow the engine's Redis stream, commands go back over Redis, a gateway started later
// begins from the snapshot, and an engine on a data dir that did not feed the stream is refused.
const SECRET = 'roles-in-process-secret-0123456789abcdef01234';
const schema = uniqueName('trader_rip');
const busKey = `test:${uniqueName('rip')}`;
const dirs: string[] = [];
const traders: Trader[] = [];
const admin = new PoolManager({ primary: { connectionString: serviceUrls.postgres } });
const redis = new Redis(serviceUrls.redis);

afterAll(async () => {
  for (const t of traders.reverse()) await t.stop('test end');
  await admin.query(`drop schema if exists ${schema} cascade`);
  await admin.close();
  for (const pattern of [`${busKey}*`, `${busKey.replace(/:/g, '.')}*`]) {
    const keys = await redis.keys(pattern);
    if (keys.length > 0) await redis.del(...keys);
  }
  redis.disconnect();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
}, 60_000);

function trader(role: 'engine' | 'gateway', extra: Record<string, unknown> = {}): Trader {
  const dataDir = mkdtempSync(join(tmpdir(), `trader-${role}-`));
  dirs.push(dataDir);
  const config = loadConfig({
    env: {},
    overrides: {
      role,
      dataDir,
      instanceId: role === 'engine' ? 'rip' : uniqueName('gw').slice(0, 30),
      http: { port: 0, shutdownDelayMs: 0 },
      strategy: { warmupSamples: 40 },
      journal: { fsync: 'never' },
      database: { url: serviceUrls.postgres, schema },
      cache: { redisUrl: serviceUrls.redis, prefix: busKey.replace(/:/g, '.') },
      bus: { key: busKey, snapshotIntervalMs: 300, commandTimeoutMs: 3_000 },
      ...extra,
    },
  });
  const t = createTrader({ config, log: () => {}, jwtSecret: SECRET });
  traders.push(t);
  return t;
}

describe('engine and gateway roles, in one process', () => {
  it('serves the engine state through a gateway, takes commands, and starts a late gateway from the snapshot', async () => {
    const token = await issueToken({ sub: 'ops', role: 'admin', secret: SECRET, ttl: '10m' });
    const auth = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
    const engine = trader('engine');
    const ep = await engine.start();
    expect(ep.bus).toContain(`${busKey}:events`);
    expect(ep.dashboard).toBeUndefined();
    // The engine's own server: probes and metrics only.
    expect((await fetch(ep.readiness)).status).toBeLessThan(600);
    expect(await (await fetch(ep.metrics)).text()).toMatch(/cryptoscalp_trader_stage_latency_seconds/);
    expect((await fetch(`${ep.http}/api/positions`)).status).toBe(404);

    const gateway = trader('gateway');
    const gw = await gateway.start();
    expect(() => gateway.engine()).toThrow(/role gateway has no engine/);
    await waitFor(() => engine.engine().counters.fills >= 3, { timeoutMs: 60_000, intervalMs: 100, what: 'fills' });
    await waitFor(
      async () => {
        const fills = (await (await fetch(`${gw.http}/api/fills?limit=1000`, { headers: auth })).json()) as unknown[];
        return fills.length >= 3;
      },
      { timeoutMs: 10_000, what: 'fills on the gateway' },
    );
    const health = await (await fetch(gw.health, { headers: auth })).json();
    expect(JSON.stringify(health)).toMatch(/event-stream/);
    const status = (await (await fetch(`${gw.http}/api/status`, { headers: auth })).json()) as {
      components: { name: string }[];
      latency: Record<string, unknown>;
    };
    await waitFor(
      async () =>
        JSON.stringify(await (await fetch(`${gw.http}/api/status`, { headers: auth })).json()).includes('engine.'),
      {
        what: 'engine components in the gateway status',
      },
    );
    expect(status.components.map((c) => c.name)).toContain('event-stream');

    // A command through the gateway reaches the engine; the answer already shows its effect.
    const halt = await fetch(`${gw.http}/api/kill-switch`, {
      method: 'POST',
      headers: auth,
      body: JSON.stringify({ mode: 'REDUCING', reason: 'in-process drill' }),
    });
    expect(halt.status).toBe(200);
    expect(((await halt.json()) as { mode: string }).mode).toBe('REDUCING');
    expect(engine.engine().state).toBe('REDUCING');
    const cancel = await fetch(`${gw.http}/api/orders/nope-1/cancel`, {
      method: 'POST',
      headers: { authorization: auth.authorization },
    });
    expect(cancel.status).toBe(404);
    const release = await fetch(`${gw.http}/api/kill-switch/release`, {
      method: 'POST',
      headers: auth,
      body: JSON.stringify({ reason: 'drill over' }),
    });
    expect(release.status).toBe(200);
    expect(engine.engine().state).toBe('RUNNING');

    // A gateway started now begins from the snapshot beside the stream, not from offset 0.
    await new Promise((r) => setTimeout(r, 700));
    const late = trader('gateway');
    await late.start();
    const consumer = late.component<EventConsumer>('event-stream');
    expect(consumer.model.counters.records).toBeLessThan(consumer.model.offset);
    await waitFor(() => Math.abs(late.readModel().offset - gateway.readModel().offset) < 50, {
      what: 'late gateway caught up',
    });
    expect(late.readModel().recentFills({ limit: 5 }).length).toBeGreaterThan(0);
    expect(consumer.stats()).toMatchObject({ model: expect.any(Object) });
    expect(await consumer.waitFor(late.readModel().offset, 10)).toBe(true);
    expect(await consumer.waitFor(late.readModel().offset + 1_000_000, 20)).toBe(false);
    expect(gateway.summary()).toMatchObject({ role: 'gateway' });
  }, 120_000);

  it('refuses an engine whose data dir did not feed the stream', async () => {
    const stranger = trader('engine', { instanceId: 'stranger' });
    await expect(stranger.start()).rejects.toThrow(/did not feed that stream/);
  });
});
