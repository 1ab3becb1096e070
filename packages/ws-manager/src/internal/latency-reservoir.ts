/** Keeps the last `size` latency samples in a ring and computes percentiles on demand (stats() only). */
export class LatencyReservoir {
  private readonly samples: Float64Array;
  private count = 0;
  private next = 0;

  constructor(size = 1024) {
    this.samples = new Float64Array(size);
  }

  /** Records one sample. */
  add(value: number): void {
    this.samples[this.next] = value;
    this.next = (this.next + 1) % this.samples.length;
    if (this.count < this.samples.length) this.count++;
  }

  /** Number of samples kept. */
  get size(): number {
    return this.count;
  }

  /** p50/p90/p99/max of the kept samples, or undefined when empty. */
  percentiles(): { p50: number; p90: number; p99: number; max: number; samples: number } | undefined {
    if (this.count === 0) return undefined;
    const sorted = this.samples.slice(0, this.count).sort();
    const at = (p: number) => sorted[Math.min(this.count - 1, Math.max(0, Math.ceil(p * this.count) - 1))] as number;
    return { p50: at(0.5), p90: at(0.9), p99: at(0.99), max: sorted[this.count - 1] as number, samples: this.count };
  }
}
