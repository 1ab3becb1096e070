import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decorrelatedJitter, RetryBudget } from '../../src/index.js';

describe('decorrelatedJitter', () => {
  it('stays within [base, min(cap, 3*previous)]', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 100 }),
        fc.integer({ min: 1, max: 10_000 }),
        fc.integer({ min: 1, max: 100_000 }),
        fc.double({ min: 0, max: 0.999999, noNaN: true }),
        (base, extra, previous, r) => {
          const cap = base + extra;
          const d = decorrelatedJitter(previous, base, cap, () => r);
          expect(d).toBeGreaterThanOrEqual(Math.min(base, cap));
          expect(d).toBeLessThanOrEqual(cap);
          expect(d).toBeLessThanOrEqual(Math.max(base, previous * 3));
        },
      ),
    );
  });

  it('grows on average and is capped', () => {
    let d = 10;
    const seen: number[] = [];
    for (let i = 0; i < 50; i++) {
      d = decorrelatedJitter(d, 10, 1_000, () => 0.9);
      seen.push(d);
    }
    expect(seen[0]).toBeCloseTo(10 + 0.9 * 20);
    expect(seen.at(-1)).toBe(1_000);
  });
});

describe('RetryBudget', () => {
  it('allows the floor, then only the ratio of traffic', () => {
    let now = 0;
    const budget = new RetryBudget(0.1, 2, () => now);
    expect(budget.tryWithdraw()).toBe(true);
    expect(budget.tryWithdraw()).toBe(true);
    expect(budget.tryWithdraw()).toBe(false);
    expect(budget.exhausted).toBe(1);
    for (let i = 0; i < 10; i++) budget.deposit();
    expect(budget.tryWithdraw()).toBe(true);
    expect(budget.tryWithdraw()).toBe(false);
    now += 1_000; // one second refills minPerSec tokens
    expect(budget.tryWithdraw()).toBe(true);
    expect(budget.tryWithdraw()).toBe(true);
    expect(budget.tryWithdraw()).toBe(false);
  });

  it('is capped so calm periods do not bank unlimited retries', () => {
    const budget = new RetryBudget(0.5, 1, () => 0);
    for (let i = 0; i < 10_000; i++) budget.deposit();
    expect(budget.available).toBeLessThanOrEqual(10 + 50);
  });
});
