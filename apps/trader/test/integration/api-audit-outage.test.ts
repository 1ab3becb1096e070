import { type PostgresCluster, startPostgresCluster, waitFor } from '@cryptoscalp/testkit';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuditLog } from '../../src/http/audit-log.js';
import { FakeTrader } from './api-fake-trader.js';
import { type Harness, startHarness } from './api-harness.js';

let cluster: PostgresCluster;
let pool: pg.Pool;

beforeAll(async () => {
  cluster = await startPostgresCluster();
  pool = new pg.Pool({ connectionString: cluster.url, max: 2, connectionTimeoutMillis: 1_000 });
  pool.on('error', () => {});
});

afterAll(async () => {
  await pool?.end().catch(() => {});
  await cluster?.stop();
});

/** Kill-switch rows (the first request of a token also writes an `auth.login` row). */
const count = async (table: string) =>
  Number((await pool.query(`SELECT count(*)::int AS n FROM ${table} WHERE action LIKE 'kill-switch.%'`)).rows[0].n);

describe('audit log while PostgreSQL is down', () => {
  let h: Harness;

  it('keeps the kill switch working, queues the rows, reports warn, and writes them when the database returns', async () => {
    h = await startHarness({}, { pool, schema: 'audit_outage', trader: new FakeTrader() });
    const table = '"audit_outage".audit_log';
    await h.call('POST', '/api/kill-switch', { token: h.tokens.admin, body: { mode: 'REDUCING', reason: 'before' } });
    expect(await count(table)).toBe(1);
    expect((await h.api.healthCheck()).status).toBe('pass');

    await cluster.kill();
    const engaged = await h.call('POST', '/api/kill-switch', {
      token: h.tokens.admin,
      body: { mode: 'HALTED', reason: 'during outage' },
    });
    expect(engaged.status).toBe(200);
    expect(engaged.body.mode).toBe('HALTED');
    await waitFor(() => h.api.stats().audit.pending === 1, { timeoutMs: 10_000, what: 'queued audit row' });
    expect(h.api.stats().audit.pending).toBe(1);
    const health = await h.api.healthCheck();
    expect(health.status).toBe('warn');
    expect(health.output).toMatch(/1 audit rows waiting/);

    await cluster.start();
    await waitFor(async () => h.api.stats().audit.pending === 0 && (await count(table)) === 2, {
      timeoutMs: 20_000,
      what: 'audit row written after restart',
    });
    const { rows } = await pool.query(
      `SELECT actor, outcome, detail FROM ${table} WHERE action LIKE 'kill-switch.%' ORDER BY id`,
    );
    expect(rows[1]).toMatchObject({ actor: 'ada', outcome: 'success' });
    expect(rows[1].detail.request.body.reason).toBe('during outage');
    expect((await h.api.healthCheck()).status).toBe('pass');
    await h.close();
  });

  it('starts while the database is down, then creates the table and flushes once it is back', async () => {
    await cluster.kill();
    const audit = new AuditLog({ pool, schema: 'audit_late', retryIntervalMs: 100, maxPending: 2 });
    await expect(audit.init()).rejects.toThrow();
    expect(audit.ready).toBe(false);
    expect(await audit.append({ actor: 'a', action: 'x', outcome: 'success' })).toBe(false);
    await audit.append({ actor: 'b', action: 'x', outcome: 'success' });
    await audit.append({ actor: 'c', action: 'x', outcome: 'success' });
    expect(audit.pending).toBe(2);
    expect(audit.dropped).toBe(1);
    await cluster.start();
    await waitFor(() => audit.ready && audit.pending === 0, { timeoutMs: 20_000, what: 'late init and flush' });
    expect((await audit.recent(10)).map((r) => r.actor)).toEqual(['b', 'a']);
    expect((await audit.recent(10, 'x')).length).toBe(2);
    await audit.close();
    await audit.close();
  });
});
