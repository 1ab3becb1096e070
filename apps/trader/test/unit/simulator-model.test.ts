import { describe, expect, it } from 'vitest';
import { instrumentFor, MarketModel } from '../../src/adapters/sim/market-model.js';
import { Prng } from '../../src/internal/prng.js';

describe('MarketModel', () => {
  it('is deterministic for a seed and keeps a valid book with contiguous update ids', () => {
    const a = new MarketModel('ETHUSDT', 3, 300);
    const b = new MarketModel('ETHUSDT', 3, 300);
    let prev = a.lastUpdateId;
    for (let i = 0; i < 1000; i++) {
      a.step(10);
      b.step(10);
      const d = a.takeDiff();
      b.takeDiff();
      a.takeTrades();
      b.takeTrades();
      if (d) {
        expect(d.prevLastId).toBe(prev);
        expect(d.firstId).toBe(prev + 1);
        expect(d.lastId).toBeGreaterThanOrEqual(d.firstId);
        prev = d.lastId;
      }
      expect(a.book.isValid()).toBe(true);
    }
    expect(a.book.top(50)).toEqual(b.book.top(50));
    const snap = a.snapshot(5);
    expect(snap.lastUpdateId).toBe(prev);
    expect(snap.bids).toHaveLength(5);
    expect(snap.bids[0]?.[0]).toMatch(/^\d+\.\d{2}$/);
    expect(a.book.size().bids).toBeLessThanOrEqual(200);
  });

  it('produces bursty order flow (over-dispersed counts) that moves the price, with regime switches', () => {
    const m = new MarketModel('BTCUSDT', 11, 200);
    const counts: number[] = [];
    const regimes = new Set<string>();
    const start = m.book.mid();
    let trades = 0;
    for (let i = 0; i < 6000; i++) {
      const before = m.lastUpdateId;
      m.step(10);
      m.takeDiff();
      trades += m.takeTrades().length;
      counts.push(m.lastUpdateId - before);
      const r = m.regime();
      regimes.add(`${r.volatile}/${r.wideSpread}`);
    }
    const mean = counts.reduce((s, c) => s + c, 0) / counts.length;
    const variance = counts.reduce((s, c) => s + (c - mean) ** 2, 0) / counts.length;
    expect(variance / mean).toBeGreaterThan(1.5); // a plain Poisson process has variance/mean = 1
    expect(regimes.size).toBeGreaterThanOrEqual(3);
    expect(trades).toBeGreaterThan(100);
    expect(m.book.mid()).not.toBe(start);
  });

  it('keeps a finite, bounded, uncrossed book under extreme order flow and long steps', () => {
    // Thousands of events per step sweep whole sides of the book; the model must re-seed them and stay valid
    // (an emptied side once seeded NaN prices, and the depth bound then looped forever).
    for (const symbol of ['BTCUSDT', 'SOLUSDT', 'XYZUSDT']) {
      for (let seed = 1; seed <= 5; seed++) {
        const model = new MarketModel(symbol, seed, 3_000);
        for (let i = 0; i < 40; i++) {
          model.step(i % 2 === 0 ? 250 : 1_000);
          model.takeDiff();
          model.takeTrades();
          const { bids, asks } = model.book;
          for (const side of [bids, asks]) {
            expect(side.prices.length).toBeGreaterThanOrEqual(25);
            expect(side.prices.length).toBeLessThanOrEqual(200);
            expect(side.prices.every(Number.isFinite)).toBe(true);
            expect(side.qtys.every((q) => Number.isFinite(q) && q > 0)).toBe(true);
          }
          expect(model.book.bestBid()).toBeLessThan(model.book.bestAsk());
        }
      }
    }
  }, 30_000); // CPU-bound: about 3 s alone, several times that on a loaded 2-core machine

  it('has specs for known symbols and a generic one otherwise', () => {
    expect(instrumentFor('BTCUSDT').tick).toBe(0.1);
    expect(instrumentFor('DOGEUSDT')).toMatchObject({ symbol: 'DOGEUSDT', price: 100 });
  });
});

describe('Prng', () => {
  it('draws in range with plausible moments', () => {
    const r = new Prng(5);
    let s = 0;
    let p = 0;
    for (let i = 0; i < 20_000; i++) {
      const u = r.next();
      expect(u).toBeGreaterThanOrEqual(0);
      expect(u).toBeLessThan(1);
      s += r.normal();
      p += r.poisson(3);
    }
    expect(Math.abs(s / 20_000)).toBeLessThan(0.05);
    expect(p / 20_000).toBeCloseTo(3, 1);
    expect(r.poisson(0)).toBe(0);
    expect(r.poisson(100)).toBeGreaterThan(50);
    expect(r.geometric(0.5)).toBeGreaterThanOrEqual(0);
    expect(r.logNormal(2, 0)).toBe(2);
  });
});
