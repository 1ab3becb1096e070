import diagnosticsChannel from 'node:diagnostics_channel';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  isDbPoolError,
  isQueryError,
  type PoolManager,
  QUERY_CHANNEL,
  type QueryTraceContext,
  SLOW_QUERY_CHANNEL,
  type SlowQueryEvent,
} from '../../src/index.js';
import { withSchema } from './helpers.js';

describe('PoolManager against the local PostgreSQL', () => {
  let db: PoolManager;
  let app: string;
  let cleanup: () => Promise<void>;
  const slow: SlowQueryEvent[] = [];

  beforeEach(async () => {
    slow.length = 0;
    ({ db, app, cleanup } = await withSchema('dbq', {
      slowQueryMs: 100,
      onSlowQuery: (e) => {
        slow.push(e);
        if (e.statement.includes('boom')) throw new Error('logger failed');
      },
    }));
    await db.query('create table orders (id bigint primary key, sym text not null, qty int not null)');
  });
  afterEach(async () => {
    await cleanup();
  });

  it('returns rows with metadata', async () => {
    const r = await db.query<{ n: number }>('select $1::int as n', [7]);
    expect(r.rows).toEqual([{ n: 7 }]);
    expect(r.rowCount).toBe(1);
    expect(r.fields[0]?.name).toBe('n');
    expect(r.host).toBe('127.0.0.1:5432');
    expect(r.role).toBe('write');
    expect(r.durationMs).toBeGreaterThan(0);
  });

  it('prepares statements automatically under a stable name per text', async () => {
    await db.query('insert into orders values ($1, $2, $3)', [1, 'BTC', 1]);
    await db.query('insert into orders values ($1, $2, $3)', [2, 'ETH', 2]);
    const { rows } = await db.query<{ name: string }>(
      "select name from pg_prepared_statements where statement like 'insert into orders%'",
    );
    // pg_prepared_statements is per session: the insert ran on this session if the pool reused it (max 1 in use here).
    expect(rows.length).toBe(1);
    expect(rows[0]?.name).toMatch(/^cs_[0-9a-f]{20}$/);
    const stats = db.queryStats().find((s) => s.statement === 'insert into orders values (...)');
    expect(stats).toMatchObject({ calls: 2, errors: 0, rows: 2 });
  });

  it('raises QueryError with SQLSTATE and statement name, never retried', async () => {
    await db.query('insert into orders values ($1, $2, $3)', [1, 'BTC', 1]);
    const error = await db
      .query('insert into orders values ($1, $2, $3)', [1, 'BTC', 1], { name: 'ins_order' })
      .catch((e) => e);
    expect(isQueryError(error)).toBe(true);
    expect(error.sqlState).toBe('23505');
    expect(error.statementName).toBe('ins_order');
    expect(error.constraint).toBe('orders_pkey');
    const syntax = await db.query('selec 1').catch((e) => e);
    expect(syntax.sqlState).toBe('42601');
    expect((db.stats() as { retries: number }).retries).toBe(0);
  });

  it('commits and rolls back transactions', async () => {
    const value = await db.transaction(async (tx) => {
      await tx.query('insert into orders values ($1, $2, $3)', [10, 'BTC', 1]);
      return (await tx.query<{ c: string }>('select count(*)::text as c from orders')).rows[0]?.c;
    });
    expect(value).toBe('1');
    const err = await db
      .transaction(async (tx) => {
        await tx.query('insert into orders values ($1, $2, $3)', [11, 'BTC', 1]);
        throw new Error('changed my mind');
      })
      .catch((e) => e);
    expect(err.message).toBe('changed my mind');
    expect(isDbPoolError(err)).toBe(false);
    const { rows } = await db.query<{ id: string }>('select id from orders order by id');
    expect(rows.map((r) => Number(r.id))).toEqual([10]);
  });

  it('re-runs a transaction after a serialization failure (40001)', async () => {
    await db.query('insert into orders values (1, $1, 0)', ['BTC']);
    let runs = 0;
    let release: () => void = () => {};
    const gate = new Promise<void>((r) => {
      release = r;
    });
    let reached: () => void = () => {};
    const snapshotTaken = new Promise<void>((r) => {
      reached = r;
    });
    const first = db.transaction(
      async (tx) => {
        runs++;
        const q = (await tx.query<{ qty: number }>('select qty from orders where id = 1')).rows[0]!.qty;
        if (runs === 1) {
          reached();
          await gate;
        }
        await tx.query('update orders set qty = $1 where id = 1', [q + 1]);
      },
      { isolation: 'serializable', retries: 3 },
    );
    // A concurrent committed update after the first attempt's snapshot makes it fail with 40001.
    await snapshotTaken;
    await db.transaction(async (tx) => {
      await tx.query('update orders set qty = qty + 10 where id = 1');
    });
    release();
    await first;
    expect(runs).toBe(2);
    const { rows } = await db.query<{ qty: number }>('select qty from orders where id = 1');
    expect(rows[0]?.qty).toBe(11);
    expect((db.stats() as { transactionRetries: number }).transactionRetries).toBe(1);
  });

  it('publishes the query tracing channel and slow queries', async () => {
    const starts: QueryTraceContext[] = [];
    const ends: QueryTraceContext[] = [];
    const handlers = {
      start: (c: object) => {
        starts.push({ ...(c as QueryTraceContext) });
      },
      end: () => {},
      asyncStart: () => {},
      asyncEnd: (c: object) => {
        ends.push({ ...(c as QueryTraceContext) });
      },
      error: () => {},
    };
    const slowOnChannel: unknown[] = [];
    const onSlow = (m: unknown) => {
      slowOnChannel.push(m);
    };
    const tc = diagnosticsChannel.tracingChannel(QUERY_CHANNEL);
    tc.subscribe(handlers);
    diagnosticsChannel.subscribe(SLOW_QUERY_CHANNEL, onSlow);
    try {
      await db.query("select pg_sleep(0.15), 'x' as v where 1 = $1", [1]);
      await db.transaction(async (tx) => {
        await tx.query('select 1');
      });
    } finally {
      tc.unsubscribe(handlers);
      diagnosticsChannel.unsubscribe(SLOW_QUERY_CHANNEL, onSlow);
    }
    const mine = ends.filter((c) => c.component === app);
    expect(mine[0]).toMatchObject({
      component: app,
      operation: 'query',
      statement: 'select pg_sleep(?), ? as v where ? = ?',
      role: 'write',
      host: '127.0.0.1:5432',
      rowCount: 1,
    });
    expect(mine[1]).toMatchObject({ operation: 'transaction', statement: 'transaction' });
    expect(starts.filter((c) => c.component === app)).toHaveLength(2);
    expect(slow).toHaveLength(1);
    expect(slow[0]).toMatchObject({ component: app, statement: 'select pg_sleep(?), ? as v where ? = ?' });
    expect(slow[0]!.durationMs).toBeGreaterThanOrEqual(100);
    expect(slowOnChannel.filter((e) => (e as SlowQueryEvent).component === app)).toHaveLength(1);
    // A throwing logger does not fail the query; it is counted.
    const r = await db.query('select 1 as boom from pg_sleep(0.12)');
    expect(r.rows).toEqual([{ boom: 1 }]);
    expect((db.stats() as { slowQueryCallbackErrors: number }).slowQueryCallbackErrors).toBe(1);
  });

  it('reports stats and health', async () => {
    await db.query('select 1');
    const stats = db.stats() as { primary: string; queries: number; hosts: Record<string, Record<string, unknown>> };
    expect(stats.primary).toBe('127.0.0.1:5432');
    expect(stats.queries).toBe(2); // create table + select
    expect(stats.hosts['primary[0]']).toMatchObject({
      role: 'primary',
      breaker: 'closed',
      waiting: 0,
      borrowed: 0,
    });
    const health = await db.healthCheck();
    expect(health.status).toBe('pass');
    expect(health.observedUnit).toBe('ms');
    expect(health.details?.hosts).toEqual([
      expect.objectContaining({ host: '127.0.0.1:5432', role: 'primary', reachable: true, status: 'pass' }),
    ]);
    const aborted = await db.healthCheck(AbortSignal.abort());
    expect(aborted.status).toBe('fail');
  });

  it('honours AbortSignal and close() is idempotent', async () => {
    const controller = new AbortController();
    const pending = db.query('select pg_sleep(5)', [], { signal: controller.signal }).catch((e) => e);
    setTimeout(() => controller.abort(), 100);
    const error = await pending;
    expect(error.code).toBe('E_DB_ABORTED');
    const early = await db.query('select 1', [], { signal: AbortSignal.abort() }).catch((e) => e);
    expect(early.code).toBe('E_DB_ABORTED');
    await db.close();
    await db.close();
    const closed = await db.query('select 1').catch((e) => e);
    expect(closed.code).toBe('E_DB_CLOSED');
    expect((await db.healthCheck()).status).toBe('fail');
  });
});
