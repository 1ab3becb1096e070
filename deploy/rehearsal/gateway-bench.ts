import { mkdtempSync, readdirSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { freePort, serviceUrls, uniqueName, waitFor } from '@cryptoscalp/testkit';
import { issueToken } from '../../apps/trader/src/http/tokens.js';
import { cpuSeconds } from './cpu-usage.js';
import { type CapacityResult, measureCapacity } from './load.js';
import { removeRunState, startTraderRole, type TraderRole } from './trader-process.js';

/** Options of {@link benchGateway}. */
export interface GatewayBenchOptions {
  /** Seconds of each wrk run. @default 5 */
  seconds?: number;
  /** wrk connections. @default 64 */
  connections?: number;
  /** Runs per path, alternated (the load of a shared machine drifts). @default 2 */
  rounds?: number;
  /** Paths to load, each with a viewer token. @default ['/api/positions', '/health/liveness'] */
  paths?: readonly string[];
  /** Write a V8 CPU profile of the gateway into this directory (`--cpu-prof`). */
  cpuProfileDir?: string;
  /** Extra environment for the gateway (a configuration to compare). */
  gatewayEnv?: Record<string, string>;
  /** @default REDIS_URL or the local Redis */
  redisUrl?: string;
  /** Progress lines. @default none */
  log?: (line: string) => void;
  /** @default DATABASE_URL or the local PostgreSQL */
  databaseUrl?: string;
}

/** One path's wrk runs against one gateway, kept-alive. */
export interface GatewayBenchRow {
  path: string;
  runs: CapacityResult[];
}

/**
 * What one gateway process answers at all, unpaced, kept-alive and directly (no nginx): an engine and one gateway on
 * the local Redis and PostgreSQL, wrk on each path in turn. Every process it starts is stopped by its PID.
 */
export async function benchGateway(options: GatewayBenchOptions = {}): Promise<GatewayBenchRow[]> {
  const o = {
    seconds: 5,
    connections: 64,
    rounds: 2,
    paths: ['/api/positions', '/health/liveness'],
    redisUrl: serviceUrls.redis,
    databaseUrl: serviceUrls.postgres,
    gatewayEnv: {},
    log: () => {},
    ...options,
  };
  const dir = mkdtempSync(join(tmpdir(), 'gateway-bench-'));
  const id = uniqueName('gwbench');
  const busKey = `gwbench:${id}`;
  const cachePrefix = `gwbench.${id}`;
  const secret = `gwbench-${id}-secret-0123456789abcdef`;
  const started = new Set<TraderRole>();
  const env = (instance: string): Record<string, string> => ({
    REDIS_URL: o.redisUrl,
    DATABASE_URL: o.databaseUrl,
    TRADER_DATABASE_SCHEMA: id,
    TRADER_BUS_KEY: busKey,
    TRADER_CACHE_PREFIX: cachePrefix,
    TRADER_JWT_SECRET: secret,
    TRADER_INSTANCE_ID: instance,
    TRADER_DATA_DIR: join(dir, instance),
    TRADER_HTTP_SHUTDOWN_DELAY_MS: '0',
    TRADER_HTTP_RATE_LIMIT_PER_IP: '0',
  });
  try {
    await startTraderRole('engine', await freePort(), env('engine'), started);
    const nodeArgs = o.cpuProfileDir === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${o.cpuProfileDir}`];
    const gatewayEnv = { ...env('gw'), ...o.gatewayEnv };
    const t0 = performance.now();
    const g = await startTraderRole('gateway', await freePort(), gatewayEnv, started, [], 0, nodeArgs);
    await waitFor(async () => (await fetch(`${g.url}/health/readiness`)).status === 200, {
      timeoutMs: 90_000,
      intervalMs: 100,
      what: 'gateway ready',
    });
    o.log(`gateway ready in ${Math.round(performance.now() - t0)} ms, ${cpuSeconds(g.pid).toFixed(2)} CPU s`);
    const tokens = await Promise.all(
      Array.from({ length: 64 }, (_, i) => issueToken({ sub: `bench-${i}`, role: 'viewer', secret, ttl: '1h' })),
    );
    const run = (path: string, seconds: number) =>
      measureCapacity({
        url: `${g.url}${path}`,
        tokens,
        dir,
        connections: o.connections,
        threads: 2,
        seconds,
        keepAlive: true,
      });
    // Not measured: the first seconds compile the request path.
    if (o.rounds > 0) for (const path of o.paths) await run(path, 2);
    const rows: GatewayBenchRow[] = o.paths.map((path) => ({ path, runs: [] }));
    for (let round = 0; round < o.rounds; round++)
      for (const row of rows) row.runs.push(await run(row.path, o.seconds));
    return rows;
  } finally {
    for (const p of [...started].reverse()) await p.stop();
    await removeRunState({
      redisUrl: o.redisUrl,
      databaseUrl: o.databaseUrl,
      keyPrefixes: [busKey, cachePrefix],
      schema: id,
      dir,
    });
  }
}

// `npx tsx deploy/rehearsal/gateway-bench.ts [--seconds 5] [--profile DIR] [--env KEY=VALUE ...]`: prints each path's
// rate (median of the rounds) with the load average.
if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({
    options: {
      seconds: { type: 'string', default: '5' },
      rounds: { type: 'string', default: '2' },
      path: { type: 'string', multiple: true },
      profile: { type: 'string' },
      env: { type: 'string', multiple: true },
    },
    strict: true,
  });
  const gatewayEnv = Object.fromEntries(
    (values.env ?? []).map((kv) => {
      const at = kv.indexOf('=');
      if (at < 1) throw new RangeError(`--env must be KEY=VALUE, got ${kv}`);
      return [kv.slice(0, at), kv.slice(at + 1)];
    }),
  );
  const profileDir = values.profile === undefined ? undefined : resolve(values.profile);
  const rows = await benchGateway({
    seconds: Number(values.seconds),
    rounds: Number(values.rounds),
    ...(values.path === undefined ? {} : { paths: values.path }),
    ...(profileDir === undefined ? {} : { cpuProfileDir: profileDir }),
    gatewayEnv,
    log: (line) => console.error(line),
  });
  console.log(
    `load average ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
  );
  for (const { path, runs } of rows) {
    const rates = runs.map((r) => r.requestsPerSecond).sort((a, b) => a - b);
    const median = rates[Math.floor(rates.length / 2)] as number;
    console.log(
      `${path}: ${Math.round(median)} req/s (runs ${rates.map(Math.round).join(', ')}; p99 ${runs.map((r) => r.p99Ms.toFixed(1)).join(', ')} ms; not 2xx ${runs.map((r) => r.requests - r.ok).join(', ')})`,
    );
  }
  if (profileDir !== undefined) console.log(`profiles: ${readdirSync(profileDir).join(', ')}`);
}
