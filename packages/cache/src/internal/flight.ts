/**
 * One in-process load of a key (single-flight): every concurrent `getOrSet` for the key joins
 * it. `promise` settles with the fresh value (or the loader's error); `stale` is set, and the
 * stale listeners called, as soon as a grace value is known (from L2) so callers can serve it.
 */
export class Flight<T = unknown> {
  readonly promise: Promise<T | undefined>;
  resolve!: (value: T | undefined) => void;
  reject!: (error: unknown) => void;
  stale: { value: T } | undefined;
  /** Where the value came from, once settled. */
  tier: 'l1' | 'l2' | 'loader' = 'loader';
  private staleListeners: Array<(stale: { value: T }) => void> | undefined;

  constructor() {
    this.promise = new Promise<T | undefined>((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
    // Callers may all have returned a stale value: the rejection must never be unhandled.
    this.promise.catch(() => undefined);
  }

  /** Publishes a stale value to callers waiting without one. */
  setStale(value: T): void {
    if (this.stale !== undefined) return;
    this.stale = { value };
    const listeners = this.staleListeners;
    this.staleListeners = undefined;
    if (listeners !== undefined) for (const listener of listeners) listener(this.stale);
  }

  /** Calls `listener` once a stale value is known. */
  onStale(listener: (stale: { value: T }) => void): void {
    if (this.stale !== undefined) listener(this.stale);
    else if (this.staleListeners === undefined) this.staleListeners = [listener];
    else this.staleListeners.push(listener);
  }

  /** Forgets stale listeners (the caller settled). */
  offStale(listener: (stale: { value: T }) => void): void {
    if (this.staleListeners === undefined) return;
    const index = this.staleListeners.indexOf(listener);
    if (index >= 0) this.staleListeners.splice(index, 1);
  }
}
