import { WsManagerError, WsManagerErrorCode } from '../errors.js';

/** A token bucket: `ratePerSecond` refill, `burst` capacity. Waiters are served in FIFO order. */
export class TokenBucket {
  private tokens: number;
  private last: number;
  private readonly waiters: Array<{ resolve: () => void; reject: (e: unknown) => void }> = [];
  private timer: NodeJS.Timeout | undefined;
  /** How many acquisitions had to wait. */
  waited = 0;

  constructor(
    private readonly ratePerSecond: number,
    private readonly burst: number,
    private readonly now: () => number = Date.now,
  ) {
    this.tokens = burst;
    this.last = now();
  }

  private refill(): void {
    const t = this.now();
    const elapsed = t - this.last;
    if (elapsed > 0) {
      this.tokens = Math.min(this.burst, this.tokens + (elapsed * this.ratePerSecond) / 1000);
      this.last = t;
    }
  }

  /** Takes a token now if one is available. */
  tryTake(): boolean {
    this.refill();
    if (this.waiters.length === 0 && this.tokens >= 1) {
      this.tokens -= 1;
      return true;
    }
    return false;
  }

  /** Current (fractional) tokens. */
  available(): number {
    this.refill();
    return this.tokens;
  }

  /** Resolves when a token was taken; rejects with `E_WS_ABORTED` if `signal` aborts first. */
  take(signal?: AbortSignal): Promise<void> {
    if (this.tryTake()) return Promise.resolve();
    this.waited++;
    return new Promise<void>((resolve, reject) => {
      if (signal?.aborted) {
        reject(abortedError(signal));
        return;
      }
      // The abort listener lives exactly as long as the wait: a long-lived signal (a connection's close signal) that
      // sees many waits must not collect one listener per wait.
      const onAbort = () => {
        const i = this.waiters.indexOf(waiter);
        if (i >= 0) this.waiters.splice(i, 1);
        reject(abortedError(signal as AbortSignal));
      };
      const settle = (fn: () => void) => () => {
        signal?.removeEventListener('abort', onAbort);
        fn();
      };
      const waiter = { resolve: settle(resolve), reject: (e: unknown) => settle(() => reject(e))() };
      this.waiters.push(waiter);
      signal?.addEventListener('abort', onAbort, { once: true });
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.timer !== undefined || this.waiters.length === 0) return;
    this.refill();
    const wait = this.tokens >= 1 ? 0 : Math.ceil(((1 - this.tokens) * 1000) / this.ratePerSecond);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.refill();
      while (this.waiters.length > 0 && this.tokens >= 1) {
        this.tokens -= 1;
        this.waiters.shift()?.resolve();
      }
      this.schedule();
    }, wait);
    this.timer.unref?.();
  }

  /** Rejects every waiter (used on close). */
  close(error: unknown): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    for (const w of this.waiters.splice(0)) w.reject(error);
  }
}

function abortedError(signal: AbortSignal): WsManagerError {
  return new WsManagerError(WsManagerErrorCode.Aborted, 'aborted while waiting for the rate limit', {
    cause: signal.reason,
  });
}
