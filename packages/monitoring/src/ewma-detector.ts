import { invalidOption } from './errors.js';
import type { EwmaDetectorOptions } from './types.js';

/** Defaults of {@link EwmaDetectorOptions}. */
export const EWMA_DEFAULTS = { alpha: 0.1, threshold: 3, warmup: 30, minDeviation: 0, direction: 'both' } as const;

/** @internal Shared checks of detector options. */
export function checkDirection(value: unknown, field: string): 'up' | 'down' | 'both' {
  if (value === undefined) return 'both';
  if (value !== 'up' && value !== 'down' && value !== 'both')
    throw invalidOption(field, "must be 'up', 'down' or 'both'");
  return value;
}

/** @internal */
export function checkNonNegative(value: unknown, field: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0)
    throw invalidOption(field, 'must be a number >= 0');
  return value;
}

/**
 * Streaming z-score against an exponentially weighted moving mean and variance. Constant memory
 * (three numbers). A sample is anomalous once `warmup` samples were seen, when its z-score reaches
 * `threshold` in the chosen `direction` and it is at least `minDeviation` away from the mean.
 */
export class EwmaDetector {
  private readonly alpha: number;
  private readonly threshold: number;
  private readonly warmup: number;
  private readonly minDeviation: number;
  private readonly direction: 'up' | 'down' | 'both';
  private mean = 0;
  private variance = 0;
  private n = 0;
  /** z-score of the last sample (0 during warm-up). */
  score = 0;

  constructor(options: EwmaDetectorOptions = {}, field = 'detector') {
    const alpha = options.alpha ?? EWMA_DEFAULTS.alpha;
    if (typeof alpha !== 'number' || !(alpha > 0 && alpha <= 1))
      throw invalidOption(`${field}.alpha`, 'must be in (0, 1]');
    this.alpha = alpha;
    this.threshold = checkNonNegative(options.threshold, `${field}.threshold`, EWMA_DEFAULTS.threshold);
    const warmup = options.warmup ?? EWMA_DEFAULTS.warmup;
    if (!Number.isInteger(warmup) || warmup < 1) throw invalidOption(`${field}.warmup`, 'must be an integer >= 1');
    this.warmup = warmup;
    this.minDeviation = checkNonNegative(options.minDeviation, `${field}.minDeviation`, EWMA_DEFAULTS.minDeviation);
    this.direction = checkDirection(options.direction, `${field}.direction`);
  }

  /** Samples seen. */
  get count(): number {
    return this.n;
  }

  /** Feeds one sample; returns true if it is anomalous. Non-finite samples are ignored. */
  update(x: number): boolean {
    if (!Number.isFinite(x)) return false;
    if (this.n === 0) {
      this.mean = x;
      this.variance = 0;
      this.n = 1;
      this.score = 0;
      return false;
    }
    const diff = x - this.mean;
    const std = Math.sqrt(this.variance);
    let anomalous = false;
    if (this.n >= this.warmup) {
      this.score =
        std > 0 ? diff / std : diff === 0 ? 0 : diff > 0 ? Number.POSITIVE_INFINITY : Number.NEGATIVE_INFINITY;
      const directional =
        this.direction === 'up' ? this.score : this.direction === 'down' ? -this.score : Math.abs(this.score);
      anomalous = directional >= this.threshold && Math.abs(diff) >= this.minDeviation && diff !== 0;
    } else {
      this.score = 0;
    }
    // West's incremental EWMA variance.
    const incr = this.alpha * diff;
    this.mean += incr;
    this.variance = (1 - this.alpha) * (this.variance + diff * incr);
    this.n++;
    return anomalous;
  }

  /** Forgets everything. */
  reset(): void {
    this.mean = 0;
    this.variance = 0;
    this.n = 0;
    this.score = 0;
  }
}
