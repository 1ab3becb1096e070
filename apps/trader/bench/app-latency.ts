// The composed trader (ws-manager feed, engine, journal, PostgreSQL writer, cache, monitoring, health) with the
// embedded PGlite and with the local PostgreSQL: tick-to-decision and tick-to-journaled p50/p99/p999, event-loop
// delay beside it. Baseline in the same run: the direct-`ws` core (no packages, no database) on the same feed.
// Run: npx tsx apps/trader/bench/app-latency.ts
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { PoolManager } from '@cryptoscalp/db-pool';
import { reportBench, serviceUrls, uniqueName } from '@cryptoscalp/testkit';
import { TraderApp } from '../src/app/trader-app.js';
import { loadConfig } from '../src/config/load-config.js';
import { TradingEngine } from '../src/engine/trading-engine.js';
import { Journal } from '../src/journal/journal.js';
import { DirectBinanceFeed } from '../src/adapters/binance/direct-binance-feed.js';

const WARMUP_MS = 3_000;
const MEASURE_MS = Number(process.env.BENCH_MS ?? 5_000);
const symbols = ['BTCUSDT', 'ETHUSDT', 'SOLUSDT'];
const strategy = { warmupSamples: 100, cooldownMs: 0, threshold: 0.02 };
const risk = {
  maxOrdersPerSecond: 2000,
  maxPositionNotional: 1e9,
  maxNotionalPerOrder: 1e6,
  dailyLossLimit: 1e9,
  maxDrawdown: 1e9,
};

async function startSimulator(): Promise<{ child: ChildProcess; wsUrl: string; restUrl: string }> {
  const script = fileURLToPath(new URL('./simulator-process.ts', import.meta.url));
  const child = spawn(process.execPath, ['--import', 'tsx', script], {
    env: { ...process.env, SIM_EVENTS_PER_SECOND: '600', SIM_TICK_MS: '5' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const line = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout as NonNullable<typeof child.stdout> }).once('line', resolve);
    child.once('exit', (code) => reject(new Error(`simulator exited ${code}`)));
  });
  return { child, ...(JSON.parse(line) as { wsUrl: string; restUrl: string }) };
}

interface Result {
  decision: Record<string, number>;
  journaled: Record<string, number>;
  loopP99: number;
  loopMax: number;
  orders: number;
  persistedLag: number;
}

async function measure(engine: TradingEngine, lag: () => number): Promise<Result> {
  await new Promise((r) => setTimeout(r, WARMUP_MS));
  for (const r of Object.values(engine.latency)) r.reset();
  const loop = monitorEventLoopDelay({ resolution: 1 });
  loop.enable();
  const orders0 = engine.counters.ordersSubmitted;
  await new Promise((r) => setTimeout(r, MEASURE_MS));
  loop.disable();
  return {
    decision: engine.latency.tickToDecision.percentiles([50, 99, 99.9]),
    journaled: engine.latency.tickToJournaled.percentiles([50, 99, 99.9]),
    loopP99: loop.percentile(99) / 1e6,
    loopMax: loop.max / 1e6,
    orders: engine.counters.ordersSubmitted - orders0,
    persistedLag: lag(),
  };
}

async function runCore(sim: { wsUrl: string; restUrl: string }): Promise<Result> {
  const dir = mkdtempSync(join(tmpdir(), 'trader-bench-core-'));
  const { journal } = Journal.open(join(dir, 'journal.jsonl'), { fsync: 'interval' });
  const config = loadConfig({ env: {}, overrides: { symbols, strategy, risk } });
  let feed: DirectBinanceFeed | undefined;
  const engine = new TradingEngine({ config, journal, requestSnapshot: (s) => feed?.requestSnapshot(s) });
  feed = new DirectBinanceFeed({
    ...sim,
    symbols,
    onEvent: (e, t) => engine.onMarketEvent(e, t),
    onSnapshot: (s, snap) => engine.onSnapshot(s, snap),
  });
  engine.start();
  feed.start();
  const r = await measure(engine, () => 0);
  await feed.close();
  await engine.close();
  journal.close();
  rmSync(dir, { recursive: true, force: true });
  return r;
}

async function runApp(sim: { wsUrl: string; restUrl: string }, database: Record<string, unknown>): Promise<Result> {
  const dataDir = mkdtempSync(join(tmpdir(), 'trader-bench-app-'));
  const config = loadConfig({
    env: {},
    overrides: {
      dataDir,
      symbols,
      strategy,
      risk,
      simulator: { enabled: false },
      market: { wsUrl: sim.wsUrl, restUrl: sim.restUrl },
      http: { port: 0, shutdownDelayMs: 0 },
      database,
    },
  });
  const app = new TraderApp({ config, log: () => {} });
  await app.start();
  const r = await measure(app.engine, () => app.journal.lastSeq - app.writer.persistedSeq);
  await app.stop('bench');
  rmSync(dataDir, { recursive: true, force: true });
  return r;
}

const sim = await startSimulator();
try {
  const core = await runCore(sim);
  const embedded = await runApp(sim, { embedded: 'memory' });
  const schema = uniqueName('trader_bench');
  const local = await runApp(sim, { url: serviceUrls.postgres, schema });
  const admin = new PoolManager({ primary: { connectionString: serviceUrls.postgres } });
  await admin.query(`drop schema if exists ${schema} cascade`);
  await admin.close();
  const method = `simulator in a child process (3 symbols, 600 order-flow events/s per symbol in the calm regime), ${MEASURE_MS / 1000} s after ${WARMUP_MS / 1000} s warm-up, journal fsync every 100 ms, latency from frame arrival to decision / to the order journaled; baseline: the core on a plain ws feed without packages or database, same simulator, same run; 2 shared cores under contention`;
  const extra = (r: Result) => ({
    decisionP50: r.decision.p50 as number,
    decisionP99: r.decision.p99 as number,
    decisionP999: r.decision.p999 as number,
    journaledP50: r.journaled.p50 as number,
    journaledP99: r.journaled.p99 as number,
    journaledP999: r.journaled.p999 as number,
    orders: r.orders,
    eventLoopDelayP99ms: r.loopP99,
    eventLoopDelayMaxMs: r.loopMax,
    journalEntriesNotYetInPostgres: r.persistedLag,
  });
  const figure = (name: string, pick: (r: Result) => number, r: Result) => ({
    name,
    value: pick(r),
    unit: 'ms',
    baseline: { name: 'core on plain ws, no database', value: pick(core) },
    higherIsBetter: false,
    method,
    extra: extra(r),
  });
  reportBench({
    package: '@cryptoscalp/trader',
    bench: 'app-latency',
    figures: [
      figure('composed trader, local PostgreSQL: tick-to-decision p99', (r) => r.decision.p99 as number, local),
      figure('composed trader, local PostgreSQL: tick-to-journaled p99', (r) => r.journaled.p99 as number, local),
      figure('composed trader, embedded PGlite: tick-to-decision p99', (r) => r.decision.p99 as number, embedded),
      figure('composed trader, embedded PGlite: tick-to-journaled p99', (r) => r.journaled.p99 as number, embedded),
    ],
  });
  console.log(JSON.stringify({ core: extra(core) }));
} finally {
  sim.child.kill('SIGKILL');
}
