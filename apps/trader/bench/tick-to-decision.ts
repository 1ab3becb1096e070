// Tick-to-decision and tick-to-journaled latency of the trading core on the production market-data path: the
// simulator in a child process, @cryptoscalp/ws-manager, the Binance data client from createDataClient, delivering
// into engine.sink. Latency runs from ws-manager's arrival stamp of the frame (StreamMessage.receivedAtMono,
// performance.now(), µs resolution) to the decision / to the order journaled, as in production; the event-loop delay
// is measured beside it.
// Baseline, in the same run on the same frames: the bare cost per depth frame of Buffer -> string + JSON.parse +
// applying the levels to an OrderBook, which is the least any client must do per tick. The raw frames come from the
// manager itself: its exchange-level `codec` option is ws-manager's jsonCodec plus one array push of the frame's
// Buffer; the baseline work runs in a `message` listener registered after the data client's, i.e. after the engine
// has decided on that frame, so it is not inside the measured interval.
// Run: npx tsx apps/trader/bench/tick-to-decision.ts   (BENCH_MS: measured ms per configuration, default 12000)
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { percentiles, reportBench } from '@cryptoscalp/testkit';
import { type Codec, jsonCodec, type StreamMessage, WebSocketManager } from '@cryptoscalp/ws-manager';
import { createDataClient } from '../src/adapters/index.js';
import { loadConfig } from '../src/config/load-config.js';
import { TradingEngine } from '../src/engine/trading-engine.js';
import type { LatencyRecorder } from '../src/internal/latency-recorder.js';
import { Journal } from '../src/journal/journal.js';
import type { DataClient } from '../src/model/data-client.js';
import { OrderBook } from '../src/model/order-book.js';
import { type SimulatorProcess, startSimulatorProcess } from './simulator-process.js';

const MEASURE_MS = Number(process.env.BENCH_MS ?? 12_000);
const WARMUP_MS = Number(process.env.BENCH_WARMUP_MS ?? 4_000);
const symbols = ['BTCUSDT', 'ETHUSDT', 'SOLUSDT'];
const SIM = { eventsPerSecond: 600, tickMs: 5 };
const PS = [50, 99, 99.9];

type Pct = Record<'p50' | 'p99' | 'p99.9', number>;
const pct = (samples: number[]): Pct => percentiles(samples, PS) as Pct;

/** Every sample a recorder gets while `on` (its ring keeps only the last 8192), chained before its own sink. */
function collect(recorder: LatencyRecorder): { samples: number[]; on: boolean } {
  const state = { samples: [] as number[], on: false };
  const previous = recorder.sink;
  recorder.sink = (ms) => {
    previous?.(ms);
    if (state.on) state.samples.push(ms);
  };
  return state;
}

/** The baseline: Buffer -> string, JSON.parse and the levels applied to a book, timed per depth frame. */
class Baseline {
  readonly samples: number[] = [];
  readonly pending: Buffer[] = [];
  depthFrames = 0;
  on = false;
  private readonly books = new Map(symbols.map((s) => [s, new OrderBook(s)]));
  /** ws-manager's own codec, keeping a reference to each raw frame for {@link drain}. */
  readonly codec: Codec = {
    decode: (data, isBinary) => {
      this.pending.push(data);
      return jsonCodec.decode(data, isBinary);
    },
    encode: (message) => jsonCodec.encode(message),
  };

  drain(): void {
    const pending = this.pending;
    for (let i = 0; i < pending.length; i++) {
      const raw = pending[i] as Buffer;
      const t0 = performance.now();
      let msg: { data?: { e?: string; s?: string; b?: [string, string][]; a?: [string, string][] } };
      try {
        msg = JSON.parse(raw.toString('utf8'));
      } catch {
        continue;
      }
      const d = msg.data;
      if (d?.e !== 'depthUpdate' || d.s === undefined) continue;
      const book = this.books.get(d.s);
      if (book === undefined) continue;
      for (const [p, q] of d.b ?? []) book.bids.set(Number(p), Number(q));
      for (const [p, q] of d.a ?? []) book.asks.set(Number(p), Number(q));
      const t1 = performance.now();
      if (this.on) {
        this.samples.push(t1 - t0);
        this.depthFrames++;
      }
    }
    pending.length = 0;
  }
}

interface RunResult {
  decision: Pct;
  journaled: Pct;
  baseline: Pct;
  decisions: number;
  orders: number;
  depthPerSec: number;
  framesPerSec: number;
  eventsPerSec: number;
  loopP50: number;
  loopP99: number;
  loopMax: number;
  withoutMonoStamp: number;
  load: string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const framesIn = (manager: WebSocketManager) =>
  manager.connections.reduce((n, c) => n + Number((c.stats() as { framesIn?: number }).framesIn ?? 0), 0);

async function run(fsync: 'interval' | 'always'): Promise<RunResult> {
  let sim: SimulatorProcess | undefined;
  let manager: WebSocketManager | undefined;
  let feed: DataClient | undefined;
  let engine: TradingEngine | undefined;
  let journal: Journal | undefined;
  const dir = mkdtempSync(join(tmpdir(), 'trader-bench-'));
  try {
    sim = await startSimulatorProcess({ symbols, ...SIM });
    journal = Journal.open(join(dir, 'journal.jsonl'), { fsync, fsyncIntervalMs: 100 }).journal;
    const config = loadConfig({
      env: {},
      overrides: {
        symbols,
        dataDir: dir,
        simulator: { enabled: false },
        market: { venue: 'binance', wsUrl: sim.wsUrl, restUrl: sim.restUrl },
        journal: { fsync, fsyncIntervalMs: 100 },
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
    const baseline = new Baseline();
    // As MarketDataComponent builds it, plus the baseline's codec as the exchange's connection default.
    manager = new WebSocketManager({
      name: 'ws-manager',
      exchanges: {
        binance: {
          endpoints: [config.market.wsUrl],
          limits: { messagesPerSecond: 50, messageBurst: 50 },
          connection: { codec: baseline.codec },
        },
      },
    });
    const eng = new TradingEngine({ config, journal, requestSnapshot: (s) => feed?.requestSnapshot(s) });
    engine = eng;
    const client = createDataClient({
      venue: 'binance',
      manager,
      wsUrl: config.market.wsUrl,
      restUrl: config.market.restUrl,
      symbols: config.symbols,
      depthLimit: config.market.depthLimit,
      sink: eng.sink,
    });
    client.onDecode = (ms) => eng.latency.decode.record(ms);
    feed = client;
    const connection = manager.connections[0];
    if (connection === undefined) throw new Error('the data client opened no connection');
    let withoutMonoStamp = 0;
    // Registered after the data client's listener: runs once the engine has handled the frame.
    connection.on('message', (msg: StreamMessage) => {
      if (typeof msg.receivedAtMono !== 'number') withoutMonoStamp++;
      baseline.drain();
    });
    eng.start();
    await client.start();
    await sleep(WARMUP_MS);

    for (const r of Object.values(eng.latency)) r.reset();
    const decision = collect(eng.latency.tickToDecision);
    const journaled = collect(eng.latency.tickToJournaled);
    const loop = monitorEventLoopDelay({ resolution: 1 });
    const orders0 = eng.counters.ordersSubmitted;
    const frames0 = framesIn(manager);
    const events0 = eng.counters.bookEvents + eng.counters.tradeEvents;
    const load = loadavg()
      .map((l) => l.toFixed(2))
      .join(' ');
    loop.enable();
    decision.on = true;
    journaled.on = true;
    baseline.on = true;
    withoutMonoStamp = 0;
    const started = performance.now();
    await sleep(MEASURE_MS);
    decision.on = false;
    journaled.on = false;
    baseline.on = false;
    const seconds = (performance.now() - started) / 1000;
    loop.disable();
    return {
      decision: pct(decision.samples),
      journaled: pct(journaled.samples),
      baseline: pct(baseline.samples),
      decisions: decision.samples.length,
      orders: eng.counters.ordersSubmitted - orders0,
      depthPerSec: baseline.depthFrames / seconds,
      framesPerSec: (framesIn(manager) - frames0) / seconds,
      eventsPerSec: (eng.counters.bookEvents + eng.counters.tradeEvents - events0) / seconds,
      loopP50: loop.percentile(50) / 1e6,
      loopP99: loop.percentile(99) / 1e6,
      loopMax: loop.max / 1e6,
      withoutMonoStamp,
      load,
    };
  } finally {
    await feed?.close().catch(() => {});
    await manager?.close().catch(() => {});
    await engine?.close().catch(() => {});
    journal?.close();
    await sim?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

const a = await run('interval');
const b = await run('always');
for (const r of [a, b]) {
  if (r.withoutMonoStamp > 0)
    console.warn(`${r.withoutMonoStamp} messages had no receivedAtMono (ms-resolution fallback)`);
}

const method = (r: RunResult, fsync: string) =>
  `production path: simulator in a child process (3 symbols, ${SIM.eventsPerSecond} order-flow events/s per symbol, ` +
  `diff every ${SIM.tickMs} ms) -> WebSocketManager -> createDataClient('binance') -> engine.sink; ` +
  `${r.depthPerSec.toFixed(0)} depth diffs/s, ${r.framesPerSec.toFixed(0)} frames/s in (${r.eventsPerSec.toFixed(0)} market events/s into the engine); journal fsync ${fsync}; ` +
  `${(MEASURE_MS / 1000).toFixed(0)} s after ${WARMUP_MS / 1000} s warm-up (recorders reset), every sample of the ` +
  `window; latency from ws-manager's arrival stamp (receivedAtMono, performance.now()) to the decision (strategy + ` +
  `risk) / to the order line written to the journal. Baseline on the same frames in the same run: Buffer->string + ` +
  'JSON.parse + levels applied to an OrderBook per depth frame, frames taken from the manager through its codec option ' +
  `(jsonCodec + one array push) and processed after the engine handled each; load average at start ${r.load} ` +
  '(shared 2-core machine)';
const extra = (r: RunResult): Record<string, number | string> => ({
  decisionP50: r.decision.p50,
  decisionP99: r.decision.p99,
  decisionP999: r.decision['p99.9'],
  journaledP50: r.journaled.p50,
  journaledP99: r.journaled.p99,
  journaledP999: r.journaled['p99.9'],
  baselineP50: r.baseline.p50,
  baselineP99: r.baseline.p99,
  baselineP999: r.baseline['p99.9'],
  decisions: r.decisions,
  orders: r.orders,
  depthFramesPerSec: Math.round(r.depthPerSec),
  framesPerSec: Math.round(r.framesPerSec),
  marketEventsPerSec: Math.round(r.eventsPerSec),
  eventLoopDelayP50ms: r.loopP50,
  eventLoopDelayP99ms: r.loopP99,
  eventLoopDelayMaxMs: r.loopMax,
  loadAverage: r.load,
});
const figure = (name: string, value: number, base: number, basePct: string, r: RunResult, fsync: string) => ({
  name,
  value,
  unit: 'ms',
  baseline: { name: `JSON.parse + book update ${basePct}`, value: base },
  higherIsBetter: false,
  method: method(r, fsync),
  extra: extra(r),
});
reportBench({
  package: '@cryptoscalp/trader',
  bench: 'tick-to-decision',
  figures: [
    figure('tick-to-decision p50', a.decision.p50, a.baseline.p50, 'p50', a, 'interval 100 ms'),
    figure('tick-to-decision p99', a.decision.p99, a.baseline.p99, 'p99', a, 'interval 100 ms'),
    figure('tick-to-decision p99.9', a.decision['p99.9'], a.baseline['p99.9'], 'p99.9', a, 'interval 100 ms'),
    figure(
      'tick-to-journaled p50 (fsync interval 100 ms)',
      a.journaled.p50,
      a.baseline.p50,
      'p50',
      a,
      'interval 100 ms',
    ),
    figure(
      'tick-to-journaled p99 (fsync interval 100 ms)',
      a.journaled.p99,
      a.baseline.p99,
      'p99',
      a,
      'interval 100 ms',
    ),
    figure(
      'tick-to-journaled p99.9 (fsync interval 100 ms)',
      a.journaled['p99.9'],
      a.baseline['p99.9'],
      'p99.9',
      a,
      'interval 100 ms',
    ),
    figure('tick-to-decision p99 (fsync always)', b.decision.p99, b.baseline.p99, 'p99', b, 'always'),
    figure('tick-to-journaled p50 (fsync always)', b.journaled.p50, b.baseline.p50, 'p50', b, 'always'),
    figure('tick-to-journaled p99 (fsync always)', b.journaled.p99, b.baseline.p99, 'p99', b, 'always'),
    figure('tick-to-journaled p99.9 (fsync always)', b.journaled['p99.9'], b.baseline['p99.9'], 'p99.9', b, 'always'),
  ],
});
