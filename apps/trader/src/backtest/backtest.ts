import { mkdirSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { PaperExecution, type PaperExecutionOptions } from '../adapters/sim/paper-execution.js';
import type { TraderConfig } from '../config/config-types.js';
import { TradingEngine } from '../engine/trading-engine.js';
import { Prng } from '../internal/prng.js';
import { Journal } from '../journal/journal.js';
import type { ExecutionClient } from '../model/execution-client.js';
import type { OrderBook } from '../model/order-book.js';
import { isSnapshotLine, type RecordedLine } from '../recording/recording-format.js';
import { type RecordingReadReport, replayRecording } from '../recording/recording-reader.js';
import { type BacktestMetrics, computeMetrics, type EquityPoint } from './metrics.js';
import { SimulatedClock } from './simulated-clock.js';

/** One engine run of a backtest. */
export interface BacktestRunOptions {
  /** Where the run's journal goes (replaced if it exists). */
  journalPath: string;
  /** The latency of each order placement and cancel at the paper venue, drawn per action (ms). */
  latency: () => number;
  /** Makes the run's venue from the paper venue's options. @default `new PaperExecution(options)` */
  execution?: (options: PaperExecutionOptions) => ExecutionClient;
}

/**
 * The two runs `trader backtest` makes, journals under `out`: latency-free, and each placement and cancel delayed by
 * `latencyMs` x U[0.5, 1.5) drawn from a PRNG seeded with `seed`.
 */
export function latencyRuns(out: string, latencyMs: number, seed: number): (BacktestRunOptions & { name: string })[] {
  const prng = new Prng(seed);
  return [
    { name: 'latency-free', journalPath: join(out, 'latency-free', 'journal.jsonl'), latency: () => 0 },
    {
      name: `latency ${latencyMs} ms`,
      journalPath: join(out, `latency-${latencyMs}ms`, 'journal.jsonl'),
      latency: () => latencyMs * (0.5 + prng.next()),
    },
  ];
}

/** Options of {@link runBacktest}. */
export interface BacktestOptions {
  /** The recording's directory. */
  data: string;
  /** The configuration: strategy, risk, execution fees, instance id (`symbols`: the recorded ones to trade). */
  config: TraderConfig;
  /** The runs, each its own engine fed the same lines in the same order (the recording is read once for all). */
  runs: readonly BacktestRunOptions[];
  /** Receive-time window, epoch ms: `[from, to)`. */
  from?: number;
  to?: number;
  /** Simulated interval of the equity curve's samples. @default 1000 */
  sampleMs?: number;
}

/** What one run produced. */
export interface BacktestResult {
  journalPath: string;
  metrics: BacktestMetrics;
  /** Equity (net PnL, marked to the books) every `sampleMs` of simulated time, and at the end. */
  curve: EquityPoint[];
}

/** What a backtest produced: what was read, each run's result, and the wall time (not part of any journal). */
export interface BacktestOutcome {
  read: RecordingReadReport;
  results: BacktestResult[];
  wallMs: number;
}

/** One engine on its own simulated clock, fed the recording's lines. */
class Session {
  readonly clock = new SimulatedClock(0);
  readonly engine: TradingEngine;
  readonly curve: EquityPoint[] = [];
  private readonly journal: Journal;
  private submitted = 0;
  private readonly filledOrders = new Set<string>();
  private started = false;

  constructor(
    config: TraderConfig,
    private readonly run: BacktestRunOptions,
    private readonly sampleMs: number,
  ) {
    rmSync(run.journalPath, { force: true });
    mkdirSync(dirname(run.journalPath), { recursive: true });
    this.journal = Journal.open(run.journalPath, { fsync: 'never' }).journal;
    const execution = (run.execution ?? ((o: PaperExecutionOptions) => new PaperExecution(o)))({
      book: (symbol): OrderBook | undefined => {
        const vb = this.engine.books.get(symbol);
        return vb?.isSynced() ? vb.book : undefined;
      },
      latencyMs: config.execution.latencyMs,
      latency: run.latency,
      makerFeeBps: config.execution.makerFeeBps,
      takerFeeBps: config.execution.takerFeeBps,
      clock: this.clock,
    });
    this.engine = new TradingEngine({ config, journal: this.journal, clock: this.clock, execution, pid: 0 });
    this.engine.onEntry((e) => {
      if (e.type === 'order.submitted') this.submitted++;
      else if (e.type === 'fill') this.filledOrders.add((e.data as { clientOrderId: string }).clientOrderId);
    });
  }

  private sample(): void {
    this.curve.push({ t: this.clock.now(), net: this.engine.portfolio.totals().net });
  }

  /** Moves the clock to the line's receive time (running the timers due), then hands the line to the engine. */
  deliver(line: RecordedLine): void {
    if (!this.started) {
      this.started = true;
      this.clock.advanceTo(line.t);
      this.engine.start();
      this.clock.setInterval(() => this.sample(), this.sampleMs);
    }
    this.clock.advanceTo(line.t);
    if (isSnapshotLine(line)) this.engine.onSnapshot(line.symbol, line.snap, line.force);
    else this.engine.onMarketEvent(line.ev, this.clock.monotonic());
  }

  /** Marks the books one last time, as the risk timer would, so the final equity is the last one seen. */
  finish(): void {
    if (!this.started) return;
    for (const [symbol, vb] of this.engine.books) if (vb.isSynced()) this.engine.portfolio.mark(symbol, vb.book.mid());
    this.sample();
  }

  async close(): Promise<BacktestResult> {
    await this.engine.close();
    this.journal.close();
    return {
      journalPath: this.run.journalPath,
      metrics: computeMetrics({
        curve: this.curve,
        totals: this.engine.portfolio.totals(),
        submitted: this.submitted,
        filledOrders: this.filledOrders.size,
        riskRejected: this.engine.counters.riskRejected,
        finalState: this.engine.state,
      }),
      curve: this.curve,
    };
  }
}

/**
 * Replays a recording through the live trading code: per run, a {@link TradingEngine} with its strategy, risk engine
 * and the paper venue ({@link PaperExecution}), on a {@link SimulatedClock} that jumps to each line's receive time and
 * runs the timers due on the way (order latency, risk rules, order expiry, the book watchdog). Nothing on the
 * decision path reads the wall clock and the session's pid is journaled as 0, so the same recording, configuration
 * and latency draws give a byte-identical journal. The recording is decompressed and parsed once for all runs.
 */
export async function runBacktest(options: BacktestOptions): Promise<BacktestOutcome> {
  const wall0 = performance.now();
  const sessions = options.runs.map((r) => new Session(options.config, r, options.sampleMs ?? 1000));
  let read: RecordingReadReport;
  let results: BacktestResult[] = [];
  try {
    read = await replayRecording(
      options.data,
      (line) => {
        for (const s of sessions) s.deliver(line);
      },
      {
        ...(options.from === undefined ? {} : { from: options.from }),
        ...(options.to === undefined ? {} : { to: options.to }),
        symbols: options.config.symbols,
      },
    );
    for (const s of sessions) s.finish();
  } finally {
    // Every engine and journal is closed, also when reading failed.
    results = await Promise.all(sessions.map((s) => s.close()));
  }
  return { read, results, wallMs: performance.now() - wall0 };
}
