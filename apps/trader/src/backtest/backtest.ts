import { mkdirSync, rmSync } from 'node:fs';
import { dirname } from 'node:path';
import { performance } from 'node:perf_hooks';
import { PaperExecution } from '../adapters/sim/paper-execution.js';
import type { TraderConfig } from '../config/config-types.js';
import { TradingEngine } from '../engine/trading-engine.js';
import { Journal } from '../journal/journal.js';
import type { OrderBook } from '../model/order-book.js';
import { isSnapshotLine } from '../recording/recording-format.js';
import { type RecordingReadReport, replayRecording } from '../recording/recording-reader.js';
import { type BacktestMetrics, computeMetrics, type EquityPoint } from './metrics.js';
import { SimulatedClock } from './simulated-clock.js';

/** Options of {@link runBacktest}. */
export interface BacktestOptions {
  /** The recording's directory. */
  data: string;
  /** The configuration: strategy, risk, execution fees, instance id (`symbols` must list the recorded ones traded). */
  config: TraderConfig;
  /** Where the run's journal goes (replaced if it exists). */
  journalPath: string;
  /** Receive-time window, epoch ms: `[from, to)`. */
  from?: number;
  to?: number;
  /** The latency of each order placement and cancel at the paper venue, drawn per action (ms). */
  latency: () => number;
  /** Simulated interval of the equity curve's samples. @default 1000 */
  sampleMs?: number;
}

/** What one backtest run produced. */
export interface BacktestResult {
  journalPath: string;
  read: RecordingReadReport;
  metrics: BacktestMetrics;
  /** Equity (net PnL, marked to the books) every `sampleMs` of simulated time, and at the end. */
  curve: EquityPoint[];
  /** Wall-clock time of the run (not part of the journal). */
  wallMs: number;
}

/**
 * Replays a recording through the live trading code: the {@link TradingEngine} with its strategy, risk engine and
 * the paper venue ({@link PaperExecution}), on a {@link SimulatedClock} that jumps to each line's receive time and
 * runs the timers due on the way (order latency, risk rules, order expiry, the book watchdog). Nothing on the
 * decision path reads the wall clock and the session's pid is journaled as 0, so the same recording, configuration
 * and latency draws give a byte-identical journal.
 */
export async function runBacktest(options: BacktestOptions): Promise<BacktestResult> {
  const wall0 = performance.now();
  const { config } = options;
  rmSync(options.journalPath, { force: true });
  mkdirSync(dirname(options.journalPath), { recursive: true });
  const { journal } = Journal.open(options.journalPath, { fsync: 'never' });
  const clock = new SimulatedClock(0);
  const execution = new PaperExecution({
    book: (symbol): OrderBook | undefined => {
      const vb = engine.books.get(symbol);
      return vb?.isSynced() ? vb.book : undefined;
    },
    latencyMs: config.execution.latencyMs,
    latency: options.latency,
    makerFeeBps: config.execution.makerFeeBps,
    takerFeeBps: config.execution.takerFeeBps,
    clock,
  });
  const engine: TradingEngine = new TradingEngine({ config, journal, clock, execution, pid: 0 });
  let submitted = 0;
  const filledOrders = new Set<string>();
  engine.onEntry((e) => {
    if (e.type === 'order.submitted') submitted++;
    else if (e.type === 'fill') filledOrders.add((e.data as { clientOrderId: string }).clientOrderId);
  });
  const curve: EquityPoint[] = [];
  const sample = () => curve.push({ t: clock.now(), net: engine.portfolio.totals().net });
  let started = false;
  let read: RecordingReadReport;
  try {
    read = await replayRecording(
      options.data,
      (line) => {
        if (!started) {
          started = true;
          clock.advanceTo(line.t);
          engine.start();
          clock.setInterval(sample, options.sampleMs ?? 1000);
        }
        clock.advanceTo(line.t);
        if (isSnapshotLine(line)) engine.onSnapshot(line.symbol, line.snap, line.force);
        else engine.onMarketEvent(line.ev, clock.monotonic());
      },
      { from: options.from, to: options.to, symbols: config.symbols },
    );
    if (started) {
      // Marks the books one last time, as the risk timer would, so the final equity is the last one seen.
      for (const [symbol, vb] of engine.books) if (vb.isSynced()) engine.portfolio.mark(symbol, vb.book.mid());
      sample();
    }
  } finally {
    await engine.close();
    journal.close();
  }
  const totals = engine.portfolio.totals();
  return {
    journalPath: options.journalPath,
    read,
    metrics: computeMetrics({
      curve,
      totals,
      submitted,
      filledOrders: filledOrders.size,
      riskRejected: engine.counters.riskRejected,
      finalState: engine.state,
    }),
    curve,
    wallMs: performance.now() - wall0,
  };
}
