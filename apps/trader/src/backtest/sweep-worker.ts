// One job of a parameter sweep, in a worker thread: a backtest of one configuration (both runs, one read), answering
// with the figures only (journals stay on disk).
import { parentPort, workerData } from 'node:worker_threads';
import type { TraderConfig } from '../config/config-types.js';
import { latencyRuns, runBacktest } from './backtest.js';
import type { BacktestMetrics } from './metrics.js';

/** What a sweep job is given. */
export interface SweepJob {
  data: string;
  config: TraderConfig;
  from?: number;
  to?: number;
  seed: number;
  latencyMs: number;
  /** The job's output directory (its two journals). */
  out: string;
}

/** What a sweep job answers: latency-free and latency-modelled figures. */
export interface SweepAnswer {
  free: BacktestMetrics;
  modelled: BacktestMetrics;
}

const job = workerData as SweepJob;
const outcome = await runBacktest({
  data: job.data,
  config: job.config,
  ...(job.from === undefined ? {} : { from: job.from }),
  ...(job.to === undefined ? {} : { to: job.to }),
  runs: latencyRuns(job.out, job.latencyMs, job.seed),
});
const [free, modelled] = outcome.results;
parentPort?.postMessage({ free: free?.metrics, modelled: modelled?.metrics } satisfies Partial<SweepAnswer>);
