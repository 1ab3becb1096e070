import { describe, expect, it } from 'vitest';
import { computeMetrics, downsample, minuteChanges, riskAdjusted } from '../../src/backtest/metrics.js';
import type { PortfolioTotals } from '../../src/portfolio/portfolio.js';

const MIN = 60_000;

describe('backtest metrics', () => {
  it('takes the PnL change of each whole minute from the sampled curve', () => {
    const curve = [
      { t: 0, net: 0 },
      { t: 30_000, net: 5 },
      { t: MIN, net: 10 },
      { t: 90_000, net: 4 },
      { t: 2 * MIN, net: 7 },
      { t: 2 * MIN + 10, net: 100 },
    ];
    // Minute 1 ends at the sample at 60 s (10), minute 2 at the sample at 120 s (7); the partial third is left out.
    expect(minuteChanges(curve)).toEqual([10, -3]);
  });

  it('annualizes Sharpe and Sortino from per-minute changes', () => {
    const changes = [1, -1, 2, 0];
    const mean = 0.5;
    const sd = Math.sqrt(((0.5 ** 2 + 1.5 ** 2 + 1.5 ** 2 + 0.5 ** 2) as number) / 3);
    const downside = Math.sqrt(1 / 4);
    const annual = Math.sqrt(525_600);
    const r = riskAdjusted(changes);
    expect(r.sharpe).toBeCloseTo((mean / sd) * annual, 9);
    expect(r.sortino).toBeCloseTo((mean / downside) * annual, 9);
    expect(riskAdjusted([3])).toEqual({ sharpe: 0, sortino: 0 });
    expect(riskAdjusted([1, 1, 1]).sortino).toBe(0);
  });

  it('computes win rate, fill ratio and the rest from the totals', () => {
    const totals: PortfolioTotals = {
      realized: 12,
      fees: 2,
      unrealized: 1,
      net: 11,
      volume: 1000,
      fills: 9,
      wins: 3,
      losses: 1,
      exposure: 0,
      peakEquity: 15,
      drawdown: 4,
      maxDrawdown: 6,
    };
    const m = computeMetrics({
      curve: [],
      totals,
      submitted: 10,
      filledOrders: 8,
      riskRejected: 2,
      finalState: 'RUNNING',
    });
    expect(m).toMatchObject({
      netPnl: 11,
      fees: 2,
      maxDrawdown: 6,
      orders: 10,
      trades: 9,
      roundTrips: 4,
      winRate: 0.75,
      fillRatio: 0.8,
    });
  });

  it('downsamples evenly and keeps the ends', () => {
    const curve = Array.from({ length: 1001 }, (_, i) => ({ t: i, net: i }));
    const d = downsample(curve, 11);
    expect(d.map((p) => p.t)).toEqual([0, 100, 200, 300, 400, 500, 600, 700, 800, 900, 1000]);
    expect(downsample(curve.slice(0, 5), 11)).toHaveLength(5);
  });
});
