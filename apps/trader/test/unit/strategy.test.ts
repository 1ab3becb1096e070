import { describe, expect, it } from 'vitest';
import { isTraderError } from '../../src/errors.js';
import { LatencyRecorder } from '../../src/internal/latency-recorder.js';
import { OrderBook } from '../../src/model/order-book.js';
import { computeFeatures, FEATURE_COUNT } from '../../src/strategy/book-features.js';
import { OnlineLogisticRegression } from '../../src/strategy/online-logistic-regression.js';
import { ScalpingStrategy } from '../../src/strategy/scalping-strategy.js';

function book(bidQty: number, askQty: number, bid = 100, ask = 100.1): OrderBook {
  const b = new OrderBook('BTCUSDT');
  b.applySnapshot(
    [
      [bid, bidQty],
      [bid - 0.1, 1],
    ],
    [
      [ask, askQty],
      [ask + 0.1, 1],
    ],
    1,
  );
  return b;
}

describe('computeFeatures', () => {
  it('measures imbalance, micro-price offset and momentum', () => {
    const out = new Float64Array(FEATURE_COUNT);
    expect(computeFeatures(book(3, 1), 0.05, out)).toBe(true);
    expect(out[0]).toBeCloseTo(0.5); // (3-1)/(3+1)
    expect(out[1]).toBeCloseTo((4 - 2) / 6);
    expect(out[2]).toBeGreaterThan(0); // heavy bid pulls the micro-price towards the ask
    expect(out[3]).toBeCloseTo(0.5); // 0.05 / spread 0.1
    expect(computeFeatures(new OrderBook('X'), 0, out)).toBe(false);
  });
});

describe('OnlineLogisticRegression', () => {
  it('learns a separable rule online', () => {
    const m = new OnlineLogisticRegression(2, 0.5, 0);
    let seed = 1;
    const rnd = () => {
      seed = (seed * 16807) % 2147483647;
      return seed / 2147483647 - 0.5;
    };
    for (let i = 0; i < 5000; i++) {
      const x = [rnd(), rnd()];
      m.update(x, (x[0] as number) + 0.5 * (x[1] as number) > 0 ? 1 : 0);
    }
    expect(m.predict([0.4, 0.1])).toBeGreaterThan(0.9);
    expect(m.predict([-0.4, -0.1])).toBeLessThan(0.1);
    expect(m.samples).toBe(5000);
  });
});

describe('ScalpingStrategy', () => {
  it('validates options', () => {
    expect(() => new ScalpingStrategy({ threshold: 0.6 })).toThrow(/threshold/);
    try {
      new ScalpingStrategy({ horizonMs: Number.NaN });
    } catch (e) {
      expect(isTraderError(e) && e.field).toBe('horizonMs');
    }
  });

  it('learns that imbalance predicts the next move, then trades it, recording hit rate and latency', () => {
    const s = new ScalpingStrategy({
      horizonMs: 100,
      warmupSamples: 100,
      threshold: 0.1,
      cooldownMs: 0,
      sampleEveryMs: 10,
      learningRate: 0.2,
    });
    let t = 0;
    let intents = 0;
    let buys = 0;
    let sells = 0;
    // Synthetic market: a heavy bid is followed by an up-move, a heavy ask by a down-move.
    let mid = 100;
    for (let round = 0; round < 400; round++) {
      const up = round % 2 === 0;
      const b = up ? book(5, 1, mid, mid + 0.1) : book(1, 5, mid, mid + 0.1);
      const intent = s.onBook({ symbol: 'BTCUSDT', book: b, position: 0, openQty: 0, now: t });
      if (intent) {
        intents++;
        if (intent.side === 'buy') {
          buys++;
          expect(up).toBe(true);
          expect(intent.type).toBe('limit');
          expect(intent.price).toBe(mid);
        } else {
          sells++;
          expect(up).toBe(false);
        }
      }
      t += 100;
      mid = Number((mid + (up ? 0.1 : -0.1)).toFixed(1));
      s.onBook({ symbol: 'BTCUSDT', book: book(2, 2, mid, mid + 0.1), position: 0, openQty: 0, now: t });
      t += 1;
    }
    const stats = s.stats() as { hitRate: number; samples: number; inferenceLatencyMs: Record<string, number> };
    expect(stats.samples).toBeGreaterThan(100);
    expect(intents).toBeGreaterThan(50);
    expect(buys).toBeGreaterThan(0);
    expect(sells).toBeGreaterThan(0);
    expect(stats.hitRate).toBeGreaterThan(0.8);
    expect(stats.inferenceLatencyMs.p50).toBeGreaterThanOrEqual(0);
  });

  it('flattens a position at market when the signal turns against it, and respects maxLots', () => {
    const s = new ScalpingStrategy({ warmupSamples: 0, threshold: 0.2, cooldownMs: 0 });
    // Untrained model: p = 0.5, no entry; a long position with p <= 0.5 is not flattened (p must be < 0.5).
    expect(s.onBook({ symbol: 'X', book: book(1, 1), position: 0, openQty: 0, now: 0 })).toBeUndefined();
    s.model.bias = -3; // strongly bearish
    const exit = s.onBook({ symbol: 'X', book: book(1, 1), position: 2, openQty: 0, now: 1 });
    expect(exit).toMatchObject({ side: 'sell', type: 'limit' });
    const lot = 500 / 100.05;
    // Already short the maximum: no more sells; long with open orders: no market exit.
    expect(s.onBook({ symbol: 'X', book: book(1, 1), position: -2 * lot, openQty: 0, now: 2 })).toBeUndefined();
    const s2 = new ScalpingStrategy({ warmupSamples: 0, threshold: 0.45, cooldownMs: 0 });
    s2.model.bias = -1; // p ~ 0.27: inside the band, but below 0.5
    expect(s2.onBook({ symbol: 'X', book: book(1, 1), position: 2, openQty: 0, now: 0 })).toMatchObject({
      side: 'sell',
      type: 'market',
      qty: 2,
    });
    expect(s2.onBook({ symbol: 'X', book: book(1, 1), position: 2, openQty: -1, now: 1 })).toBeUndefined();
  });
});

describe('LatencyRecorder', () => {
  it('reports percentiles over a ring window', () => {
    const r = new LatencyRecorder(100);
    expect(Number.isNaN(r.percentiles([50]).p50)).toBe(true);
    for (let i = 1; i <= 200; i++) r.record(i);
    const p = r.percentiles([50, 99, 99.9]);
    expect(p.p50).toBe(150);
    expect(p.p99).toBe(199);
    expect(p.p999).toBe(200);
    expect(r.count).toBe(200);
    r.reset();
    expect(Number.isNaN(r.percentiles([50]).p50)).toBe(true);
  });
});
