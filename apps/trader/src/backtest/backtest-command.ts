// `trader backtest`: replays a recording through the live trading code twice, without and with order latency, and
// writes both journals and a report.
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { TraderConfig } from '../config/config-types.js';
import { loadConfig } from '../config/load-config.js';
import { isTraderError } from '../errors.js';
import { listRecording } from '../recording/recording-reader.js';
import { latencyRuns, runBacktest } from './backtest.js';
import { type BacktestMetrics, downsample, RETURN_PERIOD_MS } from './metrics.js';
import { combinations, parseSweep, runSweep, type SweepAxis, type SweepRow, sweepConfigs } from './sweep.js';

/** Usage text of `trader backtest`. */
export const BACKTEST_USAGE = `usage: trader backtest --data DIR [--from ISO] [--to ISO] [--config FILE] [--seed N] [--out DIR]
                       [--latency-ms N] [--symbols A,B] [--json] [--sweep PATH=V1,V2 ...]

  Replays a recording (<DIR>/<venue>/<symbol>/<YYYY-MM-DD>.csrb or .jsonl.gz, from recording.enabled or \`trader record\`)
  through the same engine, strategy, risk and paper execution as a live trader, on a simulated clock, twice:
  latency-free, and with each order placement and cancel delayed by N ms x U[0.5, 1.5) drawn from --seed.
  Same recording, configuration and seed: byte-identical journals.

  --data DIR        the recording
  --from/--to ISO   receive-time window [from, to) (default: all of it)
  --config FILE     the trader's configuration (strategy, risk, fees; TRADER_* variables apply as for \`trader\`)
  --seed N          seed of the latency draws (default 1)
  --out DIR         where the journals and report.json go (default backtest-out)
  --latency-ms N    mean latency of the modelled run (default execution.latencyMs)
  --symbols A,B     symbols to trade (default: every symbol recorded)
  --json            print the report as JSON instead of a table
  --sweep PATH=V,V  repeatable: one backtest per combination of the values (cartesian product), in worker threads
                    (as many at once as CPUs), ranked by the latency-modelled net PnL; e.g.
                    --sweep strategy.threshold=0.05,0.08,0.1 --sweep strategy.cooldownMs=20,50`;

/** Where the command writes, and the environment its configuration reads. */
export interface BacktestCommandIo {
  out(line: string): void;
  err(line: string): void;
  env: NodeJS.ProcessEnv;
}

interface Options {
  data: string;
  from?: number;
  to?: number;
  config?: string;
  seed: number;
  out: string;
  latencyMs?: number;
  symbols?: string[];
  json: boolean;
  sweeps: SweepAxis[];
}

class UsageError extends Error {}

function parseArgs(argv: readonly string[]): Options | 'help' {
  const o: Partial<Options> = { seed: 1, out: 'backtest-out', json: false, sweeps: [] };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    const eq = arg.indexOf('=');
    const flag = arg.startsWith('--') && eq > 0 ? arg.slice(0, eq) : arg;
    const inline = flag === arg ? undefined : arg.slice(eq + 1);
    const value = (): string => {
      const v = inline ?? argv[++i];
      if (v === undefined || v === '') throw new UsageError(`${flag} needs a value`);
      return v;
    };
    const time = (): number => {
      const v = value();
      const t = Date.parse(v);
      if (!Number.isFinite(t)) throw new UsageError(`${flag} must be an ISO 8601 time (got ${JSON.stringify(v)})`);
      return t;
    };
    const int = (min: number): number => {
      const v = value();
      const n = Number(v);
      if (!Number.isInteger(n) || n < min)
        throw new UsageError(`${flag} must be an integer >= ${min} (got ${JSON.stringify(v)})`);
      return n;
    };
    if (flag === '--help' || flag === '-h') return 'help';
    else if (flag === '--data') o.data = value();
    else if (flag === '--from') o.from = time();
    else if (flag === '--to') o.to = time();
    else if (flag === '--config') o.config = value();
    else if (flag === '--seed') o.seed = int(0);
    else if (flag === '--out') o.out = value();
    else if (flag === '--latency-ms') o.latencyMs = int(0);
    else if (flag === '--symbols') o.symbols = value().split(',');
    else if (flag === '--json' && inline === undefined) o.json = true;
    else if (flag === '--sweep') o.sweeps?.push(parseSweep(value()));
    else throw new UsageError(`unknown option ${flag}`);
  }
  if (o.data === undefined) throw new UsageError('--data is required');
  if (o.from !== undefined && o.to !== undefined && o.from >= o.to) throw new UsageError('--from must be before --to');
  return o as Options;
}

/** The two runs of a backtest and what they ran on. */
export interface BacktestReport {
  data: string;
  window: { from: string | null; to: string | null };
  symbols: string[];
  seed: number;
  latencyMs: number;
  /** How the risk-adjusted ratios are computed. */
  returns: string;
  strategy: TraderConfig['strategy'];
  /** Wall time of the whole backtest (the recording is read once for both runs) and the lines replayed. */
  wallMs: number;
  lines: number;
  runs: {
    name: string;
    journal: string;
    metrics: BacktestMetrics;
    curve: { t: string; net: number }[];
  }[];
  truncatedFiles: { path: string; droppedBytes: number }[];
}

/** The symbols a recording holds (its `<venue>/<symbol>` directories). */
function recordedSymbols(dir: string, o: Options): string[] {
  const groups = listRecording(dir, {
    ...(o.from === undefined ? {} : { from: o.from }),
    ...(o.to === undefined ? {} : { to: o.to }),
  });
  return [...new Set(groups.map((g) => (g[0] as string).split(/[\\/]/).at(-2) as string))];
}

const FIGURES: readonly [string, (m: BacktestMetrics) => string][] = [
  ['net PnL', (m) => m.netPnl.toFixed(2)],
  ['realized PnL', (m) => m.realized.toFixed(2)],
  ['fees', (m) => m.fees.toFixed(2)],
  ['volume', (m) => m.volume.toFixed(0)],
  ['Sharpe (1-min, annualized)', (m) => m.sharpe.toFixed(2)],
  ['Sortino (1-min, annualized)', (m) => m.sortino.toFixed(2)],
  ['max drawdown', (m) => m.maxDrawdown.toFixed(2)],
  ['orders', (m) => String(m.orders)],
  ['trades (fills)', (m) => String(m.trades)],
  ['round trips', (m) => String(m.roundTrips)],
  ['win rate', (m) => `${(m.winRate * 100).toFixed(1)} %`],
  ['fill ratio', (m) => `${(m.fillRatio * 100).toFixed(1)} %`],
  ['risk rejections', (m) => String(m.riskRejected)],
  ['kill switch at end', (m) => m.finalState],
];

/** The report as a table: one row per figure, one column per run. */
export function formatReport(report: BacktestReport): string[] {
  const header = ['', ...report.runs.map((r) => r.name)];
  const rows = [header, ...FIGURES.map(([label, f]) => [label, ...report.runs.map((r) => f(r.metrics))])];
  const widths = header.map((_, c) => Math.max(...rows.map((r) => (r[c] as string).length)));
  return rows.map((r) =>
    r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c] as number) : cell.padStart(widths[c] as number))).join('  '),
  );
}

/**
 * Runs `trader backtest` and resolves with the exit code: 0 when the report was written, 2 for a usage or
 * configuration error (the message names the option or field).
 */
export async function runBacktestCommand(argv: readonly string[], io: BacktestCommandIo): Promise<number> {
  let o: Options;
  let config: TraderConfig;
  try {
    const parsed = parseArgs(argv);
    if (parsed === 'help') {
      io.out(BACKTEST_USAGE);
      return 0;
    }
    o = parsed;
    const symbols = o.symbols ?? recordedSymbols(o.data, o);
    config = loadConfig({ env: io.env, ...(o.config === undefined ? {} : { file: o.config }), overrides: { symbols } });
  } catch (e) {
    if (e instanceof UsageError) {
      io.err(`trader backtest: ${e.message}\n${BACKTEST_USAGE}`);
      return 2;
    }
    if (isTraderError(e)) {
      io.err(`trader backtest: ${e.field ? `${e.field}: ` : ''}${e.message}`);
      return 2;
    }
    throw e;
  }
  const latencyMs = o.latencyMs ?? config.execution.latencyMs;
  const out = resolve(o.out);
  const window = { ...(o.from === undefined ? {} : { from: o.from }), ...(o.to === undefined ? {} : { to: o.to }) };
  if (o.sweeps.length > 0) return sweep(o, config, latencyMs, out, io);
  const variants = latencyRuns(out, latencyMs, o.seed);
  const outcome = await runBacktest({
    data: o.data,
    config,
    runs: variants,
    ...window,
  });
  const { read } = outcome;
  const report: BacktestReport = {
    data: resolve(o.data),
    window: {
      from: o.from === undefined ? null : new Date(o.from).toISOString(),
      to: o.to === undefined ? null : new Date(o.to).toISOString(),
    },
    symbols: [...config.symbols],
    seed: o.seed,
    latencyMs,
    returns: `PnL change per ${RETURN_PERIOD_MS / 60_000} minute of simulated time, annualized by sqrt(525600)`,
    strategy: config.strategy,
    wallMs: Math.round(outcome.wallMs),
    lines: read.lines,
    runs: outcome.results.map((r, i) => ({
      name: (variants[i] as { name: string }).name,
      journal: r.journalPath,
      metrics: r.metrics,
      curve: downsample(r.curve, 200).map((p) => ({ t: new Date(p.t).toISOString(), net: Number(p.net.toFixed(4)) })),
    })),
    truncatedFiles: read.truncated,
  };
  writeFileSync(join(out, 'report.json'), `${JSON.stringify(report, null, 2)}\n`);
  for (const t of read.truncated) {
    io.err(
      `trader backtest: ${t.path}: cut short (a crash mid-flush?); read up to its last complete line, ${t.droppedBytes} bytes dropped`,
    );
  }
  if (o.json) io.out(JSON.stringify(report, null, 2));
  else {
    const span =
      read.lines === 0
        ? 'no events'
        : `${read.lines} events, ${new Date(read.firstT).toISOString()} to ${new Date(read.lastT).toISOString()}`;
    io.out(`trader backtest: ${report.symbols.join(', ')}: ${span}; seed ${o.seed}`);
    for (const line of formatReport(report)) io.out(line);
    io.out(`trader backtest: ${(outcome.wallMs / 1000).toFixed(2)} s; journals and report.json in ${out}`);
  }
  return 0;
}

/** `--sweep`: one backtest per combination in worker threads, printed ranked and written to `<out>/sweep.json`. */
async function sweep(
  o: Options,
  config: TraderConfig,
  latencyMs: number,
  out: string,
  io: BacktestCommandIo,
): Promise<number> {
  const combos = combinations(o.sweeps);
  let configs: TraderConfig[];
  try {
    configs = sweepConfigs(combos, {
      env: io.env,
      ...(o.config === undefined ? {} : { file: o.config }),
      symbols: [...config.symbols],
    });
  } catch (e) {
    if (!isTraderError(e)) throw e;
    io.err(`trader backtest: --sweep: ${e.field ? `${e.field}: ` : ''}${e.message}`);
    return 2;
  }
  const rows = await runSweep({
    data: o.data,
    combos,
    configs,
    out,
    seed: o.seed,
    latencyMs,
    ...(o.from === undefined ? {} : { from: o.from }),
    ...(o.to === undefined ? {} : { to: o.to }),
  });
  writeFileSync(
    join(out, 'sweep.json'),
    `${JSON.stringify({ data: resolve(o.data), seed: o.seed, latencyMs, rows }, null, 2)}\n`,
  );
  if (o.json) io.out(JSON.stringify(rows, null, 2));
  else for (const line of formatSweep(rows, latencyMs)) io.out(line);
  io.out(`trader backtest: ${rows.length} combinations; journals under ${out}/job-N, sweep.json in ${out}`);
  return 0;
}

/** The ranked sweep as a table, best latency-modelled net PnL first. */
export function formatSweep(rows: readonly SweepRow[], latencyMs: number): string[] {
  const table = [
    ['#', 'settings', 'net PnL (free)', `net PnL (${latencyMs} ms)`, 'Sharpe', 'max DD', 'trades', 'win rate'],
    ...rows.map((r, i) => [
      String(i + 1),
      Object.entries(r.params)
        .map(([k, v]) => `${k}=${v}`)
        .join(' '),
      r.free.netPnl.toFixed(2),
      r.modelled.netPnl.toFixed(2),
      r.modelled.sharpe.toFixed(2),
      r.modelled.maxDrawdown.toFixed(2),
      String(r.modelled.trades),
      `${(r.modelled.winRate * 100).toFixed(1)} %`,
    ]),
  ];
  const widths = (table[0] as string[]).map((_, c) => Math.max(...table.map((r) => (r[c] as string).length)));
  return table.map((r) =>
    r.map((cell, c) => (c <= 1 ? cell.padEnd(widths[c] as number) : cell.padStart(widths[c] as number))).join('  '),
  );
}
