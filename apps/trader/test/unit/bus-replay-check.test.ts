import { describe, expect, it } from 'vitest';
import { entryDigest, ReplayCheck } from '../../src/bus/internal/replay-check.js';
import { RetainedRecords } from '../../src/bus/internal/retained-records.js';

const rec = (offset: number) => ({ offset, ts: offset, json: `{"n":${offset}}` });
const d = (offset: number, tag = '') => entryDigest(['t', String(offset), 'd', `${offset}${tag}`]);

describe('RetainedRecords (what a writer re-appends)', () => {
  it('keeps the last `capacity` records in order and slices by offset', () => {
    const r = new RetainedRecords(5);
    expect(r.oldest).toBeUndefined();
    expect(r.covers(1, 1)).toBe(false);
    expect(r.covers(3, 2)).toBe(true); // an empty range
    for (let o = 1; o <= 23; o++) r.add([rec(o)]);
    expect(r.size).toBe(5);
    expect(r.oldest).toBe(19);
    expect(r.covers(19, 23)).toBe(true);
    expect(r.covers(18, 23)).toBe(false);
    expect(r.covers(19, 24)).toBe(false);
    expect(r.slice(20, 23, 2).map((x) => x.offset)).toEqual([20, 21]);
    expect(r.slice(20, 21, 10).map((x) => x.offset)).toEqual([20, 21]);
    expect(r.slice(22, 21, 10)).toEqual([]);
    r.clear();
    expect(r.size).toBe(0);
    expect(r.slice(1, 2, 1)).toEqual([]);
  });

  it('keeps nothing with capacity 0', () => {
    const r = new RetainedRecords(0);
    r.add([rec(1), rec(2)]);
    expect(r.size).toBe(0);
    expect(r.covers(1, 2)).toBe(false);
  });
});

describe('ReplayCheck (a tail reading its delivered records again after a reconnection)', () => {
  const delivered = (c: ReplayCheck, from: number, to: number) => {
    for (let o = from; o <= to; o++) c.delivered(o, d(o));
  };

  it('delivers when not checking; nothing remembered: nothing to re-read', () => {
    const c = new ReplayCheck(10);
    expect(c.rewind(7)).toBe(7);
    expect(c.checking).toBe(false);
    expect(c.check(8, d(8))).toBe('deliver');
  });

  it('identical records come back as seen, then new ones are delivered', () => {
    const c = new ReplayCheck(4);
    delivered(c, 1, 10);
    expect(c.rewind(10)).toBe(6); // remembers 7..10
    expect(c.checking).toBe(true);
    for (let o = 7; o <= 10; o++) expect(c.check(o, d(o))).toBe('seen');
    expect(c.checking).toBe(false);
    expect(c.check(11, d(11))).toBe('deliver');
  });

  it('skips remembered records trimmed from the head of the stream', () => {
    const c = new ReplayCheck(10);
    delivered(c, 1, 5);
    expect(c.rewind(5)).toBe(0);
    expect(c.check(3, d(3))).toBe('seen');
    expect(c.check(4, d(4))).toBe('seen');
    expect(c.check(5, d(5))).toBe('seen');
    expect(c.check(6, d(6))).toBe('deliver');
  });

  it('throws on a record that differs, one that is missing, and a stream that goes on past them', () => {
    const differs = new ReplayCheck(10);
    delivered(differs, 1, 3);
    differs.rewind(3);
    expect(differs.check(1, d(1))).toBe('seen');
    expect(() => differs.check(2, d(2, 'other'))).toThrow(/offset 2 differs/);

    const missing = new ReplayCheck(10);
    delivered(missing, 1, 3);
    missing.rewind(3);
    expect(missing.check(1, d(1))).toBe('seen');
    expect(() => missing.check(3, d(3))).toThrow(/no longer holds offset 2/);

    const past = new ReplayCheck(10);
    delivered(past, 1, 3);
    past.rewind(3);
    expect(past.check(1, d(1))).toBe('seen');
    expect(() => past.check(9, d(9))).toThrow(/no longer holds offsets 2..3/);
  });

  it('forgets everything on clear (a recreated log)', () => {
    const c = new ReplayCheck(10);
    delivered(c, 1, 3);
    c.rewind(3);
    c.clear();
    expect(c.checking).toBe(false);
    expect(c.rewind(3)).toBe(3);
  });

  it('bounds its memory while delivering', () => {
    const c = new ReplayCheck(3);
    delivered(c, 1, 20);
    expect(c.rewind(20)).toBe(17);
  });
});
