/**
 * Failover time: a disposable primary with a synchronous streaming replica; 8 writers insert
 * continuously; the primary is SIGKILLed and the replica promoted (pg_ctl promote). Measures
 * the time from the kill to the first write acknowledged by the promoted replica, for
 * PoolManager (primary given as two hosts) against a baseline of "promote + a fresh pg.Pool
 * on the new primary" (what an operator script would do without the manager).
 */
import { reportBench, startPostgresCluster, waitFor } from '@cryptoscalp/testkit';
import pg from 'pg';

// The built package (what users run), not the tsx-transformed source that the tsconfig paths
// would resolve '@cryptoscalp/db-pool' to; `npm run bench` builds first.
const { PoolManager } = (await import(
  new URL('../dist/index.js', import.meta.url).href
)) as typeof import('../src/index.js');

async function pair() {
  const primary = await startPostgresCluster({ settings: { synchronous_standby_names: '*' } });
  const replica = await startPostgresCluster({ replicaOf: primary });
  await waitFor(async () => (await primary.psql('select count(*) from pg_stat_replication')) === '1', {
    timeoutMs: 30_000,
  });
  await primary.psql('create table w (id bigserial primary key, at timestamptz default now())');
  return { primary, replica };
}

// Subject: the manager discovers the new primary by itself.
const a = await pair();
const db = new PoolManager({
  primary: [{ connectionString: a.primary.url }, { connectionString: a.replica.url }],
  pool: { max: 8, connectTimeoutMs: 1_000 },
  breaker: { enabled: false },
  failover: { probeIntervalMs: 50 },
});
const newLabel = `127.0.0.1:${a.replica.port}`;
let stop = false;
let killedAt = 0;
let firstOnNew = 0;
const writer = async () => {
  while (!stop) {
    try {
      const r = await db.query('insert into w default values');
      if (killedAt > 0 && firstOnNew === 0 && r.host === newLabel) firstOnNew = performance.now();
    } catch {
      // unknown outcome or no primary yet: keep writing
    }
  }
};
const writers = Array.from({ length: 8 }, writer);
await new Promise((r) => setTimeout(r, 1_000));
killedAt = performance.now();
await a.primary.kill();
const promoteStarted = performance.now();
await a.replica.promote();
const promoteMs = performance.now() - promoteStarted;
await waitFor(() => firstOnNew > 0, { timeoutMs: 30_000 });
stop = true;
await Promise.all(writers);
const managerMs = firstOnNew - killedAt;
await db.close();
await a.replica.stop();
await a.primary.stop();

// Baseline: kill, promote, then a new pg.Pool pointed at the promoted host by hand.
const b = await pair();
const before = new pg.Pool({ connectionString: b.primary.url, max: 8 });
before.on('error', () => {});
await before.query('insert into w default values');
const killedB = performance.now();
await b.primary.kill();
await b.replica.promote();
const after = new pg.Pool({ connectionString: b.replica.url, max: 8 });
after.on('error', () => {});
await after.query('insert into w default values');
const baselineMs = performance.now() - killedB;
await before.end().catch(() => {});
await after.end();
await b.replica.stop();
await b.primary.stop();

reportBench({
  package: '@cryptoscalp/db-pool',
  bench: 'failover',
  figures: [
    {
      name: 'primary kill to first write acknowledged by the promoted replica',
      value: managerMs,
      unit: 'ms',
      baseline: { name: 'kill + promote + new pg.Pool on the new host (manual)', value: baselineMs },
      higherIsBetter: false,
      method:
        'disposable primary + synchronous streaming replica, 8 writers, SIGKILL primary, pg_ctl promote -w immediately, failover.probeIntervalMs 50; includes promotion time',
      extra: { promoteMs: Math.round(promoteMs) },
    },
  ],
});
