// The setup and measurement the latency benches share: tick-to-decision.ts (the engine on the production market-data
// path) and app-latency.ts (the composed trader). Both run the simulator in a child process as a Binance market, warm
// up, reset the engine's latency recorders, then collect every tick-to-decision / tick-to-journaled sample of one
// window beside the event-loop delay and a baseline: the bare cost per depth frame of Buffer -> string + JSON.parse +
// applying the levels to an OrderBook. Not a bench itself: it prints no BENCH_RESULT line, so scripts/bench.mjs
// does not run it.
import { loadavg } from 'node:os';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { type BenchFigure, percentiles } from '@cryptoscalp/testkit';
import type { TradingEngine } from '../src/engine/trading-engine.js';
import type { LatencyRecorder } from '../src/internal/latency-recorder.js';
import { OrderBook } from '../src/model/order-book.js';
import { type SimulatorProcess, startSimulatorProcess } from './simulator-process.js';

export const WARMUP_MS = Number(process.env.BENCH_WARMUP_MS ?? 4_000);
export const MEASURE_MS = Number(process.env.BENCH_MS ?? 12_000);
export const symbols = ['BTCUSDT', 'ETHUSDT', 'SOLUSDT'];
/** The simulator's load: order-flow events per second per symbol, one depth diff per symbol every `tickMs`. */
export const SIM = { eventsPerSecond: 600, tickMs: 5 };

export type Pct = Record<'p50' | 'p99' | 'p99.9', number>;
export const pct = (samples: number[]): Pct => percentiles(samples, [50, 99, 99.9]) as Pct;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The simulator child both benches trade against ({@link symbols}, {@link SIM}); the caller stops it. */
export const startBenchSimulator = (): Promise<SimulatorProcess> => startSimulatorProcess({ symbols, ...SIM });

/** The trader configuration both benches run with: the simulator as the Binance market, a trigger-happy strategy. */
export function benchOverrides(
  sim: SimulatorProcess,
  dataDir: string,
  fsync: 'interval' | 'always' = 'interval',
): Record<string, unknown> {
  return {
    dataDir,
    symbols,
    strategy: { warmupSamples: 100, cooldownMs: 0, threshold: 0.02 },
    risk: {
      maxOrdersPerSecond: 2000,
      maxPositionNotional: 1e9,
      maxNotionalPerOrder: 1e6,
      dailyLossLimit: 1e9,
      maxDrawdown: 1e9,
    },
    simulator: { enabled: false },
    market: { venue: 'binance', wsUrl: sim.wsUrl, restUrl: sim.restUrl },
    journal: { fsync, fsyncIntervalMs: 100 },
  };
}

/** Every sample a recorder gets while `on` (its ring keeps only the last 8192), chained before its own sink. */
function collect(recorder: LatencyRecorder): { samples: number[]; on: boolean; restore(): void } {
  const previous = recorder.sink;
  const state = {
    samples: [] as number[],
    on: false,
    restore: () => {
      recorder.sink = previous;
    },
  };
  recorder.sink = (ms) => {
    previous?.(ms);
    if (state.on) state.samples.push(ms);
  };
  return state;
}

/** The baseline: Buffer -> string, JSON.parse and the levels applied to a book, timed per depth frame. */
export class DepthBaseline {
  /** One sample per depth frame timed while `on`. */
  readonly samples: number[] = [];
  on = false;
  private readonly books = new Map(symbols.map((s) => [s, new OrderBook(s)]));

  /** Times one raw frame; frames that are not a depth diff of a known symbol are not counted. */
  frame(raw: Buffer): void {
    const t0 = performance.now();
    let msg: { data?: { e?: string; s?: string; b?: [string, string][]; a?: [string, string][] } };
    try {
      msg = JSON.parse(raw.toString('utf8'));
    } catch {
      return;
    }
    const d = msg.data;
    if (d?.e !== 'depthUpdate' || d.s === undefined) return;
    const book = this.books.get(d.s);
    if (book === undefined) return;
    for (const [p, q] of d.b ?? []) book.bids.set(Number(p), Number(q));
    for (const [p, q] of d.a ?? []) book.asks.set(Number(p), Number(q));
    const t1 = performance.now();
    if (this.on) this.samples.push(t1 - t0);
  }
}

/** What one measured window gave. */
export interface LatencyWindow {
  decision: Pct;
  journaled: Pct;
  baseline: Pct;
  decisions: number;
  orders: number;
  depthPerSec: number;
  eventsPerSec: number;
  seconds: number;
  loopP50: number;
  loopP99: number;
  loopMax: number;
  /** Load average at the start of the window. */
  load: string;
}

/**
 * Warms up for {@link WARMUP_MS}, then resets the engine's latency recorders and collects every tick-to-decision / tick-to-journaled sample and the
 * baseline's samples for {@link MEASURE_MS}, with the event-loop delay. `onStart` runs right before the window opens.
 */
export async function measureWindow(
  engine: TradingEngine,
  baseline: DepthBaseline,
  onStart?: () => void,
): Promise<LatencyWindow> {
  await sleep(WARMUP_MS);
  for (const r of Object.values(engine.latency)) r.reset();
  const decision = collect(engine.latency.tickToDecision);
  const journaled = collect(engine.latency.tickToJournaled);
  const loop = monitorEventLoopDelay({ resolution: 1 });
  const orders0 = engine.counters.ordersSubmitted;
  const events0 = engine.counters.bookEvents + engine.counters.tradeEvents;
  const load = loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');
  onStart?.();
  loop.enable();
  decision.on = true;
  journaled.on = true;
  baseline.on = true;
  const started = performance.now();
  await sleep(MEASURE_MS);
  decision.on = false;
  journaled.on = false;
  baseline.on = false;
  const seconds = (performance.now() - started) / 1000;
  loop.disable();
  decision.restore();
  journaled.restore();
  // The engine's own window (last 8192 samples) agrees with the full collection when it holds every sample.
  const own = engine.latency.tickToDecision.percentiles([99]);
  if (decision.samples.length <= 8192 && own.p99 !== pct(decision.samples).p99) {
    console.warn(`engine window p99 ${own.p99} differs from the collected p99 ${pct(decision.samples).p99}`);
  }
  return {
    decision: pct(decision.samples),
    journaled: pct(journaled.samples),
    baseline: pct(baseline.samples),
    decisions: decision.samples.length,
    orders: engine.counters.ordersSubmitted - orders0,
    depthPerSec: baseline.samples.length / seconds,
    eventsPerSec: (engine.counters.bookEvents + engine.counters.tradeEvents - events0) / seconds,
    seconds,
    loopP50: loop.percentile(50) / 1e6,
    loopP99: loop.percentile(99) / 1e6,
    loopMax: loop.max / 1e6,
    load,
  };
}

/** The part of a figure's method both benches state in the same words. */
export const simulatorMethod = () =>
  `simulator in a child process (3 symbols, ${SIM.eventsPerSecond} order-flow events/s per symbol, diff every ` +
  `${SIM.tickMs} ms)`;
export const windowMethod = () =>
  `${(MEASURE_MS / 1000).toFixed(0)} s after ${WARMUP_MS / 1000} s warm-up (recorders reset), every sample of the ` +
  "window; latency from ws-manager's arrival stamp (receivedAtMono, performance.now()) to the decision (strategy + " +
  'risk) / to the order written to the journal';

/** The `extra` figures of a window, in the order both benches report them. */
export function windowExtra(r: LatencyWindow): Record<string, number | string> {
  return {
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
    marketEventsPerSec: Math.round(r.eventsPerSec),
    eventLoopDelayP50ms: r.loopP50,
    eventLoopDelayP99ms: r.loopP99,
    eventLoopDelayMaxMs: r.loopMax,
  };
}

/** A latency figure in ms beside the baseline's same percentile. */
export function latencyFigure(
  name: string,
  value: number,
  r: LatencyWindow,
  p: keyof Pct,
  method: string,
  extra: Record<string, number | string>,
): BenchFigure {
  return {
    name,
    value,
    unit: 'ms',
    baseline: { name: `JSON.parse + book update ${p}`, value: r.baseline[p] },
    higherIsBetter: false,
    method,
    extra,
  };
}
