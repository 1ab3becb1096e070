import { freePort, serviceUrls, uniqueName, waitFor } from '@cryptoscalp/testkit';
import { describe, expect, it } from 'vitest';
import {
  isCircuitOpenError,
  isPoolExhaustedError,
  isQueryTimeoutError,
  PoolManager,
  Priority,
} from '../../src/index.js';
import { admin, backends, withSchema } from './helpers.js';

type HostStats = Record<string, number | string>;
const hostStats = (db: PoolManager) => (db.stats() as { hosts: Record<string, HostStats> }).hosts['primary[0]']!;

describe('host pool behaviour', () => {
  it('fails fast when the wait queue is full and leaks nothing', async () => {
    const { db, app, cleanup } = await withSchema('dbx', { pool: { max: 3, min: 3, maxWaitingClients: 5 } });
    try {
      // Warm: callers waiting for a connection being opened count as waiting clients.
      await waitFor(() => hostStats(db).idle === 3, { timeoutMs: 10_000 });
      const calls = Array.from({ length: 20 }, () =>
        db.query('select pg_sleep(0.3)').then(
          () => 'ok',
          (e) => e,
        ),
      );
      await waitFor(async () => (await backends(app)).length === 3, { timeoutMs: 10_000 });
      // Bounded: never more server sessions than pool.max.
      expect((await backends(app)).length).toBeLessThanOrEqual(3);
      const results = await Promise.all(calls);
      const full = results.filter((r) => isPoolExhaustedError(r));
      expect(results.filter((r) => r === 'ok').length).toBe(8); // 3 running + 5 waiting
      expect(full.length).toBe(12);
      expect(full[0]?.code).toBe('E_DB_POOL_QUEUE_FULL');
      expect(full[0]?.host).toBe('127.0.0.1:5432');
      const s = hostStats(db);
      expect(s.borrowed).toBe(0);
      expect(s.waiting).toBe(0);
      expect(s.total).toBeLessThanOrEqual(3);
      expect((await backends(app)).length).toBeLessThanOrEqual(3);
    } finally {
      await cleanup();
    }
  });

  it('replaces idle connections the server terminated, transparently', async () => {
    const { db, app, cleanup } = await withSchema('dbt', { pool: { max: 4, min: 2 } });
    try {
      await Promise.all([db.query('select pg_sleep(0.05)'), db.query('select pg_sleep(0.05)')]);
      const before = await backends(app);
      expect(before.length).toBeGreaterThanOrEqual(2);
      await admin('select pg_terminate_backend(pid) from pg_stat_activity where application_name = $1', [app]);
      await waitFor(async () => Number(hostStats(db).clientErrors) >= before.length, { timeoutMs: 10_000 });
      for (let i = 0; i < 10; i++) {
        const r = await db.query<{ n: number }>('select $1::int as n', [i]);
        expect(r.rows[0]?.n).toBe(i);
      }
      const s = hostStats(db);
      expect(Number(s.replaced)).toBeGreaterThanOrEqual(1);
      // The terminated backends leave pg_stat_activity asynchronously; the pool's sessions are all new ones.
      await waitFor(async () => (await backends(app)).every((b) => !before.some((o) => o.pid === b.pid)), {
        timeoutMs: 10_000,
        what: 'terminated backends gone',
      });
      expect((await backends(app)).length).toBeGreaterThanOrEqual(1);
    } finally {
      await cleanup();
    }
  });

  it('a timeout cancels the server-side query and the connection stays healthy', async () => {
    const { db, app, cleanup } = await withSchema('dbc', { pool: { max: 1 } });
    try {
      const pid = (await db.query<{ pid: number }>('select pg_backend_pid() as pid')).rows[0]!.pid;
      const started = Date.now();
      const error = await db.query('select pg_sleep(30)', [], { timeoutMs: 300 }).catch((e) => e);
      expect(isQueryTimeoutError(error)).toBe(true);
      expect(error.timeoutMs).toBe(300);
      expect(Date.now() - started).toBeLessThan(5_000);
      await waitFor(
        async () => !(await backends(app)).some((b) => b.state === 'active' && b.query.includes('pg_sleep(30)')),
        {
          timeoutMs: 10_000,
          what: 'pg_sleep cancelled on the server',
        },
      );
      // Same session, reused (not destroyed): the cancel left it healthy.
      const again = (await db.query<{ pid: number }>('select pg_backend_pid() as pid')).rows[0]!.pid;
      expect(again).toBe(pid);
      // Whichever fired first (client timer -> pg_cancel_backend, or the server's statement_timeout), nothing was destroyed.
      expect(Number(hostStats(db).cancels)).toBeLessThanOrEqual(1);
      expect(Number(hostStats(db).destroyed)).toBe(0);
    } finally {
      await cleanup();
    }
  });

  it('an aborted query is cancelled on the server with pg_cancel_backend', async () => {
    const { db, app, cleanup } = await withSchema('dba', { pool: { max: 1 } });
    try {
      const pid = (await db.query<{ pid: number }>('select pg_backend_pid() as pid')).rows[0]!.pid;
      const controller = new AbortController();
      const pending = db.query('select pg_sleep(30)', [], { signal: controller.signal }).catch((e) => e);
      await waitFor(async () =>
        (await backends(app)).some((b) => b.state === 'active' && b.query.includes('pg_sleep(30)')),
      );
      controller.abort();
      expect((await pending).code).toBe('E_DB_ABORTED');
      await waitFor(
        async () => !(await backends(app)).some((b) => b.state === 'active' && b.query.includes('pg_sleep(30)')),
        {
          timeoutMs: 10_000,
          what: 'pg_sleep cancelled on the server',
        },
      );
      expect(Number(hostStats(db).cancels)).toBe(1);
      expect((await db.query<{ pid: number }>('select pg_backend_pid() as pid')).rows[0]!.pid).toBe(pid);
      expect(Number(hostStats(db).destroyed)).toBe(0);
    } finally {
      await cleanup();
    }
  });

  it('statement_timeout on the server ends queries without a client timer too', async () => {
    const { db, cleanup } = await withSchema('dbs', { statementTimeoutMs: 200, pool: { max: 1 } });
    try {
      const error = await db.query('select pg_sleep(5)').catch((e) => e);
      expect(isQueryTimeoutError(error)).toBe(true);
      const show = "select current_setting('statement_timeout') as s";
      const { rows } = await db.query<{ s: string }>(show);
      expect(rows[0]?.s).toBe('200ms');
      await db.query('select 1', [], { timeoutMs: 5_000 });
      expect((await db.query<{ s: string }>(show, [], { timeoutMs: 7_000 })).rows[0]?.s).toBe('7s');
      expect((await db.query<{ s: string }>(show)).rows[0]?.s).toBe('200ms');
      let inside: string | undefined;
      await db.transaction(
        async (tx) => {
          inside = (await tx.query<{ s: string }>(show)).rows[0]?.s;
        },
        { timeoutMs: 1_500 },
      );
      expect(inside).toBe('1500ms');
      expect((await db.query<{ s: string }>(show)).rows[0]?.s).toBe('200ms');
    } finally {
      await cleanup();
    }
  });

  it('times out waiting for a connection: pool acquire timeout and the query deadline', async () => {
    const { db, cleanup } = await withSchema('dbw', { pool: { max: 1, min: 1, acquireTimeoutMs: 150 } });
    try {
      await waitFor(() => hostStats(db).idle === 1, { timeoutMs: 10_000 });
      const hold = db.query('select pg_sleep(0.6)');
      await waitFor(() => hostStats(db).borrowed === 1);
      const waited = await db.query('select 1').catch((e) => e);
      expect(isPoolExhaustedError(waited)).toBe(true);
      expect(waited.code).toBe('E_DB_POOL_ACQUIRE_TIMEOUT');
      const deadline = await db.query('select 1', [], { timeoutMs: 60 }).catch((e) => e);
      expect(isQueryTimeoutError(deadline)).toBe(true);
      expect(deadline.timeoutMs).toBe(60);
      await hold;
      expect((await db.query<{ n: number }>('select 1 as n')).rows[0]?.n).toBe(1);
      expect(hostStats(db).borrowed).toBe(0);
    } finally {
      await cleanup();
    }
  });

  it('a transaction deadline cancels the statement, rolls back, and the pool stays usable', async () => {
    const { db, app, cleanup } = await withSchema('dbtx', { pool: { max: 2 } });
    try {
      await db.query('create table t (id int primary key)');
      const error = await db
        .transaction(
          async (tx) => {
            await tx.query('insert into t values (1)');
            await tx.query('select pg_sleep(30)');
          },
          { timeoutMs: 300 },
        )
        .catch((e) => e);
      expect(isQueryTimeoutError(error)).toBe(true);
      await waitFor(
        async () => !(await backends(app)).some((b) => b.query.includes('pg_sleep(30)') && b.state === 'active'),
        {
          timeoutMs: 10_000,
        },
      );
      expect((await db.query('select * from t')).rowCount).toBe(0);
      const ok = await db.transaction(async (tx) => (await tx.query('insert into t values (2) returning id')).rows[0]);
      expect(ok).toEqual({ id: 2 });
    } finally {
      await cleanup();
    }
  });

  it('serves waiting writes before analytics reads (priority)', async () => {
    const { db, cleanup } = await withSchema('dbp', { pool: { max: 1 } });
    try {
      const order: string[] = [];
      const hold = db.query('select pg_sleep(0.3)');
      await waitFor(() => hostStats(db).borrowed === 1);
      const analytics = db.query('select 1', [], { priority: Priority.analytics }).then(() => order.push('analytics'));
      const read = db.query('select 2', [], { priority: Priority.read }).then(() => order.push('read'));
      const write = db.query('select 3', [], { priority: Priority.write }).then(() => order.push('write'));
      await Promise.all([hold, analytics, read, write]);
      expect(order).toEqual(['write', 'read', 'analytics']);
    } finally {
      await cleanup();
    }
  });

  it('validates a connection idle longer than the threshold before use', async () => {
    const { db, cleanup } = await withSchema('dbv', { pool: { max: 1, validateAfterIdleMs: 20 } });
    try {
      const pid1 = (await db.query<{ pid: number }>('select pg_backend_pid() as pid')).rows[0]!.pid;
      // Kill it silently from the server while idle, and do not wait for the client to notice.
      await admin('select pg_terminate_backend($1)', [pid1]);
      await new Promise((r) => setTimeout(r, 60));
      const pid2 = (await db.query<{ pid: number }>('select pg_backend_pid() as pid')).rows[0]!.pid;
      expect(pid2).not.toBe(pid1);
    } finally {
      await cleanup();
    }
  });

  it('opens the breaker on a dead host and fails fast', async () => {
    const port = await freePort();
    const db = new PoolManager({
      name: uniqueName('dbb'),
      primary: { connectionString: `postgres://postgres@127.0.0.1:${port}/test` },
      pool: { connectTimeoutMs: 500 },
      retry: { maxAttempts: 1 },
      breaker: { volumeThreshold: 3, resetTimeoutMs: 60_000 },
      failover: { timeoutMs: 200, probeIntervalMs: 50 },
    });
    try {
      const errors = [];
      // Calls alternate between reaching the host (connection refused, counted by the breaker)
      // and waiting for the failover probe (no primary); after 3 counted failures it opens.
      for (let i = 0; i < 12; i++) errors.push(await db.query('select 1').catch((e) => e));
      expect(errors[0].code).toBe('E_DB_CONNECTION');
      expect(errors.some((e) => isCircuitOpenError(e))).toBe(true);
      const s = (db.stats() as { hosts: Record<string, HostStats> }).hosts['primary[0]']!;
      expect(s.breaker).toBe('open');
      expect(Number(s.breakerRejected)).toBeGreaterThan(0);
      const health = await db.healthCheck();
      expect(health.status).toBe('fail');
    } finally {
      await db.close();
    }
  });

  it('counts slow successful calls as breaker failures', async () => {
    const db = new PoolManager({
      name: uniqueName('dbslow'),
      primary: { connectionString: serviceUrls.postgres },
      breaker: { volumeThreshold: 3, slowCallMs: 30, resetTimeoutMs: 60_000 },
    });
    try {
      for (let i = 0; i < 3; i++) {
        const r = await db.query<{ v: number }>('select 1 as v from pg_sleep(0.06)');
        expect(r.rows[0]?.v).toBe(1); // the caller still gets its result
      }
      // Failures are fed to opossum asynchronously: it opens within a few microtasks.
      await waitFor(() => (db.stats() as { hosts: Record<string, HostStats> }).hosts['primary[0]']?.breaker === 'open');
      const error = await db.query('select 1').catch((e) => e);
      expect(isCircuitOpenError(error)).toBe(true);
    } finally {
      await db.close();
    }
  });
});
