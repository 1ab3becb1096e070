import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { EwmaDetector, MadDetector } from '../../src/index.js';

describe('EwmaDetector', () => {
  it('stays quiet during warm-up, flags a spike after it', () => {
    const d = new EwmaDetector({ warmup: 10, threshold: 3 });
    const flags = [];
    for (let i = 0; i < 10; i++) flags.push(d.update(100 + (i % 2)));
    expect(flags.every((f) => !f)).toBe(true);
    expect(d.update(100)).toBe(false);
    expect(d.update(200)).toBe(true);
    expect(d.score).toBeGreaterThan(3);
    expect(d.count).toBe(12);
  });

  it('respects direction and the absolute floor', () => {
    const up = new EwmaDetector({ warmup: 5, direction: 'up' });
    const down = new EwmaDetector({ warmup: 5, direction: 'down' });
    const floored = new EwmaDetector({ warmup: 5, minDeviation: 50 });
    for (let i = 0; i < 20; i++) {
      const x = 10 + (i % 3) * 0.1;
      up.update(x);
      down.update(x);
      floored.update(x);
    }
    expect(up.update(0)).toBe(false);
    expect(down.update(0)).toBe(true);
    expect(floored.update(30)).toBe(false); // far in z, but within the absolute floor
    expect(floored.update(100)).toBe(true);
  });

  it('ignores non-finite input and resets', () => {
    const d = new EwmaDetector({ warmup: 1 });
    expect(d.update(Number.NaN)).toBe(false);
    expect(d.count).toBe(0);
    d.update(1);
    d.update(1);
    // A flat series has zero variance: any change is infinitely surprising.
    expect(d.update(2)).toBe(true);
    d.reset();
    expect(d.count).toBe(0);
  });

  it('never flags a constant series (property)', () => {
    fc.assert(
      fc.property(fc.double({ min: -1e6, max: 1e6, noNaN: true }), fc.integer({ min: 1, max: 200 }), (x, n) => {
        const d = new EwmaDetector({ warmup: 1 });
        for (let i = 0; i < n; i++) if (d.update(x)) return false;
        return true;
      }),
    );
  });
});

describe('MadDetector', () => {
  it('is robust to a previous outlier in the window and flags a new one', () => {
    const d = new MadDetector({ window: 20, warmup: 10 });
    const base = [10, 11, 9, 10, 12, 10, 11, 9, 10, 11];
    for (const x of base) expect(d.update(x)).toBe(false);
    expect(d.update(60)).toBe(true);
    // The outlier is in the window now; the median/MAD barely move, so normal values stay normal.
    expect(d.update(10)).toBe(false);
    expect(d.update(58)).toBe(true);
  });

  it('handles MAD = 0 with the floor, and direction', () => {
    const d = new MadDetector({ window: 5, minDeviation: 2, direction: 'down' });
    for (let i = 0; i < 5; i++) d.update(7);
    expect(d.update(8)).toBe(false); // up is ignored
    expect(d.update(6)).toBe(false); // below the floor
    expect(d.update(1)).toBe(true);
    expect(d.score).toBe(Number.NEGATIVE_INFINITY);
    d.reset();
    expect(d.count).toBe(0);
  });

  it('uses constant memory: count saturates at the window', () => {
    const d = new MadDetector({ window: 10 });
    for (let i = 0; i < 1000; i++) d.update(Math.sin(i));
    expect(d.count).toBe(10);
  });
});
