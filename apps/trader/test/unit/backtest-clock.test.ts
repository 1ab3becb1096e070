import { describe, expect, it } from 'vitest';
import { SimulatedClock } from '../../src/backtest/simulated-clock.js';

describe('SimulatedClock', () => {
  it('runs due timers in due order (ties in the order set), each at its due time, then stops at the target', () => {
    const clock = new SimulatedClock(1000);
    const log: string[] = [];
    clock.setTimeout(() => log.push(`b@${clock.now()}`), 20);
    clock.setTimeout(() => log.push(`a@${clock.now()}`), 10);
    clock.setTimeout(() => log.push(`a2@${clock.now()}`), 10);
    const cancel = clock.setTimeout(() => log.push('cancelled'), 5);
    cancel();
    clock.advanceTo(1015);
    expect(log).toEqual(['a@1010', 'a2@1010']);
    expect(clock.now()).toBe(1015);
    expect(clock.monotonic()).toBe(1015);
    clock.advanceTo(1100);
    expect(log).toEqual(['a@1010', 'a2@1010', 'b@1020']);
    expect(clock.pending).toBe(0);
  });

  it('repeats intervals, runs timers set by timers when they fall due, and never goes backwards', () => {
    const clock = new SimulatedClock(0);
    const ticks: number[] = [];
    const stop = clock.setInterval(() => {
      ticks.push(clock.now());
      if (clock.now() === 200) clock.setTimeout(() => ticks.push(-clock.now()), 0);
    }, 100);
    clock.advanceTo(350);
    expect(ticks).toEqual([100, 200, -200, 300]);
    stop();
    clock.advanceTo(1000);
    expect(ticks).toHaveLength(4);
    clock.advanceTo(500);
    expect(clock.now()).toBe(1000);
  });
});
