import { performance } from 'node:perf_hooks';

/** One figure of a benchmark, always beside a baseline measured in the same run. */
export interface BenchFigure {
  /** What was measured, e.g. `L1 hit get, 256 concurrent callers`. */
  name: string;
  /** The measured value. */
  value: number;
  /** Unit of `value` and of the baseline, e.g. `ops/s`, `ms`. */
  unit: string;
  /** The baseline measured in the same run (raw client or peer library). */
  baseline: { name: string; value: number };
  /** True when a larger value is better (throughput); false for latencies. */
  higherIsBetter: boolean;
  /**
   * The target as a ratio `value / baseline` (e.g. `10` for "at least 10x", `0.9` for "at least 0.9x").
   * For lower-is-better figures the target is the largest acceptable ratio.
   */
  target?: number;
  /** How it was measured (concurrency, duration, payload). */
  method: string;
  /** Extra numbers worth keeping (p50, p99, counts). */
  extra?: Record<string, number | string>;
}

/** The result of one bench file. */
export interface BenchReport {
  /** The package or app, e.g. `@cryptoscalp/cache`. */
  package: string;
  /** The bench file's short name, e.g. `get`. */
  bench: string;
  figures: BenchFigure[];
}

/** Prefix of the stdout line that carries a {@link BenchReport} to `scripts/bench.mjs`. */
export const BENCH_RESULT_PREFIX = 'BENCH_RESULT ';

/** Prints the figures as a table for people and as one `BENCH_RESULT` JSON line for `npm run bench`. */
export function reportBench(report: BenchReport): void {
  for (const f of report.figures) {
    const ratio = f.baseline.value === 0 ? Number.NaN : f.value / f.baseline.value;
    const verdict =
      f.target === undefined
        ? ''
        : (f.higherIsBetter ? ratio >= f.target : ratio <= f.target)
          ? ' (target met)'
          : ' (target MISSED)';
    console.log(
      `${f.name}: ${fmt(f.value)} ${f.unit} vs ${f.baseline.name} ${fmt(f.baseline.value)} ${f.unit} = ${ratio.toFixed(2)}x${
        f.target === undefined ? '' : `, target ${f.higherIsBetter ? '>=' : '<='} ${f.target}x`
      }${verdict}`,
    );
  }
  console.log(BENCH_RESULT_PREFIX + JSON.stringify(report));
}

function fmt(n: number): string {
  return Math.abs(n) >= 1000 ? Math.round(n).toLocaleString('en-US') : n.toPrecision(4);
}

/** Latency percentiles (same unit as the samples) from an array of samples. */
export function percentiles(samples: number[] | Float64Array, ps: number[] = [50, 95, 99]): Record<string, number> {
  const sorted = Float64Array.from(samples).sort();
  const out: Record<string, number> = {};
  for (const p of ps) {
    const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
    out[`p${p}`] = sorted.length === 0 ? Number.NaN : (sorted[index] as number);
  }
  return out;
}

/** One HTTP load run's figures (autocannon-style): requests per second, latency p50/p99, errors, non-2xx answers. */
export interface LoadFigures {
  rps: number;
  p50: number;
  p99: number;
  errors: number;
  non2xx: number;
}

/** The median of the values (the mean of the middle two for an even count). */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

/** Several rounds of one server as one figure: the medians of req/s, p50 and p99, and the sums of the failures. */
export function combineLoadRuns(runs: readonly LoadFigures[]): LoadFigures {
  return {
    rps: median(runs.map((r) => r.rps)),
    p50: median(runs.map((r) => r.p50)),
    p99: median(runs.map((r) => r.p99)),
    errors: runs.reduce((a, r) => a + r.errors, 0),
    non2xx: runs.reduce((a, r) => a + r.non2xx, 0),
  };
}

/** Options for {@link measureThroughput}. */
export interface ThroughputOptions {
  /** Concurrent callers, each awaiting its previous call before the next. @default 256 */
  concurrency?: number;
  /** How long to measure, after warm-up. @default 2000 */
  durationMs?: number;
  /** Warm-up before measuring. @default 500 */
  warmupMs?: number;
  /** Record per-call latency (costs a little). @default false */
  latency?: boolean;
}

/** Result of {@link measureThroughput}: ops/s and, if asked, latency percentiles in milliseconds. */
export interface ThroughputResult {
  opsPerSec: number;
  ops: number;
  durationMs: number;
  latencyMs?: Record<string, number>;
}

/**
 * Runs `op` from `concurrency` concurrent async callers for a fixed time and reports
 * completed operations per second. The same harness measures the subject and its baseline,
 * so the ratio compares like with like.
 */
export async function measureThroughput(
  op: (i: number) => Promise<unknown> | unknown,
  options: ThroughputOptions = {},
): Promise<ThroughputResult> {
  const concurrency = options.concurrency ?? 256;
  const run = async (durationMs: number, record: boolean) => {
    const samples: number[] = [];
    let ops = 0;
    let stop = false;
    const started = performance.now();
    const timer = setTimeout(() => {
      stop = true;
    }, durationMs);
    const worker = async (w: number) => {
      let i = w;
      while (!stop) {
        if (record) {
          const t0 = performance.now();
          await op(i);
          samples.push(performance.now() - t0);
        } else {
          await op(i);
        }
        ops++;
        i += concurrency;
        // Let the timer fire even when op resolves synchronously-fast.
        if ((ops & 1023) === 0) await new Promise<void>((r) => setImmediate(r));
      }
    };
    await Promise.all(Array.from({ length: concurrency }, (_, w) => worker(w)));
    clearTimeout(timer);
    const elapsed = performance.now() - started;
    return { ops, elapsed, samples };
  };
  await run(options.warmupMs ?? 500, false);
  const { ops, elapsed, samples } = await run(options.durationMs ?? 2_000, options.latency ?? false);
  const result: ThroughputResult = { opsPerSec: (ops / elapsed) * 1000, ops, durationMs: elapsed };
  if (options.latency) result.latencyMs = percentiles(samples, [50, 95, 99, 99.9]);
  return result;
}
