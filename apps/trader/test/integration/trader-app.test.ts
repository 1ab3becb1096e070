import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PoolManager } from '@cryptoscalp/db-pool';
import { serviceUrls, uniqueName, waitFor } from '@cryptoscalp/testkit';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { TraderApp } from '../../src/app/trader-app.js';
import { loadConfig } from '../../src/config/load-config.js';
import { Journal } from '../../src/journal/journal.js';

const apps: TraderApp[] = [];
const cleanups: (() => Promise<unknown>)[] = [];
afterAll(async () => {
  for (const a of apps) await a.stop();
  for (const c of cleanups) await c();
}, 60_000);

function config(extra: Record<string, unknown> = {}) {
  const dataDir = mkdtempSync(join(tmpdir(), 'trader-app-'));
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

async function expectTradingAndProbes(app: TraderApp): Promise<void> {
  await waitFor(() => app.engine.counters.fills >= 3, { timeoutMs: 45_000, intervalMs: 100, what: 'fills' });
  await waitFor(() => app.writer.persistedSeq >= app.journal.lastSeq - 50 && app.writer.persistedSeq > 0, {
    timeoutMs: 20_000,
    what: 'persisted',
  });
  const ready = await fetch(`${app.endpoints.http}/health/readiness`);
  expect(ready.status).toBe(200);
  const status = (await (await fetch(app.endpoints.health)).json()) as {
    status: string;
    checks: Record<string, unknown>;
  };
  expect(Object.keys(status.checks).join(' ')).toMatch(/market-data/);
  expect(Object.keys(status.checks).join(' ')).toMatch(/postgres/);
  const metrics = await (await fetch(app.endpoints.metrics)).text();
  expect(metrics).toMatch(/cryptoscalp_trader_stage_latency_seconds_bucket\{[^}]*stage="tick_to_decision"/);
  expect(metrics).toMatch(/cryptoscalp_trading_trades_total\{/);
  expect(metrics).toMatch(/cryptoscalp_stats_counters_fills\{component="trader"\} [1-9]/);
  expect(metrics).toMatch(/db_client_operation_duration_seconds_count/);
  const alt = await fetch(`${app.endpoints.http}/health/metrics`);
  expect(alt.status).toBe(200);
  // Orders in PostgreSQL equal the journal so far.
  const submittedUpTo = (seq: number) =>
    Journal.read(app.journalPath).filter((e) => e.type === 'order.submitted' && e.seq <= seq).length;
  const before = app.writer.persistedSeq;
  const { rows } = await app.db.query<{ n: string }>(`select count(*) as n from ${app.config.database.schema}.orders`);
  const after = app.writer.persistedSeq;
  expect(Number(rows[0]?.n)).toBeGreaterThanOrEqual(submittedUpTo(before));
  expect(Number(rows[0]?.n)).toBeLessThanOrEqual(submittedUpTo(after));
}

describe('the trader, composed', () => {
  it('runs on embedded defaults: simulator, in-process cache, embedded PostgreSQL; trades; health and metrics answer', async () => {
    const app = new TraderApp({ config: config({ alerts: { feedStaleMs: 1000 } }), log: () => {} });
    apps.push(app);
    const endpoints = await app.start();
    expect(endpoints.database).toMatch(/embedded PGlite \(memory\)/);
    expect(endpoints.cache).toBe('in-process L1 only');
    await expectTradingAndProbes(app);
    // The venue goes silent: the FeedStale alert fires and /health/alerts shows it.
    app.simulator?.stall(20_000);
    await waitFor(
      () => app.observability.monitoring.alerts.active().some((a) => a.name === 'FeedStale' && a.state === 'firing'),
      {
        timeoutMs: 20_000,
        intervalMs: 200,
        what: 'FeedStale firing',
      },
    );
    expect(await (await fetch(`${app.endpoints.http}/health/alerts`)).text()).toMatch(/FeedStale/);
    app.simulator?.stall(0);
    await waitFor(async () => (await app.cache.get('pnl')) !== undefined, { what: 'pnl in cache' });
    const summary = app.summary() as { fills: number; latencyMs: { tickToDecision: { p50: number } } };
    expect(summary.fills).toBeGreaterThan(0);
    expect(summary.latencyMs.tickToDecision.p50).toBeGreaterThan(0);
    await app.stop('test');
    await app.stop('again');
    expect(app.server.listening).toBe(false);
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
    const app = new TraderApp({
      config: config({
        database: { url: serviceUrls.postgres, schema },
        cache: { redisUrl: serviceUrls.redis, prefix: ns },
      }),
      log: () => {},
    });
    apps.push(app);
    const endpoints = await app.start();
    expect(endpoints.cache).toMatch(/Redis/);
    await expectTradingAndProbes(app);
    await waitFor(async () => (await redis.keys(`${ns}*pnl*`)).length > 0, { what: 'pnl key in Redis' });
    const fills = await admin.query<{ n: string }>(`select count(*) as n from ${schema}.fills`);
    expect(Number(fills.rows[0]?.n)).toBeGreaterThan(0);
    await app.stop('test');
  });
});

describe('the trader without PostgreSQL', () => {
  it('starts and trades on the journal while PostgreSQL is down, and catches up when it comes back', async () => {
    const { startPostgresCluster } = await import('@cryptoscalp/testkit');
    const cluster = await startPostgresCluster();
    cleanups.push(() => cluster.stop());
    await cluster.kill();
    const app = new TraderApp({ config: config({ database: { url: cluster.urlFor('postgres') } }), log: () => {} });
    apps.push(app);
    await app.start();
    expect(app.persistenceDeferred).toBe(true);
    await waitFor(() => app.engine.counters.fills >= 2, {
      timeoutMs: 45_000,
      intervalMs: 100,
      what: 'fills without PostgreSQL',
    });
    expect(app.writer.persistedSeq).toBe(0);
    const components = (await (await fetch(`${app.endpoints.http}/health/components`)).json()) as Record<
      string,
      unknown
    >;
    expect(JSON.stringify(components)).toMatch(/persistence/);
    await cluster.start();
    await waitFor(() => app.writer.persistedSeq > 0 && app.writer.persistedSeq >= app.journal.lastSeq - 20, {
      timeoutMs: 60_000,
      intervalMs: 200,
      what: 'writer caught up',
    });
    expect(app.persistenceDeferred).toBe(false);
    const { rows } = await app.db.query<{ n: string }>(`select count(*) as n from trader.fills`);
    expect(Number(rows[0]?.n)).toBeGreaterThanOrEqual(2);
    await app.stop('test');
  });
});
