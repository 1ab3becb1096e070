import type { Clock } from './types.js';

/** The real clock: `Date.now()` and unref'd Node timers (they never keep the process alive). */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout(fn, ms) {
    const t = setTimeout(() => {
      // Timer work reports its own failures; a rejection here must not become an unhandled one.
      Promise.resolve()
        .then(fn)
        .catch(() => {});
    }, ms);
    t.unref();
    return t;
  },
  clearTimeout(handle) {
    clearTimeout(handle as NodeJS.Timeout);
  },
};

interface ManualTimer {
  id: number;
  at: number;
  fn: () => unknown;
}

/**
 * A clock you move by hand, for deterministic tests of the alert state machine:
 * `await clock.advance(30_000)` runs every timer due in the next 30 s in time order, awaiting each
 * (and the promises it returns) before the next.
 */
export class ManualClock implements Clock {
  private current: number;
  private nextId = 1;
  private timers: ManualTimer[] = [];

  /** @param start Initial time in ms since the epoch. @default 0 */
  constructor(start = 0) {
    this.current = start;
  }

  now(): number {
    return this.current;
  }

  setTimeout(fn: () => unknown, ms: number): unknown {
    const id = this.nextId++;
    this.timers.push({ id, at: this.current + Math.max(0, ms), fn });
    return id;
  }

  clearTimeout(handle: unknown): void {
    this.timers = this.timers.filter((t) => t.id !== handle);
  }

  /** Timers not yet run. */
  get pending(): number {
    return this.timers.length;
  }

  /** Moves time forward by `ms`, running due timers in order (including ones they schedule). */
  async advance(ms: number): Promise<void> {
    const target = this.current + ms;
    for (;;) {
      let next: ManualTimer | undefined;
      for (const t of this.timers)
        if (t.at <= target && (next === undefined || t.at < next.at || (t.at === next.at && t.id < next.id))) next = t;
      if (next === undefined) break;
      this.timers = this.timers.filter((t) => t !== next);
      this.current = Math.max(this.current, next.at);
      try {
        await next.fn();
      } catch {
        // Timer callbacks report their own errors.
      }
      // Let promise chains started by the callback settle before the next timer.
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    this.current = target;
  }
}
