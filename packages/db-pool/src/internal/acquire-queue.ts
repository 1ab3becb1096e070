import { PoolExhaustedError, QueryAbortedError, QueryTimeoutError } from '../errors.js';
import { type QueuedWaiter, WaiterQueue } from './waiter-queue.js';

/** A caller waiting in an {@link AcquireQueue}. */
interface Waiter<T> extends QueuedWaiter<T> {
  /** The expiry is the call's deadline (QueryTimeoutError) rather than `acquireTimeoutMs`. */
  byDeadline: boolean;
  timeoutMs: number;
  signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
}

/** The counters an {@link AcquireQueue} bumps. */
export interface AcquireQueueCounters {
  queueFull: number;
  acquireTimeouts: number;
}

/**
 * Callers of one host pool waiting for a connection: by priority, then FIFO; bounded by `maxWaitingClients` (a full
 * queue fails fast); each waiter leaves at its expiry (`acquireTimeoutMs` or the call's own earlier deadline) or when
 * its signal aborts. The expiries are enforced by ONE timer armed for the earliest one, not a timer per waiter.
 */
export class AcquireQueue<T> {
  private readonly queue = new WaiterQueue<T>(3);
  /** Unsettled waiters. */
  count = 0;
  private expiryTimer: NodeJS.Timeout | undefined;
  private expiryAt = 0;

  constructor(
    private readonly label: string,
    private readonly options: { acquireTimeoutMs: number; maxWaitingClients: number },
    private readonly counters: AcquireQueueCounters,
  ) {}

  /** Waits for the next connection handed to {@link handOff}. */
  enqueue(priority: number, deadlineAt: number, signal: AbortSignal | undefined, timeoutMs: number): Promise<T> {
    if (this.count >= this.options.maxWaitingClients) {
      this.counters.queueFull++;
      return Promise.reject(
        new PoolExhaustedError('E_DB_POOL_QUEUE_FULL', `wait queue full for ${this.label}`, { host: this.label }),
      );
    }
    if (signal?.aborted) return Promise.reject(new QueryAbortedError({ host: this.label, cause: signal.reason }));
    const acquireAt = Date.now() + this.options.acquireTimeoutMs;
    const byDeadline = deadlineAt > 0 && deadlineAt < acquireAt;
    return new Promise<T>((resolve, reject) => {
      const w: Waiter<T> = {
        settled: false,
        priority,
        expiresAt: byDeadline ? deadlineAt : acquireAt,
        byDeadline,
        timeoutMs,
        signal,
        onAbort: undefined,
        resolve,
        reject,
      };
      if (signal !== undefined) {
        w.onAbort = () => {
          if (w.settled) return;
          this.settle(w);
          reject(new QueryAbortedError({ host: this.label, cause: signal.reason }));
        };
        signal.addEventListener('abort', w.onAbort, { once: true });
      }
      this.queue.push(w);
      this.count++;
      this.armExpiry(w.expiresAt);
    });
  }

  /** Gives `value` to the most urgent waiter; false when nobody waits. */
  handOff(value: T): boolean {
    if (this.count === 0) return false;
    const w = this.queue.shift() as Waiter<T> | undefined;
    if (w === undefined) return false;
    this.settle(w);
    w.resolve(value);
    return true;
  }

  /** Fails every waiter with `error`. */
  rejectAll(error: unknown): void {
    this.queue.forEach((w) => {
      this.settle(w as Waiter<T>);
      w.reject(error);
    });
    this.queue.clear();
  }

  /** Stops the expiry timer (the pool is closing; the waiters were failed). */
  stop(): void {
    clearTimeout(this.expiryTimer);
    this.expiryTimer = undefined;
  }

  private settle(w: Waiter<T>): void {
    w.settled = true;
    this.count--;
    if (w.onAbort !== undefined) w.signal?.removeEventListener('abort', w.onAbort);
  }

  /** Arms the shared expiry timer for `at` unless it already fires earlier. */
  private armExpiry(at: number): void {
    if (this.expiryTimer !== undefined && this.expiryAt <= at) return;
    clearTimeout(this.expiryTimer);
    this.expiryAt = at;
    this.expiryTimer = setTimeout(() => this.expire(), Math.max(0, at - Date.now()) + 1);
    this.expiryTimer.unref();
  }

  /** Fails the waiters whose time is up and re-arms the timer for the next expiry. */
  private expire(): void {
    this.expiryTimer = undefined;
    const now = Date.now();
    let next = Number.POSITIVE_INFINITY;
    this.queue.forEach((waiter) => {
      const w = waiter as Waiter<T>;
      if (w.expiresAt > now) {
        if (w.expiresAt < next) next = w.expiresAt;
        return;
      }
      this.settle(w);
      if (w.byDeadline) {
        w.reject(new QueryTimeoutError(w.timeoutMs, { host: this.label }));
      } else {
        this.counters.acquireTimeouts++;
        w.reject(
          new PoolExhaustedError(
            'E_DB_POOL_ACQUIRE_TIMEOUT',
            `no connection to ${this.label} within ${this.options.acquireTimeoutMs} ms`,
            { host: this.label },
          ),
        );
      }
    });
    if (next !== Number.POSITIVE_INFINITY) this.armExpiry(next);
  }
}
