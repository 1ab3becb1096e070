import { describe, expect, it } from 'vitest';
import { Histogram } from '../../src/internal/histogram.js';
import { StatementCache } from '../../src/internal/statement-cache.js';
import { OTHER_STATEMENT, QueryStatsRegistry } from '../../src/query-stats.js';

describe('Histogram', () => {
  it('estimates percentiles within ~5%', () => {
    const h = new Histogram();
    for (let i = 1; i <= 1000; i++) h.record(i / 10);
    expect(h.count).toBe(1000);
    expect(h.percentile(50)).toBeGreaterThan(50 * 0.95);
    expect(h.percentile(50)).toBeLessThan(50 * 1.06);
    expect(h.percentile(99)).toBeGreaterThan(99 * 0.95);
    expect(h.percentile(99)).toBeLessThanOrEqual(100);
    expect(h.max).toBe(100);
    h.reset();
    expect(h.percentile(99)).toBe(0);
  });

  it('handles tiny and huge values', () => {
    const h = new Histogram();
    h.record(0);
    h.record(10_000_000);
    expect(h.percentile(1)).toBeLessThanOrEqual(0.01);
    expect(h.percentile(100)).toBe(10_000_000);
  });
});

describe('QueryStatsRegistry', () => {
  it('counts calls, errors, rows and time per statement', () => {
    const r = new QueryStatsRegistry(10);
    const e = r.entry('select ?');
    e.record(2, 1, false);
    e.record(4, 0, true);
    const [s] = r.snapshot();
    expect(s).toMatchObject({ statement: 'select ?', calls: 2, errors: 1, rows: 1, totalMs: 6, meanMs: 3, maxMs: 4 });
    expect(s!.p99Ms).toBeGreaterThan(3.5);
  });

  it('bounds memory: beyond the limit statements share <other>', () => {
    const r = new QueryStatsRegistry(2);
    r.entry('a').record(1, 0, false);
    r.entry('b').record(1, 0, false);
    r.entry('c').record(1, 0, false);
    r.entry('d').record(1, 0, false);
    expect(r.size).toBe(3);
    expect(r.snapshot().find((s) => s.statement === OTHER_STATEMENT)?.calls).toBe(2);
    r.reset();
    expect(r.size).toBe(0);
  });

  it('statement cache gives stable prepared names by text', () => {
    const r = new QueryStatsRegistry(10);
    const c = new StatementCache(r);
    const a = c.lookup('select $1::int');
    expect(c.lookup('select $1::int')).toBe(a);
    expect(a.preparedName).toMatch(/^cs_[0-9a-f]{20}$/);
    expect(c.lookup('select $1::text').preparedName).not.toBe(a.preparedName);
    c.clear();
    expect(c.lookup('select $1::int').preparedName).toBe(a.preparedName);
  });
});
