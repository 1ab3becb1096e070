import { describe, expect, it } from 'vitest';
import { MarketModel } from '../../src/adapters/sim/market-model.js';
import { OrderBook } from '../../src/model/order-book.js';
import type { BookEvent, Level } from '../../src/model/types.js';
import { VenueBook } from '../../src/model/venue-book.js';

function diff(U: number, u: number, pu: number | undefined, bids: Level[] = [], asks: Level[] = []): BookEvent {
  return {
    kind: 'book',
    venue: 'binance',
    symbol: 'BTCUSDT',
    snapshot: false,
    bids,
    asks,
    firstSeq: U,
    lastSeq: u,
    exchTs: 1,
    ...(pu === undefined ? {} : { prevSeq: pu }),
  };
}

const snap = {
  lastUpdateId: 100,
  bids: [[10, 1] as [number, number], [9, 2] as [number, number]],
  asks: [[11, 1] as [number, number], [12, 2] as [number, number]],
};

describe('OrderBook', () => {
  it('keeps both sides sorted best-first and removes zero levels', () => {
    const b = new OrderBook('X');
    b.applyLevels(
      [
        [9, 1],
        [10, 2],
        [8, 3],
      ],
      [
        [12, 1],
        [11, 2],
        [13, 3],
      ],
    );
    expect(b.top(5).bids.map((l) => l[0])).toEqual([10, 9, 8]);
    expect(b.top(5).asks.map((l) => l[0])).toEqual([11, 12, 13]);
    b.applyLevels([[10, 0]], [[11, 5]]);
    expect(b.bestBid()).toBe(9);
    expect(b.top(1).asks).toEqual([[11, 5]]);
    expect(b.mid()).toBe(10);
    expect(b.isValid()).toBe(true);
    b.applyLevels([[7, 0]], []); // removing an absent level is a no-op
    expect(b.size()).toEqual({ bids: 2, asks: 3 });
    b.applySnapshot([], [[5, 1]], 3);
    expect(b.isValid()).toBe(false);
    expect(Number.isNaN(b.bestBid())).toBe(true);
  });
});

describe('VenueBook', () => {
  it('ignores diffs until a snapshot, then applies them and drops the ones the snapshot covers', () => {
    const v = new VenueBook('BTCUSDT');
    expect(v.isSynced()).toBe(false);
    expect(v.applyDiff(diff(96, 99, 95, [[10, 7]]))).toBe('unsynced'); // the data client buffers, not the book
    v.applySnapshot(snap, 5);
    expect(v.isSynced()).toBe(true);
    expect(v.book.exchTs).toBe(5);
    expect(v.applyDiff(diff(90, 100, 89, [[10, 7]]))).toBe('stale'); // raced the snapshot
    expect(v.applyDiff(diff(96, 102, 95, [[9, 0]]))).toBe('applied'); // straddles lastUpdateId + 1
    expect(v.book.lastUpdateId).toBe(102);
    expect(v.book.top(5).bids).toEqual([[10, 1]]);
    expect(v.applyDiff(diff(103, 104, 102, [], [[11, 0]]))).toBe('applied');
    expect(v.book.bestAsk()).toBe(12);
    expect(v.applyDiff(diff(103, 104, 102))).toBe('stale');
    expect(v.counters).toMatchObject({ applied: 2, stale: 2, unsynced: 1, snapshots: 1 });
  });

  it('stops being synced on a gap until the next snapshot, and takes in-stream snapshots', () => {
    const v = new VenueBook('BTCUSDT');
    v.applySnapshot(snap);
    v.invalidate();
    v.invalidate(); // counted once
    expect(v.isSynced()).toBe(false);
    expect(v.applyDiff(diff(101, 101, 100, [[10, 5]]))).toBe('unsynced');
    v.applySnapshotEvent({ ...diff(0, 7, undefined, [[20, 1]], [[21, 1]]), snapshot: true, exchTs: 9 });
    expect(v.isSynced()).toBe(true);
    expect(v.book.top(5)).toEqual({ bids: [[20, 1]], asks: [[21, 1]] });
    expect(v.book.lastUpdateId).toBe(7);
    expect(v.book.exchTs).toBe(9);
    expect(v.counters).toMatchObject({ invalidations: 1, snapshots: 2 });
  });

  it('reproduces the simulator true book exactly from a snapshot taken mid-stream and the diffs around it', () => {
    const model = new MarketModel('BTCUSDT', 7, 400);
    const v = new VenueBook('BTCUSDT');
    const toEv = (d: NonNullable<ReturnType<MarketModel['takeDiff']>>): BookEvent =>
      diff(
        d.firstId,
        d.lastId,
        d.prevLastId,
        d.bids.map(([p, q]) => [Number(p), Number(q)]),
        d.asks.map(([p, q]) => [Number(p), Number(q)]),
      );
    const parsedSnapshot = () => {
      const sn = model.snapshot(1000);
      return {
        lastUpdateId: sn.lastUpdateId,
        bids: sn.bids.map(([p, q]) => [Number(p), Number(q)] as const),
        asks: sn.asks.map(([p, q]) => [Number(p), Number(q)] as const),
      };
    };
    // The snapshot is taken mid-stream, between a step and its diff; an older diff is delivered after it too.
    let held: BookEvent | undefined;
    let covered = 0;
    for (let i = 0; i < 520; i++) {
      model.step(10);
      if (i === 10) {
        v.applySnapshot(parsedSnapshot());
        if (held) {
          expect(v.applyDiff(held)).toBe('stale');
          covered++;
        }
      }
      const d = model.takeDiff();
      if (!d) continue;
      if (i === 9) held = toEv(d);
      else if (v.applyDiff(toEv(d)) === 'stale') covered++;
    }
    expect(covered).toBeGreaterThan(0);
    expect(v.counters.stale).toBe(covered);
    expect(v.book.top(1000)).toEqual(model.book.top(1000));
    expect(v.book.lastUpdateId).toBe(model.lastUpdateId);
    expect(v.book.isValid()).toBe(true);
  });
});
