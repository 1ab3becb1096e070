import { describe, expect, it } from 'vitest';
import type { Fill, Side } from '../../src/model/types.js';
import { Portfolio } from '../../src/portfolio/portfolio.js';

let n = 0;
const fill = (symbol: string, side: Side, qty: number, price: number, fee = 0): Fill => ({
  fillId: `f-${++n}`,
  clientOrderId: 'o',
  symbol,
  side,
  qty,
  price,
  fee,
  liquidity: 'taker',
  ts: 0,
});

describe('Portfolio', () => {
  it('averages entries, realizes on reduction, keeps fees apart and marks unrealized', () => {
    const p = new Portfolio();
    p.applyFill(fill('BTC', 'buy', 1, 100, 0.1));
    p.applyFill(fill('BTC', 'buy', 1, 110, 0.1));
    expect(p.snapshot('BTC')).toMatchObject({ qty: 2, avgPrice: 105, realized: 0 });
    p.mark('BTC', 120);
    expect(p.snapshot('BTC').unrealized).toBeCloseTo(30);
    p.applyFill(fill('BTC', 'sell', 0.5, 120, 0.05));
    const s = p.snapshot('BTC');
    expect(s.qty).toBe(1.5);
    expect(s.avgPrice).toBe(105);
    expect(s.realized).toBeCloseTo(7.5);
    expect(s.fees).toBeCloseTo(0.25);
    expect(s.net).toBeCloseTo(7.5 - 0.25 + 22.5);
    expect(s.volume).toBeCloseTo(100 + 110 + 60);
  });

  it('closes and reopens when a fill crosses zero, and counts round trips as wins or losses after fees', () => {
    const p = new Portfolio();
    p.applyFill(fill('ETH', 'buy', 1, 100));
    p.applyFill(fill('ETH', 'sell', 3, 105)); // +5 realized, now short 2 at 105
    expect(p.snapshot('ETH')).toMatchObject({ qty: -2, avgPrice: 105, realized: 5 });
    p.applyFill(fill('ETH', 'buy', 2, 107, 1)); // -4 realized, -1 fee: a losing trip
    expect(p.snapshot('ETH')).toMatchObject({ qty: 0, avgPrice: 0, realized: 1 });
    expect(p.totals()).toMatchObject({ wins: 1, losses: 1, fills: 3 });
    p.applyFill(fill('ETH', 'buy', 1, 100, 0.5));
    p.applyFill(fill('ETH', 'sell', 1, 100.2, 0.5)); // +0.2 gross, -1 fees: a loss
    expect(p.totals().losses).toBe(2);
  });

  it('totals over symbols with exposure, equity peak and drawdown', () => {
    const p = new Portfolio();
    p.applyFill(fill('A', 'buy', 1, 100));
    p.applyFill(fill('B', 'sell', 2, 50));
    p.mark('A', 110);
    p.mark('B', 50);
    expect(p.totals()).toMatchObject({ unrealized: 10, exposure: 210, peakEquity: 10, drawdown: 0 });
    p.mark('A', 95);
    expect(p.totals().drawdown).toBeCloseTo(15);
    expect(p.totals().maxDrawdown).toBeCloseTo(15);
    p.mark('A', 105);
    expect(p.totals().drawdown).toBeCloseTo(5);
    expect(p.totals().maxDrawdown).toBeCloseTo(15);
    p.mark('Z', 1);
    p.mark('A', Number.NaN);
    expect(p.position('A')).toBe(1);
    expect(p.position('Z')).toBe(0);
    expect(p.snapshots().map((s) => s.symbol)).toEqual(['A', 'B']);
  });
});
