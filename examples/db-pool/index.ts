/**
 * @cryptoscalp/db-pool in one page: a PoolManager on the local PostgreSQL, a write, a read, a
 * transaction, a deadline that cancels the server-side query, a typed SQL error, query
 * statistics, stats and health. Build the package first:
 *
 *   npm run build -w @cryptoscalp/db-pool && npx tsx examples/db-pool/index.ts
 */
import diagnosticsChannel from 'node:diagnostics_channel';
import { isQueryError, isQueryTimeoutError, PoolManager, SLOW_QUERY_CHANNEL } from '@cryptoscalp/db-pool';

const url = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

diagnosticsChannel.subscribe(SLOW_QUERY_CHANNEL, (event) => console.log('slow query:', event));

const db = new PoolManager({
  primary: { connectionString: url },
  // replicas: [{ connectionString: 'postgres://...replica...' }],  // reads with role: 'read' go there
  pool: { max: 5, min: 1 },
  statementTimeoutMs: 5_000,
  slowQueryMs: 200,
});

try {
  await db.query('create table if not exists example_orders (id bigint primary key, sym text, qty numeric)');
  await db.query('truncate example_orders');

  const inserted = await db.query('insert into example_orders values ($1, $2, $3) on conflict do nothing', [
    1,
    'BTC-USD',
    0.5,
  ]);
  console.log(`insert: ${inserted.rowCount} row on ${inserted.host} in ${inserted.durationMs.toFixed(2)} ms`);

  const read = await db.query<{ sym: string; qty: string }>('select sym, qty from example_orders where id = $1', [1], {
    role: 'read', // no replica configured: falls back to the primary
  });
  console.log('read:', read.rows, 'from', read.role);

  const total = await db.transaction(
    async (tx) => {
      await tx.query('update example_orders set qty = qty + $1 where id = $2', [0.25, 1]);
      return (await tx.query<{ qty: string }>('select qty from example_orders where id = 1')).rows[0]?.qty;
    },
    { isolation: 'serializable', retries: 3 },
  );
  console.log('transaction committed, qty now', total);

  try {
    await db.query('insert into example_orders values ($1, $2, $3)', [1, 'BTC-USD', 1], { name: 'insert_order' });
  } catch (error) {
    if (isQueryError(error))
      console.log(`typed SQL error: SQLSTATE ${error.sqlState} in statement ${error.statementName}`);
  }

  try {
    await db.query('select pg_sleep(10)', [], { timeoutMs: 300 });
  } catch (error) {
    if (isQueryTimeoutError(error))
      console.log(`timed out after ${error.timeoutMs} ms; the server-side query was cancelled`);
  }

  console.log('query stats:', db.queryStats().slice(0, 3));
  console.log('health:', await db.healthCheck());
  console.log('stats:', db.stats());
  await db.query('drop table example_orders');
} finally {
  await db.close();
}
