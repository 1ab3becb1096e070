/**
 * 1,000 concurrent logical clients on a pool of 20: latency percentiles of PoolManager.query
 * against raw pg.Pool (max 20) with the same query, same harness, same run.
 */
import { measureThroughput, reportBench, serviceUrls } from '@cryptoscalp/testkit';
import pg from 'pg';
import { PoolManager } from '@cryptoscalp/db-pool';

const url = serviceUrls.postgres;
const concurrency = 1_000;
const durationMs = Number(process.env.BENCH_DURATION_MS ?? 5_000);
const sql = 'select $1::int as n';
const opts = { concurrency, durationMs, warmupMs: 1_000, latency: true };

const raw = new pg.Pool({ connectionString: url, max: 20 });
const rawResult = await measureThroughput((i) => raw.query(sql, [i]), opts);
await raw.end();

const db = new PoolManager({ primary: { connectionString: url }, pool: { max: 20, maxWaitingClients: 2_000 } });
const result = await measureThroughput((i) => db.query(sql, [i]), opts);
await db.close();

const method = `select $1::int, ${concurrency} concurrent callers, pool of 20, ${durationMs} ms after 1 s warm-up, local PostgreSQL 15, 2 cores shared with other jobs (noisy)`;
const lat = (r: typeof result, p: string) => r.latencyMs?.[p] ?? Number.NaN;
reportBench({
  package: '@cryptoscalp/db-pool',
  bench: 'many-clients',
  figures: [
    {
      name: 'p95 latency, 1000 clients on a pool of 20',
      value: lat(result, 'p95'),
      unit: 'ms',
      baseline: { name: 'pg.Pool max 20', value: lat(rawResult, 'p95') },
      higherIsBetter: false,
      method,
      extra: {
        p50Ms: lat(result, 'p50'),
        p99Ms: lat(result, 'p99'),
        opsPerSec: Math.round(result.opsPerSec),
        baselineP50Ms: lat(rawResult, 'p50'),
        baselineP99Ms: lat(rawResult, 'p99'),
        baselineOpsPerSec: Math.round(rawResult.opsPerSec),
        targetP95Ms: 100,
      },
    },
  ],
});
