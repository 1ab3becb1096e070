import { freePort } from '@cryptoscalp/testkit';
import { PGlite } from '@electric-sql/pglite';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';
import { describe, expect, it } from 'vitest';
import { PoolManager } from '../../src/index.js';

// The trader's setup: an embedded PGlite (ONE database session) behind a socket, several pool
// connections multiplexed onto it. With `prepare: false` no named statement exists to collide.
describe('PoolManager against PGlite behind a socket', () => {
  it('runs concurrent parameterized statements on several connections with prepare: false', async () => {
    const pglite = await PGlite.create();
    const port = await freePort();
    const server = new PGLiteSocketServer({ db: pglite, port, host: '127.0.0.1', maxConnections: 10 });
    await server.start();
    const db = new PoolManager({
      name: 'pglite-test',
      primary: { host: '127.0.0.1', port, user: 'postgres', database: 'postgres' },
      pool: { max: 3 },
      prepare: false,
      breaker: { enabled: false },
    });
    try {
      await db.query('create table fills (id int primary key, qty int not null)');
      const writes = Array.from({ length: 30 }, (_, i) => db.query('insert into fills values ($1, $2)', [i, i * 2]));
      await Promise.all(writes);
      const reads = await Promise.all(
        Array.from({ length: 30 }, (_, i) => db.query<{ qty: number }>('select qty from fills where id = $1', [i])),
      );
      expect(reads.map((r) => r.rows[0]?.qty)).toEqual(Array.from({ length: 30 }, (_, i) => i * 2));
      await db.transaction(async (tx) => {
        await tx.query('update fills set qty = qty + $1 where id = $2', [1, 0]);
      });
      expect((await db.query<{ qty: number }>('select qty from fills where id = $1', [0])).rows[0]?.qty).toBe(1);
      const prepared = await db.query<{ n: string }>('select count(*)::text as n from pg_prepared_statements');
      expect(prepared.rows[0]?.n).toBe('0');
      // What `prepare: false` avoids: auto-prepared names collide on the shared session (42P05).
      const auto = new PoolManager({
        name: 'pglite-auto',
        primary: { host: '127.0.0.1', port, user: 'postgres', database: 'postgres' },
        pool: { max: 3 },
        breaker: { enabled: false },
      });
      try {
        const outcomes = await Promise.all(
          Array.from({ length: 30 }, (_, i) =>
            auto.query('select qty from fills where id = $1', [i]).then(
              () => 'ok',
              (e: { sqlState?: string }) => e.sqlState ?? 'other',
            ),
          ),
        );
        expect(outcomes).toContain('42P05');
      } finally {
        await auto.close();
      }
    } finally {
      await db.close();
      await server.stop();
      await pglite.close();
    }
  }, 60_000);
});
