import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PoolManager } from '@cryptoscalp/db-pool';
import { serviceUrls, uniqueName, waitFor } from '@cryptoscalp/testkit';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import type { JournalComponent } from '../../src/app/components/journal-component.js';
import type { MarketDataComponent } from '../../src/app/components/market-data-component.js';
import type { PersistenceComponent } from '../../src/app/components/persistence-component.js';
import type { PostgresComponent } from '../../src/app/components/postgres-component.js';
import { createTrader, type Trader, type TraderEndpoints } from '../../src/app/trader.js';
import { loadConfig } from '../../src/config/load-config.js';
import { issueToken } from '../../src/http/tokens.js';
import { Journal } from '../../src/journal/journal.js';

const SECRET = 'trader-test-secret-0123456789abcdef012345';
const traders: Trader[] = [];
const cleanups: (() => Promise<unknown>)[] = [];
afterAll(async () => {
  for (const t of traders) await t.stop('test end');
  for (const c of cleanups) await c();
}, 60_000);

function config(extra: Record<string, unknown> = {}) {
  const dataDir = mkdtempSync(join(tmpdir(), 'trader-'));
  cleanups.push(async () => rmSync(dataDir, { recursive: true, force: true }));
  return loadConfig({
    env: {},
    overrides: {
      dataDir,
      http: { port: 0, shutdownDelayMs: 0 },
      strategy: { warmupSamples: 60 },
      journal: { fsync: 'never' },
      database: { embedded: 'memory' },
      ...extra,
    },
  });
}

async function viewer(): Promise<Record<string, string>> {
  return { authorization: `Bearer ${await issueToken({ sub: 'test', role: 'viewer', secret: SECRET })}` };
}

async function expectTradingAndProbes(t: Trader, ep: TraderEndpoints): Promise<void> {
  const persistence = t.component<PersistenceComponent>('persistence');
  const journal = t.component<JournalComponent>('journal');
  const auth = await viewer();
  await waitFor(() => t.engine().counters.fills >= 3, { timeoutMs: 45_000, intervalMs: 100, what: 'fills' });
  await waitFor(() => persistence.persistedSeq() >= journal.journal().lastSeq - 50 && persistence.persistedSeq() > 0, {
    timeoutMs: 20_000,
    what: 'persisted',
  });
  expect((await fetch(ep.readiness)).status).toBe(200);
  expect((await fetch(`${ep.http}/health/liveness`)).status).toBe(200);
  // Details need a token; probes do not.
  expect((await fetch(ep.health)).status).toBe(401);
  const status = (await (await fetch(ep.health, { headers: auth })).json()) as { checks: Record<string, unknown> };
  const checks = Object.keys(status.checks).join(' ');
  for (const c of ['journal', 'postgres', 'cache', 'engine', 'persistence', 'event-stream', 'market-data', 'http'])
    expect(checks).toContain(c);
  expect((await fetch(ep.metrics)).status).toBe(401);
  const metrics = await (await fetch(ep.metrics, { headers: auth })).text();
  expect(metrics).toMatch(/cryptoscalp_trader_stage_latency_seconds_bucket\{[^}]*stage="tick_to_decision"/);
  expect(metrics).toMatch(/cryptoscalp_trading_trades_total\{/);
  expect(metrics).toMatch(/cryptoscalp_stats_counters_fills\{component="trader"\} [1-9]/);
  expect(metrics).toMatch(/db_client_operation_duration_seconds_count/);
  // The API reads the read model, which follows the engine.
  await waitFor(
    async () => {
      const fills = (await (await fetch(`${ep.http}/api/fills?limit=500`, { headers: auth })).json()) as unknown[];
      return fills.length === t.engine().counters.fills;
    },
    { timeoutMs: 5_000, what: 'API fills equal the engine fills' },
  );
  // Orders in PostgreSQL equal the journal so far.
  const submittedUpTo = (seq: number) =>
    Journal.read(journal.path).filter((e) => e.type === 'order.submitted' && e.seq <= seq).length;
  const before = persistence.persistedSeq();
  const pool = t.component<PostgresComponent>('postgres').pool();
  const { rows } = await pool.query<{ n: string }>('select count(*) as n from trader.orders');
  const after = persistence.persistedSeq();
  expect(Number(rows[0]?.n)).toBeGreaterThanOrEqual(submittedUpTo(before));
  expect(Number(rows[0]?.n)).toBeLessThanOrEqual(submittedUpTo(after));
}

describe('the trader, composed (--role all)', () => {
  it('runs on embedded defaults, trades, answers health and metrics, alerts on a stale feed, and stops trading first', async () => {
    const t = createTrader({ config: config({ alerts: { feedStaleMs: 1000 } }), log: () => {}, jwtSecret: SECRET });
    traders.push(t);
    const ep = await t.start();
    expect(ep.database).toMatch(/embedded PGlite \(memory\)/);
    expect(ep.cache).toBe('in-process L1 only');
    expect(ep.bus).toBe('in process');
    await expectTradingAndProbes(t, ep);
    const auth = await viewer();
    const sim = t.component<MarketDataComponent>('market-data').simulator();
    sim?.stall(20_000);
    await waitFor(
      async () => (await (await fetch(`${ep.http}/health/alerts`, { headers: auth })).text()).includes('FeedStale'),
      {
        timeoutMs: 20_000,
        intervalMs: 200,
        what: 'FeedStale on /health/alerts',
      },
    );
    sim?.stall(0);
    // The API caches read responses in the cache component.
    await fetch(`${ep.http}/api/pnl`, { headers: auth });
    const second = await fetch(`${ep.http}/api/pnl`, { headers: auth });
    expect(second.headers.get('x-cache')).toBe('hit');

    await t.stop('test');
    await t.stop('again');
    // Trading stopped first: nothing was left open, and nothing was ordered after the stop began.
    const summary = t.summary() as {
      fills: number;
      openOrders: number;
      leftOpenAtExit: number;
      latencyMs: { tickToDecision: { p50: number } };
    };
    expect(summary.fills).toBeGreaterThan(0);
    expect(summary.openOrders).toBe(0);
    expect(summary.leftOpenAtExit).toBe(0);
    expect(summary.latencyMs.tickToDecision.p50).toBeGreaterThan(0);
    const entries = Journal.read(t.component<JournalComponent>('journal').path);
    const lastSubmit = entries.findLastIndex((e) => e.type === 'order.submitted');
    const firstShutdownCancel = entries.findIndex(
      (e) =>
        e.type === 'order.cancel_requested' && String((e.data as { reason: string }).reason).startsWith('shutdown'),
    );
    if (firstShutdownCancel >= 0) expect(lastSubmit).toBeLessThan(firstShutdownCancel);
    await expect(fetch(`${ep.http}/health/liveness`)).rejects.toThrow();
  });

  it('runs against the local Redis and PostgreSQL (own schema and namespace)', async () => {
    const schema = uniqueName('trader_app');
    const ns = uniqueName('trader');
    const admin = new PoolManager({ primary: { connectionString: serviceUrls.postgres } });
    const redis = new Redis(serviceUrls.redis);
    cleanups.push(async () => {
      await admin.query(`drop schema if exists ${schema} cascade`);
      await admin.close();
      const keys = await redis.keys(`${ns}*`);
      if (keys.length > 0) await redis.del(...keys);
      redis.disconnect();
    });
    const t = createTrader({
      config: config({
        database: { url: serviceUrls.postgres, schema },
        cache: { redisUrl: serviceUrls.redis, prefix: ns },
      }),
      log: () => {},
      jwtSecret: SECRET,
    });
    traders.push(t);
    const ep = await t.start();
    expect(ep.cache).toMatch(/Redis/);
    await waitFor(() => t.engine().counters.fills >= 3, { timeoutMs: 45_000, intervalMs: 100, what: 'fills' });
    const auth = await viewer();
    await fetch(`${ep.http}/api/positions`, { headers: auth });
    await waitFor(async () => (await redis.keys(`${ns}*`)).length > 0, { what: 'API cache keys in Redis' });
    await waitFor(
      async () => {
        const fills = await admin.query<{ n: string }>(`select count(*) as n from ${schema}.fills`);
        return Number(fills.rows[0]?.n) > 0;
      },
      { timeoutMs: 20_000, what: 'fills in PostgreSQL' },
    );
    await t.stop('test');
  });

  it('refuses a second trader on the same data dir, naming the holder', async () => {
    const c = config();
    const first = createTrader({ config: c, log: () => {}, jwtSecret: SECRET });
    traders.push(first);
    await first.start();
    const second = createTrader({ config: c, log: () => {}, jwtSecret: SECRET });
    await expect(second.start()).rejects.toThrow(new RegExp(`in use by pid ${process.pid}`));
    await first.stop('test');
  });
});

describe('a damaged journal', () => {
  it('stops the start and names the commands that find and cut the damage', async () => {
    const c = config();
    const path = join(c.dataDir, 'journal.jsonl');
    const line = (seq: number) => `${JSON.stringify({ seq, ts: Date.now(), type: 'session.start', data: {} })}\n`;
    writeFileSync(path, line(1) + line(2) + line(2) + line(3));
    const t = createTrader({ config: c, log: () => {}, jwtSecret: SECRET });
    await expect(t.start()).rejects.toThrow(/trader journal verify .*trader journal repair/s);
    // The failed start released the data dir: a repaired journal starts.
    expect(existsSync(join(c.dataDir, 'trader.lock'))).toBe(false);
  });
});

describe('the trader without PostgreSQL', () => {
  it('starts and trades on the journal while PostgreSQL is down, and catches up when it comes back', async () => {
    const { startPostgresCluster } = await import('@cryptoscalp/testkit');
    const cluster = await startPostgresCluster();
    cleanups.push(() => cluster.stop());
    await cluster.kill();
    const t = createTrader({
      config: config({ database: { url: cluster.urlFor('postgres') } }),
      log: () => {},
      jwtSecret: SECRET,
    });
    traders.push(t);
    const ep = await t.start();
    const persistence = t.component<PersistenceComponent>('persistence');
    expect(persistence.deferred).toBe(true);
    await waitFor(() => t.engine().counters.fills >= 2, {
      timeoutMs: 45_000,
      intervalMs: 100,
      what: 'fills without PostgreSQL',
    });
    expect(persistence.persistedSeq()).toBe(0);
    const components = await (await fetch(`${ep.http}/health/components`, { headers: await viewer() })).text();
    expect(components).toMatch(/persistence/);
    await cluster.start();
    const journal = t.component<JournalComponent>('journal');
    await waitFor(
      () => persistence.persistedSeq() > 0 && persistence.persistedSeq() >= journal.journal().lastSeq - 20,
      {
        timeoutMs: 60_000,
        intervalMs: 200,
        what: 'writer caught up',
      },
    );
    expect(persistence.deferred).toBe(false);
    const { rows } = await t
      .component<PostgresComponent>('postgres')
      .pool()
      .query<{ n: string }>('select count(*) as n from trader.fills');
    expect(Number(rows[0]?.n)).toBeGreaterThanOrEqual(2);
    await t.stop('test');
  });
});
