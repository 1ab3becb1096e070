import { performance } from 'node:perf_hooks';

/** Cancels a timer set through a {@link Clock}. */
export type CancelTimer = () => void;

/**
 * Where the trading core reads time and sets timers. Live it is {@link SYSTEM_CLOCK}; a backtest passes a simulated
 * clock, so the decision path reads no wall clock and a replay of the same events gives the same journal.
 */
export interface Clock {
  /** Epoch milliseconds (journal timestamps, risk windows, the UTC day). */
  now(): number;
  /** Monotonic milliseconds (strategy time, latency stamps; `performance.now()` live). */
  monotonic(): number;
  /** Runs `fn` once after `ms` (kept referenced, like `setTimeout`). */
  setTimeout(fn: () => void, ms: number): CancelTimer;
  /** Runs `fn` every `ms`; does not keep the process alive (the engine's periodic work). */
  setInterval(fn: () => void, ms: number): CancelTimer;
}

/** The process's clocks and timers. */
export const SYSTEM_CLOCK: Clock = Object.freeze({
  now: () => Date.now(),
  monotonic: () => performance.now(),
  setTimeout: (fn: () => void, ms: number): CancelTimer => {
    const t = setTimeout(fn, ms);
    return () => clearTimeout(t);
  },
  setInterval: (fn: () => void, ms: number): CancelTimer => {
    const t = setInterval(fn, ms);
    t.unref();
    return () => clearInterval(t);
  },
});
