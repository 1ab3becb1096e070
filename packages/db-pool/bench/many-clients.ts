/**
 * 1,000 concurrent logical clients on a pool of 20: latency percentiles of PoolManager.query
 * against raw pg.Pool (max 20) with the same query and harness, in alternating rounds (the
 * machine is shared and noisy); each figure is the median over the rounds.
 */
import { measureThroughput, reportBench, serviceUrls } from '@cryptoscalp/testkit';
import pg from 'pg';

// The built package (what users run), not the tsx-transformed source that the tsconfig paths
// would resolve '@cryptoscalp/db-pool' to; `npm run bench` builds first.
const { PoolManager } = (await import(
  new URL('../dist/index.js', import.meta.url).href
)) as typeof import('../src/index.js');

const url = serviceUrls.postgres;
const concurrency = 1_000;
const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
const durationMs = Number(process.env.BENCH_ROUND_MS ?? 3_000);
const sql = 'select $1::int as n';
const opts = { concurrency, durationMs, warmupMs: 500, latency: true };

const raw = new pg.Pool({ connectionString: url, max: 20 });
const db = new PoolManager({ primary: { connectionString: url }, pool: { max: 20, maxWaitingClients: 2_000 } });
const runs: Record<'pm' | 'raw', { p50: number; p95: number; p99: number; ops: number }[]> = { pm: [], raw: [] };
for (let round = 0; round < rounds; round++) {
  for (const which of round % 2 === 0 ? (['pm', 'raw'] as const) : (['raw', 'pm'] as const)) {
    const r =
      which === 'pm'
        ? await measureThroughput((i) => db.query(sql, [i]), opts)
        : await measureThroughput((i) => raw.query(sql, [i]), opts);
    runs[which].push({
      p50: r.latencyMs?.p50 ?? Number.NaN,
      p95: r.latencyMs?.p95 ?? Number.NaN,
      p99: r.latencyMs?.p99 ?? Number.NaN,
      ops: r.opsPerSec,
    });
  }
}
await raw.end();
await db.close();

const median = (which: 'pm' | 'raw', key: 'p50' | 'p95' | 'p99' | 'ops') => {
  const v = runs[which].map((r) => r[key]).sort((a, b) => a - b);
  return v[Math.floor(v.length / 2)] ?? Number.NaN;
};
const method = `select $1::int, ${concurrency} concurrent callers, pool of 20, ${rounds} alternating rounds of ${durationMs} ms (+500 ms warm-up), median over rounds, local PostgreSQL 15, 2 cores shared with other jobs (noisy)`;
reportBench({
  package: '@cryptoscalp/db-pool',
  bench: 'many-clients',
  figures: [
    {
      name: 'p95 latency, 1000 clients on a pool of 20',
      value: median('pm', 'p95'),
      unit: 'ms',
      baseline: { name: 'pg.Pool max 20', value: median('raw', 'p95') },
      higherIsBetter: false,
      method,
      extra: {
        p50Ms: median('pm', 'p50'),
        p99Ms: median('pm', 'p99'),
        opsPerSec: Math.round(median('pm', 'ops')),
        baselineP50Ms: median('raw', 'p50'),
        baselineP99Ms: median('raw', 'p99'),
        baselineOpsPerSec: Math.round(median('raw', 'ops')),
        targetP95Ms: 100,
      },
    },
  ],
});
