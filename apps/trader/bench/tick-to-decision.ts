// Tick-to-decision and tick-to-journaled latency of the trading core, with the event-loop delay beside it.
// Baseline, measured on the same frames in the same run: the bare cost of JSON.parse + applying the levels to a
// book, which is the least any client must do per tick. Run: npx tsx apps/trader/bench/tick-to-decision.ts
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { percentiles, reportBench } from '@cryptoscalp/testkit';
import { loadConfig } from '../src/config/load-config.js';
import { TradingEngine } from '../src/engine/trading-engine.js';
import { Journal } from '../src/journal/journal.js';
import { DirectBinanceFeed } from '../src/adapters/binance/direct-binance-feed.js';
import { OrderBook } from '../src/model/order-book.js';

const MEASURE_MS = Number(process.env.BENCH_MS ?? 12_000);
const WARMUP_MS = 4_000;
const symbols = ['BTCUSDT', 'ETHUSDT', 'SOLUSDT'];

async function startSimulator(): Promise<{ child: ChildProcess; wsUrl: string; restUrl: string }> {
  const script = fileURLToPath(new URL('./simulator-process.ts', import.meta.url));
  const child = spawn(process.execPath, ['--import', 'tsx', script], {
    env: { ...process.env, SIM_EVENTS_PER_SECOND: '600', SIM_TICK_MS: '5' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const line = await new Promise<string>((resolve, reject) => {
    const rl = createInterface({ input: child.stdout as NonNullable<typeof child.stdout> });
    rl.once('line', resolve);
    child.once('exit', (code) => reject(new Error(`simulator exited ${code}`)));
  });
  return { child, ...(JSON.parse(line) as { wsUrl: string; restUrl: string }) };
}

async function run(fsync: 'interval' | 'always') {
  const sim = await startSimulator();
  const dir = mkdtempSync(join(tmpdir(), 'trader-bench-'));
  const { journal } = Journal.open(join(dir, 'journal.jsonl'), { fsync, fsyncIntervalMs: 100 });
  const config = loadConfig({
    env: {},
    overrides: {
      symbols,
      strategy: { warmupSamples: 100, cooldownMs: 0, threshold: 0.02 },
      risk: {
        maxOrdersPerSecond: 2000,
        maxPositionNotional: 1e9,
        maxNotionalPerOrder: 1e6,
        dailyLossLimit: 1e9,
        maxDrawdown: 1e9,
      },
    },
  });
  let feed: DirectBinanceFeed | undefined;
  const engine = new TradingEngine({ config, journal, requestSnapshot: (s) => feed?.requestSnapshot(s) });
  const shadow = new Map(symbols.map((s) => [s, new OrderBook(s)]));
  const baseline: number[] = [];
  let measuring = false;
  let frames = 0;
  let depthFrames = 0;
  feed = new DirectBinanceFeed({
    wsUrl: sim.wsUrl,
    restUrl: sim.restUrl,
    symbols,
    onEvent: (ev, t) => engine.onMarketEvent(ev, t),
    onSnapshot: (s, snap) => engine.onSnapshot(s, snap),
  });
  feed.onRaw = (raw) => {
    // Baseline: parse and apply to a book, nothing else.
    const t0 = performance.now();
    const msg = JSON.parse(raw) as {
      data?: { e?: string; s?: string; b?: [string, string][]; a?: [string, string][] };
    };
    const d = msg.data;
    if (d?.e === 'depthUpdate' && d.s) {
      const book = shadow.get(d.s) as OrderBook;
      for (const [p, q] of d.b ?? []) book.bids.set(Number(p), Number(q));
      for (const [p, q] of d.a ?? []) book.asks.set(Number(p), Number(q));
      if (measuring) {
        baseline.push(performance.now() - t0);
        depthFrames++;
      }
    }
    if (measuring) frames++;
  };
  engine.start();
  feed.start();
  await new Promise((r) => setTimeout(r, WARMUP_MS));
  for (const r of Object.values(engine.latency)) r.reset();
  const loop = monitorEventLoopDelay({ resolution: 1 });
  loop.enable();
  measuring = true;
  const started = performance.now();
  const orders0 = engine.counters.ordersSubmitted;
  await new Promise((r) => setTimeout(r, MEASURE_MS));
  measuring = false;
  loop.disable();
  const seconds = (performance.now() - started) / 1000;
  const result = {
    decision: engine.latency.tickToDecision.percentiles([50, 99, 99.9]),
    journaled: engine.latency.tickToJournaled.percentiles([50, 99, 99.9]),
    baseline: percentiles(baseline, [50, 99, 99.9]),
    orders: engine.counters.ordersSubmitted - orders0,
    depthPerSec: depthFrames / seconds,
    framesPerSec: frames / seconds,
    loopP50: loop.percentile(50) / 1e6,
    loopP99: loop.percentile(99) / 1e6,
    loopMax: loop.max / 1e6,
  };
  await feed.close();
  await engine.close();
  journal.close();
  sim.child.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
  return result;
}

const a = await run('interval');
const b = await run('always');
const method = (r: typeof a) =>
  `simulator in a child process, 3 symbols, ${r.depthPerSec.toFixed(0)} depth diffs/s + trades (${r.framesPerSec.toFixed(0)} frames/s), ` +
  `${(MEASURE_MS / 1000).toFixed(0)} s after ${WARMUP_MS / 1000} s warm-up; latency from frame receipt (ws 'message') to the decision ` +
  '(strategy + risk) / to the order line written to the journal; measured on a shared 2-core machine under contention';
const extra = (r: typeof a) => ({
  decisionP50: r.decision.p50 as number,
  decisionP99: r.decision.p99 as number,
  decisionP999: r.decision.p999 as number,
  journaledP50: r.journaled.p50 as number,
  journaledP99: r.journaled.p99 as number,
  journaledP999: r.journaled.p999 as number,
  baselineP50: r.baseline.p50 as number,
  baselineP99: r.baseline.p99 as number,
  orders: r.orders,
  eventLoopDelayP50ms: r.loopP50,
  eventLoopDelayP99ms: r.loopP99,
  eventLoopDelayMaxMs: r.loopMax,
});
reportBench({
  package: '@cryptoscalp/trader',
  bench: 'tick-to-decision',
  figures: [
    {
      name: 'tick-to-decision p99',
      value: a.decision.p99 as number,
      unit: 'ms',
      baseline: { name: 'JSON.parse + book update p99', value: a.baseline.p99 as number },
      higherIsBetter: false,
      method: method(a),
      extra: extra(a),
    },
    {
      name: 'tick-to-journaled p99 (fsync interval 100 ms)',
      value: a.journaled.p99 as number,
      unit: 'ms',
      baseline: { name: 'JSON.parse + book update p99', value: a.baseline.p99 as number },
      higherIsBetter: false,
      method: method(a),
      extra: extra(a),
    },
    {
      name: 'tick-to-journaled p99 (fsync always)',
      value: b.journaled.p99 as number,
      unit: 'ms',
      baseline: { name: 'JSON.parse + book update p99', value: b.baseline.p99 as number },
      higherIsBetter: false,
      method: method(b),
      extra: extra(b),
    },
  ],
});
