import { describe, expect, it } from 'vitest';
import { BinanceBookSync } from '../../src/adapters/binance/binance-book-sync.js';
import { OrderBook } from '../../src/model/order-book.js';
import { MarketModel } from '../../src/adapters/sim/market-model.js';
import type { BookEvent, Level } from '../../src/model/types.js';

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

describe('BinanceBookSync', () => {
  it('buffers until the snapshot, drops u <= lastUpdateId, needs U <= lastUpdateId+1 <= u first', () => {
    const s = new BinanceBookSync('BTCUSDT');
    expect(s.needsSnapshot()).toBe(true);
    expect(s.onDiff(diff(90, 95, 89, [[10, 7]]))).toBe('buffered'); // stale once the snapshot is in
    expect(s.onDiff(diff(96, 102, 95, [[9, 0]]))).toBe('buffered'); // straddles 101
    expect(s.onSnapshot(snap)).toBe(true);
    expect(s.isSynced()).toBe(true);
    expect(s.counters.dropped).toBe(1);
    expect(s.book.lastUpdateId).toBe(102);
    expect(s.book.top(5).bids).toEqual([[10, 1]]);
    expect(s.onDiff(diff(103, 104, 102, [], [[11, 0]]))).toBe('applied');
    expect(s.book.bestAsk()).toBe(12);
    expect(s.onDiff(diff(103, 104, 102))).toBe('dropped'); // duplicate
  });

  it('treats a first diff that starts after lastUpdateId+1 as a gap', () => {
    const s = new BinanceBookSync('BTCUSDT');
    expect(s.onSnapshot(snap)).toBe(true);
    expect(s.onDiff(diff(103, 105, 102))).toBe('gap');
    expect(s.needsSnapshot()).toBe(true);
    // A snapshot older than the buffered diffs does not connect: fetch again.
    s.onDiff(diff(110, 112, 109));
    expect(s.onSnapshot(snap)).toBe(false);
    expect(s.needsSnapshot()).toBe(true);
  });

  it('requires pu == previous u (and U == previous u + 1 without pu)', () => {
    const s = new BinanceBookSync('BTCUSDT');
    s.onSnapshot(snap);
    expect(s.onDiff(diff(101, 101, 100))).toBe('applied');
    expect(s.onDiff(diff(102, 103, 101))).toBe('applied');
    expect(s.onDiff(diff(105, 106, 104))).toBe('gap');
    expect(s.counters.gaps).toBe(1);
    expect(s.onDiff(diff(107, 108, 106))).toBe('buffered');
    const spot = new BinanceBookSync('BTCUSDT');
    spot.onSnapshot(snap);
    expect(spot.onDiff(diff(100, 101, undefined))).toBe('applied');
    expect(spot.onDiff(diff(102, 102, undefined))).toBe('applied');
    expect(spot.onDiff(diff(104, 104, undefined))).toBe('gap');
    spot.invalidate();
    expect(spot.counters.gaps).toBe(1);
  });

  it('bounds the buffer', () => {
    const s = new BinanceBookSync('BTCUSDT', 3);
    for (let i = 0; i < 10; i++) s.onDiff(diff(101 + i, 101 + i, 100 + i));
    // Only the last 3 remain: the oldest (108) does not connect to 100.
    expect(s.onSnapshot(snap)).toBe(false);
  });

  it('reproduces the simulator true book exactly from a snapshot and its diffs, through a gap and resync', () => {
    const model = new MarketModel('BTCUSDT', 7, 400);
    const s = new BinanceBookSync('BTCUSDT');
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
        bids: sn.bids.map(([p, q]) => [Number(p), Number(q)] as [number, number]),
        asks: sn.asks.map(([p, q]) => [Number(p), Number(q)] as [number, number]),
      };
    };
    // Diffs before the snapshot are buffered; the snapshot is taken mid-stream.
    for (let i = 0; i < 20; i++) {
      model.step(10);
      const d = model.takeDiff();
      if (d) s.onDiff(toEv(d));
      if (i === 10) expect(s.onSnapshot(parsedSnapshot())).toBe(true);
    }
    let lost = false;
    for (let i = 0; i < 500; i++) {
      model.step(10);
      const d = model.takeDiff();
      if (!d) continue;
      if (i === 200) {
        lost = true; // drop one diff on the wire
        continue;
      }
      const r = s.onDiff(toEv(d));
      if (r === 'gap') {
        expect(lost).toBe(true);
        expect(s.onSnapshot(parsedSnapshot())).toBe(true);
      }
    }
    expect(s.counters.gaps).toBe(1);
    expect(s.book.top(1000)).toEqual(model.book.top(1000));
    expect(s.book.lastUpdateId).toBe(model.lastUpdateId);
    expect(s.book.isValid()).toBe(true);
  });
});
