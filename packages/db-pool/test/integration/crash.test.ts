import { type PostgresCluster, startPostgresCluster, uniqueName, waitFor } from '@cryptoscalp/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isCommitUnknownError, PoolManager } from '../../src/index.js';

/** A disposable server that is SIGKILLed while statements are running on it. */
describe('server crash while a write is in flight', () => {
  let pg: PostgresCluster;
  let db: PoolManager;
  let app: string;

  beforeAll(async () => {
    pg = await startPostgresCluster();
    app = uniqueName('dbk');
    db = new PoolManager({
      name: app,
      primary: { connectionString: pg.url },
      pool: { connectTimeoutMs: 1_000 },
      breaker: { enabled: false },
      retry: { maxAttempts: 5 },
      failover: { probeIntervalMs: 100, timeoutMs: 30_000 },
    });
    await db.query('create table t (id int primary key, note text)');
  });
  afterAll(async () => {
    await db?.close();
    await pg?.stop();
  });

  const runningOnServer = (needle: string) =>
    waitFor(
      async () =>
        (await pg.psql(
          `select count(*) from pg_stat_activity where query like '%${needle}%' and pid <> pg_backend_pid()`,
        )) === '1',
      {
        timeoutMs: 10_000,
      },
    );

  const crashAndRestart = async () => {
    await pg.kill();
    await new Promise((r) => setTimeout(r, 200));
    await pg.start();
  };

  it('a non-idempotent write whose connection dies after it was sent is CommitUnknownError, not retried', async () => {
    const pending = db.query("insert into t select 1, 'unknown' from pg_sleep(5)").catch((e) => e);
    await runningOnServer('unknown');
    await crashAndRestart();
    const error = await pending;
    expect(isCommitUnknownError(error)).toBe(true);
    expect(error.host).toBe(`127.0.0.1:${pg.port}`);
    // The manager resumes on the restarted server.
    await waitFor(async () => (await db.query('select 1').then(() => true)) === true, { timeoutMs: 20_000 });
    expect((db.stats() as { commitUnknown: number }).commitUnknown).toBeGreaterThanOrEqual(1);
  });

  it('an idempotent write is retried after the crash and succeeds', async () => {
    const retriesBefore = (db.stats() as { retries: number }).retries;
    const pending = db.query("insert into t select 2, 'idem' from pg_sleep(3) on conflict do nothing", [], {
      idempotent: true,
    });
    await runningOnServer('idem');
    await crashAndRestart();
    const r = await pending;
    expect(r.rowCount).toBe(1);
    expect((db.stats() as { retries: number }).retries).toBeGreaterThan(retriesBefore);
    expect((await db.query('select note from t where id = 2')).rows).toEqual([{ note: 'idem' }]);
  });

  it('a transaction that lost its connection before COMMIT is re-run', async () => {
    let runs = 0;
    const pending = db.transaction(async (tx) => {
      runs++;
      await tx.query("insert into t values (3, 'tx')");
      if (runs === 1) await tx.query("select 'txsleep', pg_sleep(5)");
    });
    await runningOnServer('txsleep');
    await crashAndRestart();
    await pending;
    expect(runs).toBe(2);
    expect((await db.query('select note from t where id = 3')).rows).toEqual([{ note: 'tx' }]);
  });
});
