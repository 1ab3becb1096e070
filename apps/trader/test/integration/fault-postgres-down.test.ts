import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PoolManager } from '@cryptoscalp/db-pool';
import { type PostgresCluster, startPostgresCluster, uniqueName, waitFor } from '@cryptoscalp/testkit';
import { afterAll, describe, expect, it } from 'vitest';
import type { JournalComponent } from '../../src/app/components/journal-component.js';
import type { PersistenceComponent } from '../../src/app/components/persistence-component.js';
import { createTrader, type Trader } from '../../src/app/trader.js';
import { loadConfig } from '../../src/config/load-config.js';
import { issueToken } from '../../src/http/tokens.js';
import { Journal } from '../../src/journal/journal.js';
import { JournalWriter } from '../../src/persistence/journal-writer.js';

const SECRET = 'pg-down-test-secret-0123456789abcdef012345';
let cluster: PostgresCluster | undefined;
const traders: Trader[] = [];
const pools: PoolManager[] = [];
const dirs: string[] = [];

afterAll(async () => {
  for (const t of traders) await t.stop('test end').catch(() => {});
  for (const p of pools) await p.close();
  await cluster?.stop();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
}, 60_000);

describe('fault: PostgreSQL goes away under a running trader', () => {
  it('persistence turns warn at once, failures count, trading goes on, and the writer catches up with no duplicate', async () => {
    cluster = await startPostgresCluster();
    const dataDir = mkdtempSync(join(tmpdir(), 'trader-pg-down-'));
    dirs.push(dataDir);
    const schema = uniqueName('pgdown');
    const t = createTrader({
      config: loadConfig({
        env: {},
        overrides: {
          dataDir,
          symbols: ['BTCUSDT', 'ETHUSDT'],
          http: { port: 0, shutdownDelayMs: 0 },
          strategy: { warmupSamples: 30, limitOrderTtlMs: 300 },
          journal: { fsync: 'never' },
          database: { url: cluster.url, schema },
        },
      }),
      jwtSecret: SECRET,
      log: () => {},
    });
    traders.push(t);
    const ep = await t.start();
    const auth = { authorization: `Bearer ${await issueToken({ sub: 'test', role: 'viewer', secret: SECRET })}` };
    const persistenceCheck = async () => {
      const body = (await (await fetch(ep.health, { headers: auth })).json()) as {
        checks: Record<string, { status: string; output?: string }[]>;
      };
      return Object.entries(body.checks).find(([k]) => k.startsWith('persistence'))?.[1][0] ?? { status: 'missing' };
    };
    const persistence = t.component<PersistenceComponent>('persistence');
    const journal = t.component<JournalComponent>('journal').journal();
    const engine = t.engine();
    await waitFor(() => engine.counters.ordersSubmitted >= 2 && persistence.persistedSeq() > 0, {
      timeoutMs: 45_000,
      what: 'trading and persisting',
    });
    expect((await persistenceCheck()).status).toBe('pass');

    await cluster.kill();
    const downAt = Date.now();
    await waitFor(async () => (await persistenceCheck()).status === 'warn', {
      timeoutMs: 10_000,
      intervalMs: 50,
      what: 'persistence warn',
    });
    const detectMs = Date.now() - downAt;
    expect((await persistenceCheck()).output).toMatch(/PostgreSQL writes failing/);
    const failures = (persistence.stats() as { failures: number }).failures;
    expect(failures).toBeGreaterThan(0);
    const metrics = await (await fetch(ep.metrics, { headers: auth })).text();
    expect(metrics).toMatch(/cryptoscalp_stats_persistence_failures\{component="trader"\} [1-9]/);
    // Trading goes on on the journal; the writer keeps failing fast (one attempt per retry interval, not one wait).
    const seqAtDown = journal.lastSeq;
    await waitFor(() => journal.lastSeq > seqAtDown + 5, { timeoutMs: 20_000, what: 'journal grows while down' });
    await waitFor(() => (persistence.stats() as { failures: number }).failures >= failures + 2, {
      timeoutMs: 10_000,
      what: 'attempts keep failing fast',
    });
    expect((await fetch(ep.readiness)).status).toBe(200);

    await cluster.start();
    const upAt = Date.now();
    await waitFor(async () => (await persistenceCheck()).status === 'pass', { timeoutMs: 20_000, what: 'pass again' });
    const catchUpMs = Date.now() - upAt;
    await t.stop('test');
    // Every journal entry exactly once.
    const db = new PoolManager({ primary: { connectionString: cluster.url } });
    pools.push(db);
    const entries = Journal.read(join(dataDir, 'journal.jsonl'));
    const fills = entries.filter((e) => e.type === 'fill').length;
    const orders = entries.filter((e) => e.type === 'order.submitted').length;
    const f = await db.query<{ n: string; d: string }>(
      `select count(*) as n, count(distinct fill_id) as d from ${schema}.fills`,
    );
    const o = await db.query<{ n: string }>(`select count(*) as n from ${schema}.orders`);
    const c = await db.query<{ last_seq: string }>(`select last_seq from ${schema}.writer_cursor`);
    expect(Number(f.rows[0]?.n)).toBe(fills);
    expect(Number(f.rows[0]?.d)).toBe(fills);
    expect(Number(o.rows[0]?.n)).toBe(orders);
    expect(Number(c.rows[0]?.last_seq)).toBe(entries.at(-1)?.seq);
    console.log(
      `postgres down: persistence warn after ${detectMs} ms; pass ${catchUpMs} ms after restart; ${orders} orders, ${fills} fills, 0 duplicates`,
    );
  });

  it('writes failing past failAfterMs turn health from warn to fail', async () => {
    const c = cluster as PostgresCluster;
    await c.kill();
    const db = new PoolManager({ primary: { connectionString: c.url }, pool: { connectTimeoutMs: 500 } });
    pools.push(db);
    const dir = mkdtempSync(join(tmpdir(), 'trader-pg-fail-'));
    dirs.push(dir);
    const writer = new JournalWriter({
      db,
      instanceId: 'fail-after',
      schema: uniqueName('pgfail'),
      journalPath: join(dir, 'journal.jsonl'),
      failAfterMs: 1_500,
    });
    const startedAt = Date.now();
    await expect(writer.start({ timeoutMs: 1_000 })).rejects.toThrow(/did not answer within 1000 ms|ECONNREFUSED/);
    expect(Date.now() - startedAt).toBeLessThan(3_000);
    expect((await writer.healthCheck()).status).toBe('warn');
    await waitFor(async () => (await writer.healthCheck()).status === 'fail', { timeoutMs: 5_000, what: 'fail' });
    await writer.close();
    await c.start();
  });
});
