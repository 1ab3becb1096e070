import { invalidOption } from './errors.js';
import { checkDirection, checkNonNegative } from './ewma-detector.js';
import type { MadDetectorOptions } from './types.js';

/** Defaults of {@link MadDetectorOptions}. */
export const MAD_DEFAULTS = { window: 60, threshold: 3.5, minDeviation: 0, direction: 'both' } as const;

/**
 * Robust streaming detector: the modified z-score `0.6745·(x − median)/MAD` against the median and
 * median absolute deviation of the previous `window` samples (a ring buffer; constant memory, two
 * Float64Arrays). A sample is anomalous after warm-up when the score reaches `threshold` in the chosen
 * `direction` and the sample is at least `minDeviation` from the median. When MAD is 0 (a flat
 * window), any sample beyond `minDeviation` (and different from the median) is anomalous.
 */
export class MadDetector {
  private readonly window: number;
  private readonly threshold: number;
  private readonly warmup: number;
  private readonly minDeviation: number;
  private readonly direction: 'up' | 'down' | 'both';
  private readonly ring: Float64Array;
  private readonly scratch: Float64Array;
  private next = 0;
  private n = 0;
  /** Modified z-score of the last sample (0 during warm-up). */
  score = 0;

  constructor(options: MadDetectorOptions = {}, field = 'detector') {
    const window = options.window ?? MAD_DEFAULTS.window;
    if (!Number.isInteger(window) || window < 3 || window > 100_000)
      throw invalidOption(`${field}.window`, 'must be an integer in [3, 100000]');
    this.window = window;
    this.threshold = checkNonNegative(options.threshold, `${field}.threshold`, MAD_DEFAULTS.threshold);
    const warmup = options.warmup ?? window;
    if (!Number.isInteger(warmup) || warmup < 3 || warmup > window)
      throw invalidOption(`${field}.warmup`, 'must be an integer in [3, window]');
    this.warmup = warmup;
    this.minDeviation = checkNonNegative(options.minDeviation, `${field}.minDeviation`, MAD_DEFAULTS.minDeviation);
    this.direction = checkDirection(options.direction, `${field}.direction`);
    this.ring = new Float64Array(window);
    this.scratch = new Float64Array(window);
  }

  /** Samples seen (capped at the window size). */
  get count(): number {
    return this.n;
  }

  private median(len: number): number {
    const s = this.scratch.subarray(0, len).sort();
    const mid = len >> 1;
    return len % 2 === 1 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
  }

  /** Feeds one sample; returns true if it is anomalous against the window before it. */
  update(x: number): boolean {
    if (!Number.isFinite(x)) return false;
    let anomalous = false;
    this.score = 0;
    if (this.n >= this.warmup) {
      const len = this.n;
      this.scratch.set(this.ring.subarray(0, len));
      const med = this.median(len);
      for (let i = 0; i < len; i++) this.scratch[i] = Math.abs((this.ring[i] as number) - med);
      const mad = this.median(len);
      const diff = x - med;
      this.score =
        mad > 0
          ? (0.6745 * diff) / mad
          : diff === 0
            ? 0
            : diff > 0
              ? Number.POSITIVE_INFINITY
              : Number.NEGATIVE_INFINITY;
      const directional =
        this.direction === 'up' ? this.score : this.direction === 'down' ? -this.score : Math.abs(this.score);
      anomalous = diff !== 0 && directional >= this.threshold && Math.abs(diff) >= this.minDeviation;
    }
    this.ring[this.next] = x;
    this.next = (this.next + 1) % this.window;
    if (this.n < this.window) this.n++;
    return anomalous;
  }

  /** Forgets everything. */
  reset(): void {
    this.n = 0;
    this.next = 0;
    this.score = 0;
  }
}
