/**
 * A bounded-memory latency histogram: log-spaced buckets from 10 µs to ~10 min with ~5%
 * relative error. Memory is fixed (one Uint32Array) however many samples it sees.
 */
const MIN_MS = 0.01;
const GROWTH = 1.05;
const LOG_GROWTH = Math.log(GROWTH);
const BUCKETS = Math.ceil(Math.log(600_000 / MIN_MS) / LOG_GROWTH) + 1;

export class Histogram {
  private readonly counts = new Uint32Array(BUCKETS);
  count = 0;
  max = 0;

  record(ms: number): void {
    const index = ms <= MIN_MS ? 0 : Math.min(BUCKETS - 1, Math.ceil(Math.log(ms / MIN_MS) / LOG_GROWTH));
    this.counts[index]!++;
    this.count++;
    if (ms > this.max) this.max = ms;
  }

  /** The value at percentile `p` (0-100): the upper bound of the bucket holding it. */
  percentile(p: number): number {
    if (this.count === 0) return 0;
    const rank = Math.max(1, Math.ceil((p / 100) * this.count));
    let seen = 0;
    for (let i = 0; i < BUCKETS; i++) {
      seen += this.counts[i]!;
      if (seen >= rank) return i === BUCKETS - 1 ? this.max : Math.min(this.max, MIN_MS * GROWTH ** i);
    }
    return this.max;
  }

  reset(): void {
    this.counts.fill(0);
    this.count = 0;
    this.max = 0;
  }
}
