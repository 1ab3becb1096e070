/**
 * Throughput of `select $1::int` with 64 concurrent callers and a pool of 10:
 * PoolManager (plain and auto-prepared) against raw pg.Pool, pg.Pool with a named
 * prepared statement, and postgres.js, in the same run with the same harness.
 *
 * The machine is shared and noisy, so the subjects are measured in interleaved short
 * rounds (every subject once per round, order rotated) and compared on their totals.
 */
import { measureThroughput, reportBench, serviceUrls, type ThroughputResult } from '@cryptoscalp/testkit';
import pg from 'pg';
import postgres from 'postgres';

// The built package (what users run), not the tsx-transformed source that the tsconfig paths
// would resolve '@cryptoscalp/db-pool' to; `npm run bench` builds first.
const { PoolManager } = (await import(
  new URL('../dist/index.js', import.meta.url).href
)) as typeof import('../src/index.js');

const url = serviceUrls.postgres;
const concurrency = 64;
const rounds = Number(process.env.BENCH_ROUNDS ?? 6);
const roundMs = Number(process.env.BENCH_ROUND_MS ?? 1_000);
const sql = 'select $1::int as n';

const raw = new pg.Pool({ connectionString: url, max: 10 });
const plain = new PoolManager({ primary: { connectionString: url }, pool: { max: 10 }, prepare: false });
const prepared = new PoolManager({ primary: { connectionString: url }, pool: { max: 10 }, prepare: true });
const pjs = postgres(url, { max: 10, prepare: true });

const subjects: Record<string, (i: number) => Promise<unknown>> = {
  'pg.Pool': (i) => raw.query(sql, [i]),
  'pg.Pool + name': (i) => raw.query({ name: 'bench_n', text: sql, values: [i] }),
  'PoolManager (prepare: false)': (i) => plain.query(sql, [i]),
  'PoolManager (auto-prepare)': (i) => prepared.query(sql, [i]),
  'postgres.js': (i) => pjs`select ${i}::int as n`,
};
const names = Object.keys(subjects);
const totals = new Map<string, { ops: number; ms: number; p95: number[] }>(
  names.map((n) => [n, { ops: 0, ms: 0, p95: [] }]),
);

for (let round = 0; round < rounds; round++) {
  for (let k = 0; k < names.length; k++) {
    const name = names[(k + round) % names.length]!;
    const r: ThroughputResult = await measureThroughput(subjects[name]!, {
      concurrency,
      durationMs: roundMs,
      warmupMs: 200,
      latency: true,
    });
    const t = totals.get(name)!;
    t.ops += r.ops;
    t.ms += r.durationMs;
    t.p95.push(r.latencyMs?.p95 ?? Number.NaN);
  }
}
await raw.end();
await plain.close();
await prepared.close();
await pjs.end();

const qps = (name: string) => {
  const t = totals.get(name)!;
  return (t.ops / t.ms) * 1000;
};
const medianP95 = (name: string) => {
  const s = [...totals.get(name)!.p95].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? Number.NaN;
};
const method = `select $1::int, ${concurrency} concurrent callers, pool of 10, ${rounds} interleaved rounds of ${roundMs} ms (+200 ms warm-up) per subject, local PostgreSQL 15, 2 cores shared with other jobs (noisy)`;
reportBench({
  package: '@cryptoscalp/db-pool',
  bench: 'throughput',
  figures: [
    {
      name: 'PoolManager.query (prepare: false)',
      value: qps('PoolManager (prepare: false)'),
      unit: 'q/s',
      baseline: { name: 'pg.Pool', value: qps('pg.Pool') },
      higherIsBetter: true,
      target: 0.95,
      method,
      extra: { p95Ms: medianP95('PoolManager (prepare: false)'), baselineP95Ms: medianP95('pg.Pool') },
    },
    {
      name: 'PoolManager.query (auto-prepare)',
      value: qps('PoolManager (auto-prepare)'),
      unit: 'q/s',
      baseline: { name: 'pg.Pool', value: qps('pg.Pool') },
      higherIsBetter: true,
      target: 1.1,
      method,
      extra: { p95Ms: medianP95('PoolManager (auto-prepare)'), baselineP95Ms: medianP95('pg.Pool') },
    },
    {
      name: 'PoolManager.query (auto-prepare) vs pg.Pool with a named statement',
      value: qps('PoolManager (auto-prepare)'),
      unit: 'q/s',
      baseline: { name: 'pg.Pool + name', value: qps('pg.Pool + name') },
      higherIsBetter: true,
      method,
    },
    {
      name: 'PoolManager.query (auto-prepare) vs postgres.js',
      value: qps('PoolManager (auto-prepare)'),
      unit: 'q/s',
      baseline: { name: 'postgres.js', value: qps('postgres.js') },
      higherIsBetter: true,
      method,
      extra: { baselineP95Ms: medianP95('postgres.js') },
    },
  ],
});
