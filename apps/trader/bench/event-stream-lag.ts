// Event-stream lag, engine -> gateway: one engine and one gateway as separate processes on the local Redis (and
// PostgreSQL for the gateway's audit log), the engine trading against its simulator. The gateway's event-stream
// consumer records, per live record, the time from the engine's append (stamped on the machine's clock with a
// microsecond fraction) to the record applied to its read model; this bench reads those percentiles from the
// gateway's /metrics. Baseline in the same run: raw ioredis XADD -> XREAD BLOCK on a second connection, at the
// same record rate and a similar record size, in this process.
// Run: npx tsx apps/trader/bench/event-stream-lag.ts   (BENCH_MS=20000 by default)
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { percentiles, reportBench, serviceUrls, uniqueName } from '@cryptoscalp/testkit';
import { Redis } from 'ioredis';
import { issueToken } from '../src/http/tokens.js';

const MEASURE_MS = Number(process.env.BENCH_MS ?? 20_000);
const appDir = fileURLToPath(new URL('../', import.meta.url));
const secret = 'bench-lag-secret-0123456789abcdef0123456789';
const schema = uniqueName('bench_lag');
const busKey = `bench:${uniqueName('lag')}`;
const dataDir = mkdtempSync(join(tmpdir(), 'bench-lag-'));
const children: ChildProcess[] = [];

function start(args: string[], extra: Record<string, string> = {}): Promise<{ child: ChildProcess; base: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', ...args], {
    cwd: appDir,
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      REDIS_URL: serviceUrls.redis,
      DATABASE_URL: serviceUrls.postgres,
      TRADER_DATABASE_SCHEMA: schema,
      TRADER_BUS_KEY: busKey,
      TRADER_CACHE_PREFIX: busKey.replace(/:/g, '.'),
      TRADER_JWT_SECRET: secret,
      TRADER_HTTP_SHUTDOWN_DELAY_MS: '0',
      TRADER_STRATEGY_WARMUP_SAMPLES: '40',
      ...extra,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let out = '';
  return new Promise((resolve, reject) => {
    const onData = (d: Buffer) => {
      out += String(d);
      const m = /trader: health\s+(http:\/\/[^/\s]+)/.exec(out);
      if (out.includes('trader: running') && m !== null) resolve({ child, base: m[1] as string });
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', (d) => {
      out += String(d);
    });
    child.once('exit', (code) => reject(new Error(`trader exited ${code}:\n${out}`)));
  });
}

async function metric(base: string, token: string, name: RegExp): Promise<number> {
  const text = await (await fetch(`${base}/metrics`, { headers: { authorization: `Bearer ${token}` } })).text();
  const m = name.exec(text);
  return m === null ? Number.NaN : Number(m[1]);
}

/** Raw transport floor: XADD at `rate` records/s on one connection, XREAD BLOCK on another, lag per record. */
async function rawRedisLag(rate: number, ms: number, bytes: number): Promise<number[]> {
  const key = `${busKey}:raw`;
  const w = new Redis(serviceUrls.redis);
  const r = new Redis(serviceUrls.redis);
  const lags: number[] = [];
  const pad = 'x'.repeat(Math.max(0, bytes - 40));
  let stop = false;
  const reader = (async () => {
    let last = '$';
    while (!stop) {
      const res = (await r.xread('COUNT', 1000, 'BLOCK', 200, 'STREAMS', key, last)) as
        | [string, [string, string[]][]][]
        | null;
      const now = performance.timeOrigin + performance.now();
      for (const [, entries] of res ?? [])
        for (const [id, fields] of entries) {
          last = id;
          lags.push(now - Number(fields[1]));
        }
    }
  })();
  const interval = 1000 / rate;
  const until = performance.now() + ms;
  let next = performance.now();
  while (performance.now() < until) {
    await w.xadd(key, 'MAXLEN', '~', 10000, '*', 'ts', String(performance.timeOrigin + performance.now()), 'd', pad);
    next += interval;
    const wait = next - performance.now();
    if (wait > 0) await new Promise((res) => setTimeout(res, wait));
  }
  await new Promise((res) => setTimeout(res, 300));
  stop = true;
  await reader;
  await w.del(key);
  w.disconnect();
  r.disconnect();
  return lags;
}

try {
  const token = await issueToken({ sub: 'bench', role: 'viewer', secret, ttl: '10m' });
  const engine = await start(['--role', 'engine', '--port', '0', '--data-dir', dataDir]);
  const gateway = await start(['--role', 'gateway', '--port', '0'], { TRADER_INSTANCE_ID: 'gw' });
  const recordsMetric = /cryptoscalp_stats_event_stream_model_records\{component="trader"\} (\S+)/;
  const r0 = await metric(gateway.base, token, recordsMetric);
  const t0 = performance.now();
  await new Promise((res) => setTimeout(res, MEASURE_MS));
  const r1 = await metric(gateway.base, token, recordsMetric);
  const seconds = (performance.now() - t0) / 1000;
  const rate = (r1 - r0) / seconds;
  const p = async (q: string) =>
    metric(
      gateway.base,
      token,
      new RegExp(`cryptoscalp_stats_event_stream_lag_ms_${q}\\{component="trader"\\} (\\S+)`),
    );
  const lag = { p50: await p('p50'), p99: await p('p99'), p999: await p('p999') };
  // The engine's event-loop delay over the same run: an append waits for the engine's loop to send it.
  const loopP99 = (await metric(engine.base, token, /^nodejs_eventloop_lag_p99_seconds(?:\{[^}]*\})? (\S+)/m)) * 1000;
  const raw = percentiles(await rawRedisLag(Math.max(1, rate), Math.min(MEASURE_MS, 10_000), 400), [50, 99, 99.9]);
  const method =
    `engine and gateway as separate processes on the local Redis (stream ${busKey}:events), engine trading against its simulator; ` +
    `${rate.toFixed(1)} records/s (journal entries, book tops every 250 ms, status every 1 s) over ${seconds.toFixed(0)} s; ` +
    'lag = engine append stamp (performance.timeOrigin + performance.now()) to the record applied to the gateway read model, live records only, ' +
    'read from the gateway /metrics; baseline: raw ioredis XADD -> XREAD BLOCK on a second connection at the same rate, 400-byte records, in the bench process; shared 2-core machine';
  console.log(
    `engine -> gateway lag p50 ${lag.p50.toFixed(3)} ms, p99 ${lag.p99.toFixed(3)} ms, p99.9 ${lag.p999.toFixed(3)} ms`,
  );
  console.log(`engine event-loop delay p99 ${loopP99.toFixed(1)} ms`);
  console.log(
    `raw XADD -> XREAD lag p50 ${raw.p50?.toFixed(3)} ms, p99 ${raw.p99?.toFixed(3)} ms at ${rate.toFixed(1)} records/s`,
  );
  reportBench({
    package: '@cryptoscalp/trader',
    bench: 'event-stream-lag',
    figures: [
      {
        name: 'event-stream lag engine -> gateway p99',
        value: lag.p99,
        unit: 'ms',
        baseline: { name: 'raw ioredis XADD -> XREAD BLOCK p99', value: raw.p99 as number },
        higherIsBetter: false,
        method,
        extra: {
          p50: lag.p50,
          p999: lag.p999,
          rawP50: raw.p50 as number,
          recordsPerSecond: rate,
          engineEventLoopDelayP99ms: loopP99,
        },
      },
    ],
  });
} finally {
  for (const c of children) {
    if (c.exitCode === null && c.signalCode === null) {
      c.kill('SIGTERM');
      const t = setTimeout(() => c.kill('SIGKILL'), 15_000);
      await new Promise((r) => c.once('exit', r));
      clearTimeout(t);
    }
  }
  const redis = new Redis(serviceUrls.redis);
  const keys = await redis.keys(`${busKey}*`);
  if (keys.length > 0) await redis.del(...keys);
  const cacheKeys = await redis.keys(`${busKey.replace(/:/g, '.')}*`);
  if (cacheKeys.length > 0) await redis.del(...cacheKeys);
  redis.disconnect();
  const { default: pg } = await import('pg');
  const client = new pg.Client({ connectionString: serviceUrls.postgres });
  await client.connect();
  await client.query(`drop schema if exists ${schema} cascade`);
  await client.end();
  rmSync(dataDir, { recursive: true, force: true });
}
