import type { CancelTimer, Clock } from '../internal/clock.js';

interface Timer {
  due: number;
  /** Order of creation: timers due at the same time run in the order they were set. */
  seq: number;
  fn: () => void;
  /** Repeat period (intervals), 0 for one-shot timers. */
  every: number;
  cancelled: boolean;
}

/**
 * A clock that only moves when told to ({@link advanceTo}), running the timers that fall due on the way in due-time
 * order (ties in the order they were set), each with the clock set to its due time. Both `now()` and `monotonic()`
 * read the simulated epoch time, so strategy time, risk windows and journal timestamps all follow the recording.
 */
export class SimulatedClock implements Clock {
  private t: number;
  private seq = 0;
  /** Binary min-heap on (due, seq). */
  private readonly heap: Timer[] = [];

  constructor(start: number) {
    this.t = start;
  }

  readonly now = (): number => this.t;
  readonly monotonic = (): number => this.t;

  readonly setTimeout = (fn: () => void, ms: number): CancelTimer => this.add(fn, ms, 0);

  readonly setInterval = (fn: () => void, ms: number): CancelTimer => this.add(fn, ms, Math.max(1, ms));

  private add(fn: () => void, ms: number, every: number): CancelTimer {
    const timer: Timer = { due: this.t + Math.max(0, ms), seq: this.seq++, fn, every, cancelled: false };
    this.pushHeap(timer);
    return () => {
      timer.cancelled = true;
    };
  }

  /** Moves the clock to `t` (never backwards), running every timer due by then. */
  advanceTo(t: number): void {
    for (let top = this.heap[0]; top !== undefined && top.due <= t; top = this.heap[0]) {
      this.popHeap();
      if (top.cancelled) continue;
      if (top.due > this.t) this.t = top.due;
      if (top.every > 0) {
        top.due += top.every;
        top.seq = this.seq++;
        this.pushHeap(top);
      }
      top.fn();
    }
    if (t > this.t) this.t = t;
  }

  /** Timers set and not yet run or cancelled (cancelled ones are dropped lazily). */
  get pending(): number {
    return this.heap.filter((x) => !x.cancelled).length;
  }

  private before(a: Timer, b: Timer): boolean {
    return a.due < b.due || (a.due === b.due && a.seq < b.seq);
  }

  private pushHeap(x: Timer): void {
    const h = this.heap;
    h.push(x);
    for (let i = h.length - 1; i > 0; ) {
      const p = (i - 1) >> 1;
      if (!this.before(h[i] as Timer, h[p] as Timer)) break;
      [h[i], h[p]] = [h[p] as Timer, h[i] as Timer];
      i = p;
    }
  }

  private popHeap(): void {
    const h = this.heap;
    const last = h.pop() as Timer;
    if (h.length === 0) return;
    h[0] = last;
    for (let i = 0; ; ) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < h.length && this.before(h[l] as Timer, h[m] as Timer)) m = l;
      if (r < h.length && this.before(h[r] as Timer, h[m] as Timer)) m = r;
      if (m === i) break;
      [h[i], h[m]] = [h[m] as Timer, h[i] as Timer];
      i = m;
    }
  }
}
