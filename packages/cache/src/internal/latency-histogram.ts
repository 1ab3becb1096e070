import type { LatencySummary } from '../types.js';

const BUCKETS = 96;
/** Bucket i covers up to 1 µs * GROWTH^i: about 6% resolution from 1 µs to over 10 minutes. */
const GROWTH = 1.25;
const LOG_GROWTH = Math.log(GROWTH);
/** Past this many samples every count is halved, so percentiles follow recent behaviour. */
const DECAY_AT = 100_000;

/**
 * Fixed-size, HDR-like latency histogram with log buckets: O(1) record, no allocation, and
 * percentiles reported as the upper bound of the bucket that holds them.
 */
export class LatencyHistogram {
  private readonly counts = new Float64Array(BUCKETS);
  private total = 0;
  private max = 0;
  /** Samples ever recorded. */
  count = 0;

  /** Records one latency in milliseconds. */
  record(ms: number): void {
    const us = ms * 1000;
    let index = us <= 1 ? 0 : Math.ceil(Math.log(us) / LOG_GROWTH);
    if (index >= BUCKETS) index = BUCKETS - 1;
    this.counts[index] = (this.counts[index] as number) + 1;
    this.count++;
    if (ms > this.max) this.max = ms;
    if (++this.total >= DECAY_AT) {
      for (let i = 0; i < BUCKETS; i++) this.counts[i] = (this.counts[i] as number) / 2;
      this.total /= 2;
    }
  }

  /** The latency below which `p` percent of samples fall, in ms (0 when empty). */
  percentile(p: number): number {
    if (this.total === 0) return 0;
    const target = (p / 100) * this.total;
    let seen = 0;
    for (let i = 0; i < BUCKETS; i++) {
      seen += this.counts[i] as number;
      if (seen >= target) return Math.min(GROWTH ** i / 1000, this.max);
    }
    return this.max;
  }

  /** A plain summary for `stats()`. */
  summary(): LatencySummary {
    return {
      count: this.count,
      p50: round(this.percentile(50)),
      p90: round(this.percentile(90)),
      p99: round(this.percentile(99)),
      max: round(this.max),
    };
  }
}

function round(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}
