import { describe, expect, it } from 'vitest';
import { LatencyHistogram } from '../../src/internal/latency-histogram.js';

describe('LatencyHistogram', () => {
  it('reports zeros when empty', () => {
    expect(new LatencyHistogram().summary()).toEqual({ count: 0, p50: 0, p90: 0, p99: 0, max: 0 });
  });

  it('gives percentiles within the bucket resolution (about 25%) and never above max', () => {
    const h = new LatencyHistogram();
    for (let i = 1; i <= 1_000; i++) h.record(i / 100); // 0.01 .. 10 ms, uniform
    const s = h.summary();
    expect(s.count).toBe(1_000);
    expect(s.p50).toBeGreaterThanOrEqual(5 * 0.99);
    expect(s.p50).toBeLessThanOrEqual(5 * 1.26);
    expect(s.p99).toBeGreaterThanOrEqual(9.9 * 0.99);
    expect(s.p99).toBeLessThanOrEqual(10);
    expect(s.max).toBe(10);
    h.record(0); // sub-microsecond goes to the first bucket
    h.record(10 * 60 * 60 * 1000); // ten hours: clamped to the last bucket
    expect(h.summary().max).toBe(36_000_000);
  });

  it('halves its counts past the decay threshold so percentiles follow recent samples', () => {
    const h = new LatencyHistogram();
    for (let i = 0; i < 60_000; i++) h.record(100);
    for (let i = 0; i < 140_000; i++) h.record(0.01);
    expect(h.percentile(50)).toBeLessThan(0.02);
    expect(h.count).toBe(200_000);
  });
});
