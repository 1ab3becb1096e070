/**
 * Decorrelated-jitter backoff (AWS architecture blog, "Exponential Backoff And Jitter"):
 * `sleep = min(cap, random_between(base, previous * 3))`.
 *
 * @param previousMs the previous delay (use `baseMs` for the first retry)
 * @param random a source of uniform numbers in [0, 1) (injectable for tests)
 */
export function decorrelatedJitter(
  previousMs: number,
  baseMs: number,
  capMs: number,
  random: () => number = Math.random,
): number {
  const upper = Math.max(baseMs, previousMs * 3);
  return Math.min(capMs, baseMs + random() * (upper - baseMs));
}

/**
 * A retry budget as a token bucket: every call deposits `ratio` tokens, every retry withdraws
 * one, and the bucket never holds fewer than `minPerSec` tokens refilled per second nor more
 * than `10 * minPerSec + 100 * ratio` (so a long calm period does not bank unlimited retries).
 * Keeps retries to roughly `ratio` of traffic during an outage, so retries cannot multiply load.
 */
export class RetryBudget {
  private tokens: number;
  private lastRefill: number;
  private readonly cap: number;
  /** Retries refused for lack of budget. */
  exhausted = 0;

  constructor(
    private readonly ratio: number,
    private readonly minPerSec: number,
    private readonly now: () => number = Date.now,
  ) {
    this.cap = Math.max(1, 10 * minPerSec + 100 * ratio);
    this.tokens = Math.max(minPerSec, 1);
    this.lastRefill = now();
  }

  /** Called once per logical call (not per retry). */
  deposit(): void {
    this.tokens = Math.min(this.cap, this.tokens + this.ratio);
  }

  /** Takes one retry token; false when the budget is spent. */
  tryWithdraw(): boolean {
    const now = this.now();
    const elapsed = now - this.lastRefill;
    if (elapsed > 0) {
      this.tokens = Math.min(this.cap, this.tokens + (elapsed / 1000) * this.minPerSec);
      this.lastRefill = now;
    }
    if (this.tokens >= 1 - 1e-9) {
      this.tokens -= 1;
      return true;
    }
    this.exhausted++;
    return false;
  }

  /** Tokens currently available. */
  get available(): number {
    return this.tokens;
  }
}
