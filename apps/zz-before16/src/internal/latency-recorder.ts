/**
 * A fixed-size ring of latency samples (milliseconds) with percentiles over the window.
 * Recording is an array store: no allocation on the hot path.
 */
export class LatencyRecorder {
  private readonly samples: Float64Array;
  private next = 0;
  private filled = 0;
  /** Samples recorded since creation. */
  count = 0;
  /** Sum of every sample recorded since creation. */
  sum = 0;
  /** Also receives every sample (e.g. a Prometheus histogram's observe). */
  sink: ((ms: number) => void) | undefined;

  constructor(capacity = 8192) {
    this.samples = new Float64Array(capacity);
  }

  record(ms: number): void {
    this.samples[this.next] = ms;
    this.next = (this.next + 1) % this.samples.length;
    if (this.filled < this.samples.length) this.filled++;
    this.count++;
    this.sum += ms;
    this.sink?.(ms);
  }

  /** Percentiles over the window, e.g. `{ p50, p99, p999 }` for `[50, 99, 99.9]`. NaN when empty. */
  percentiles(ps: readonly number[] = [50, 99, 99.9]): Record<string, number> {
    const sorted = this.samples.slice(0, this.filled).sort();
    const out: Record<string, number> = {};
    for (const p of ps) {
      const key = `p${String(p).replace('.', '')}`;
      if (sorted.length === 0) out[key] = Number.NaN;
      else
        out[key] = sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] as number;
    }
    return out;
  }

  /** Clears the window (not `count`/`sum`). */
  reset(): void {
    this.next = 0;
    this.filled = 0;
  }
}
