import { waitFor } from '@cryptoscalp/testkit';
import { describe, expect, it } from 'vitest';
import { isQueryTimeoutError, type PoolManager } from '../../src/index.js';
import { backends, withSchema } from './helpers.js';

type HostStats = Record<string, number | string>;
const hostStats = (db: PoolManager) => (db.stats() as { hosts: Record<string, HostStats> }).hosts['primary[0]']!;

// The hot path: the host pool's idle stack, and its wait queue
// (handoff on release, one shared expiry timer) once every connection is borrowed.
describe('host pool hot path', () => {
  it('idle eviction closes idle connections, including one opened after the queries finished', async () => {
    const { db, cleanup } = await withSchema('dbhe', {
      pool: { max: 2, min: 0, idleTimeoutMs: 100, evictionRunIntervalMs: 50, validateAfterIdleMs: 0 },
    });
    try {
      await Promise.all([db.query('select 1'), db.query('select 2')]);
      expect(hostStats(db).borrowed).toBe(0);
      // Every connection, including a second one still being created when the queries finished, is evicted.
      await waitFor(() => hostStats(db).total === 0, { timeoutMs: 10_000 });
      expect(Number(hostStats(db).created)).toBeGreaterThanOrEqual(1);
      expect(Number(hostStats(db).destroyed)).toBe(Number(hostStats(db).created));
      expect((await db.query<{ n: number }>('select 3 as n')).rows[0]?.n).toBe(3);
    } finally {
      await cleanup();
    }
  });

  it('an aborted waiter leaves the queue at once; the others are still served', async () => {
    const { db, cleanup } = await withSchema('dbha', { pool: { max: 1 } });
    try {
      const hold = db.query('select pg_sleep(0.4)');
      await waitFor(() => hostStats(db).borrowed === 1);
      const controller = new AbortController();
      const aborted = db.query('select 1', [], { signal: controller.signal }).catch((e) => e);
      const waiting = db.query<{ n: number }>('select 2 as n');
      await waitFor(() => hostStats(db).waiting === 2);
      controller.abort(new Error('user gave up'));
      const error = await aborted;
      expect(error.code).toBe('E_DB_ABORTED');
      expect(hostStats(db).waiting).toBe(1);
      expect((await waiting).rows[0]?.n).toBe(2);
      await hold;
      expect(hostStats(db).waiting).toBe(0);
      expect(hostStats(db).borrowed).toBe(0);
    } finally {
      await cleanup();
    }
  });

  it('expires a queued deadline while later waiters keep waiting, then serves them', async () => {
    const { db, cleanup } = await withSchema('dbhd', { pool: { max: 1 } });
    try {
      const hold = db.query('select pg_sleep(0.5)');
      await waitFor(() => hostStats(db).borrowed === 1);
      const later = db.query<{ n: number }>('select 2 as n', [], { timeoutMs: 20_000 });
      const soon = db.query('select 1', [], { timeoutMs: 80 }).catch((e) => e);
      const error = await soon;
      expect(isQueryTimeoutError(error)).toBe(true);
      expect(error.timeoutMs).toBe(80);
      expect(hostStats(db).waiting).toBe(1);
      expect((await later).rows[0]?.n).toBe(2);
      await hold;
    } finally {
      await cleanup();
    }
  });

  it('a connection destroyed on release (lifetime over) gives its slot to the next waiter', async () => {
    const { db, cleanup } = await withSchema('dbhl', {
      pool: { max: 1, maxLifetimeMs: 300, lifetimeJitter: 0 },
    });
    try {
      await db.query('select 1');
      const hold = db.query('select pg_sleep(0.4)');
      await waitFor(() => hostStats(db).borrowed === 1);
      const waiters = [1, 2, 3].map((n) => db.query<{ n: number }>('select $1::int as n', [n]));
      await waitFor(() => hostStats(db).waiting === 3);
      await hold;
      const results = await Promise.all(waiters);
      expect(results.map((r) => r.rows[0]?.n)).toEqual([1, 2, 3]);
      const s = hostStats(db);
      expect(Number(s.created)).toBeGreaterThanOrEqual(2);
      expect(Number(s.destroyed)).toBeGreaterThanOrEqual(1);
      expect(s.waiting).toBe(0);
      expect(s.borrowed).toBe(0);
    } finally {
      await cleanup();
    }
  });

  it('a storm of mixed priorities, deadlines and aborts settles every call and leaks nothing', async () => {
    const { db, app, cleanup } = await withSchema('dbhs', { pool: { max: 2 } });
    try {
      let seed = 42;
      const rand = () => {
        seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648;
        return seed / 2_147_483_648;
      };
      const calls = Array.from({ length: 200 }, (_, i) => {
        const r = rand();
        const controller = r < 0.2 ? new AbortController() : undefined;
        if (controller !== undefined) setTimeout(() => controller.abort(), Math.floor(rand() * 30));
        return db
          .query<{ n: number }>('select $1::int as n, pg_sleep(0.002)', [i], {
            priority: Math.floor(rand() * 3),
            ...(r > 0.8 ? { timeoutMs: 40 } : {}),
            ...(controller === undefined ? {} : { signal: controller.signal }),
          })
          .then(
            (res) => (res.rows[0]?.n === i ? 'ok' : 'wrong row'),
            (e: { code?: string; sqlState?: string; message?: string }) =>
              e.code === 'E_DB_QUERY' ? `${e.code} ${e.sqlState} ${e.message}` : (e.code ?? 'untyped'),
          );
      });
      const results = await Promise.all(calls);
      const kinds = new Set(results);
      for (const k of kinds) expect(['ok', 'E_DB_QUERY_TIMEOUT', 'E_DB_ABORTED']).toContain(k);
      expect(results.filter((r) => r === 'ok').length).toBeGreaterThan(100);
      await waitFor(() => hostStats(db).borrowed === 0, { timeoutMs: 10_000 });
      const s = hostStats(db);
      expect(s.waiting).toBe(0);
      expect(Number(s.total)).toBeLessThanOrEqual(2);
      expect((await backends(app)).length).toBeLessThanOrEqual(2);
      expect((await db.query<{ n: number }>('select 7 as n')).rows[0]?.n).toBe(7);
    } finally {
      await cleanup();
    }
  });

  it('close() fails queued callers with ClosedError and leaves nothing borrowed', async () => {
    const { db, cleanup } = await withSchema('dbhc', { pool: { max: 1 } });
    try {
      const hold = db.query('select pg_sleep(1)').catch((e) => e);
      await waitFor(() => hostStats(db).borrowed === 1);
      const queued = db.query('select 1').catch((e) => e);
      await waitFor(() => hostStats(db).waiting === 1);
      const closing = db.close();
      expect((await queued).code).toBe('E_DB_CLOSED');
      await hold;
      await closing;
    } finally {
      await cleanup();
    }
  });
});
