import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { TraderConfig } from '../config/config-types.js';
import { configPaths, envNameFor, loadConfig } from '../config/load-config.js';
import { TraderError } from '../errors.js';
import type { SweepAnswer, SweepJob } from './sweep-worker.js';

/** One swept setting and its values, from `--sweep strategy.threshold=0.05,0.08`. */
export interface SweepAxis {
  path: string;
  values: string[];
}

/** Parses one `--sweep PATH=V1,V2,...`; the path must be a configuration field. */
export function parseSweep(spec: string): SweepAxis {
  const eq = spec.indexOf('=');
  const path = eq < 0 ? spec : spec.slice(0, eq);
  const values =
    eq < 0
      ? []
      : spec
          .slice(eq + 1)
          .split(',')
          .filter((v) => v !== '');
  if (!configPaths().includes(path)) {
    throw new TraderError('E_TRADER_INVALID_OPTION', `--sweep: unknown setting ${JSON.stringify(path)}`, {
      field: 'sweep',
    });
  }
  if (values.length === 0) {
    throw new TraderError('E_TRADER_INVALID_OPTION', `--sweep ${path}: no values (PATH=V1,V2,...)`, { field: 'sweep' });
  }
  return { path, values };
}

/** Every combination of the axes' values (the cartesian product), in axis order. */
export function combinations(axes: readonly SweepAxis[]): Record<string, string>[] {
  let out: Record<string, string>[] = [{}];
  for (const axis of axes) out = out.flatMap((c) => axis.values.map((v) => ({ ...c, [axis.path]: v })));
  return out;
}

/**
 * The configuration of each combination, loaded as `trader` loads its own with the swept values as their
 * `TRADER_*` variables, so a bad value is refused naming its field before any job starts.
 */
export function sweepConfigs(
  combos: readonly Record<string, string>[],
  base: { env: NodeJS.ProcessEnv; file?: string; symbols: string[] },
): TraderConfig[] {
  return combos.map((combo) => {
    const env = { ...base.env };
    for (const [path, value] of Object.entries(combo)) env[envNameFor(path)] = value;
    return loadConfig({
      env,
      ...(base.file === undefined ? {} : { file: base.file }),
      overrides: { symbols: base.symbols },
    });
  });
}

/** A finished job: its settings and figures. */
export interface SweepRow extends SweepAnswer {
  params: Record<string, string>;
}

/** Options of {@link runSweep}. */
export interface SweepOptions extends Omit<SweepJob, 'config' | 'out'> {
  combos: readonly Record<string, string>[];
  configs: readonly TraderConfig[];
  /** Each job's journals go to `<out>/job-<n>/`. */
  out: string;
  /** Worker threads at once. @default the CPU count */
  poolSize?: number;
}

function runJob(job: SweepJob): Promise<SweepAnswer> {
  // From the TypeScript sources (tests, tsx) the worker needs the TypeScript loader; built, it is plain JavaScript.
  const fromSource = import.meta.url.endsWith('.ts');
  const worker = new Worker(new URL(fromSource ? './sweep-worker-source.mjs' : './sweep-worker.js', import.meta.url), {
    workerData: job,
  });
  return new Promise((resolve, reject) => {
    let answer: SweepAnswer | undefined;
    worker.once('message', (m: SweepAnswer) => {
      answer = m;
    });
    worker.once('error', reject);
    worker.once('exit', (code) => {
      if (answer !== undefined && code === 0) resolve(answer);
      else
        reject(
          new TraderError('E_TRADER_INVALID_OPTION', `sweep job ${job.out} ended with code ${code} and no result`),
        );
    });
  });
}

/**
 * Runs one backtest per combination, each in a worker thread (at most `poolSize` at once), and returns the rows
 * ranked by the latency-modelled net PnL, best first (ties in combination order).
 */
export async function runSweep(options: SweepOptions): Promise<SweepRow[]> {
  const { combos, configs, out, poolSize, ...shared } = options;
  const rows: (SweepRow | undefined)[] = new Array(combos.length);
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < combos.length) {
      const i = next++;
      const answer = await runJob({ ...shared, config: configs[i] as TraderConfig, out: join(out, `job-${i + 1}`) });
      rows[i] = { params: combos[i] as Record<string, string>, ...answer };
    }
  };
  const size = Math.max(1, Math.min(poolSize ?? availableParallelism(), combos.length));
  await Promise.all(Array.from({ length: size }, lane));
  return (rows as SweepRow[])
    .map((r, i) => ({ r, i }))
    .sort((a, b) => b.r.modelled.netPnl - a.r.modelled.netPnl || a.i - b.i)
    .map(({ r }) => r);
}
