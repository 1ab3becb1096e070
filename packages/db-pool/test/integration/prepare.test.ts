import { describe, expect, it } from 'vitest';
import { withSchema } from './helpers.js';

const preparedCount = async (db: Awaited<ReturnType<typeof withSchema>>['db']) =>
  Number((await db.query<{ n: string }>('select count(*)::text as n from pg_prepared_statements')).rows[0]?.n);

// PGlite (one database session behind a socket) and PgBouncer in transaction mode share server
// sessions between connections, where named statements collide: `prepare: false` must not create any.
describe('prepare: false', () => {
  it('creates no named prepared statement (queries, reads, transactions, sessions)', async () => {
    const { db, cleanup } = await withSchema('dbnp', { prepare: false, pool: { max: 1 } });
    try {
      await db.query('create table t (id int primary key, v text)');
      await db.query('insert into t values ($1, $2)', [1, 'a']);
      await db.query('select * from t where id = $1', [1], { role: 'read', timeoutMs: 5_000 });
      await db.transaction(async (tx) => {
        await tx.query('insert into t values ($1, $2)', [2, 'b']);
        await tx.query('select v from t where id = $1', [2]);
      });
      const session = db.session();
      await session.query('insert into t values ($1, $2)', [3, 'c']);
      await session.query('select v from t where id = $1', [3], { role: 'read' });
      // One connection (max 1): pg_prepared_statements shows that very session.
      expect(await preparedCount(db)).toBe(0);
      // The check can fail: an explicit per-query opt-in does prepare one.
      await db.query('select v from t where id = $1', [1], { prepare: true });
      expect(await preparedCount(db)).toBe(1);
    } finally {
      await cleanup();
    }
  });
});
