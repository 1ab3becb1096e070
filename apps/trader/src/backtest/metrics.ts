import type { PortfolioTotals } from '../portfolio/portfolio.js';
import type { TradingState } from '../risk/kill-switch.js';

/** A point of the equity curve: simulated epoch ms and net PnL (quote currency, after fees, marked to the books). */
export interface EquityPoint {
  t: number;
  net: number;
}

/** The period of the returns Sharpe and Sortino are computed from: one minute of simulated time. */
export const RETURN_PERIOD_MS = 60_000;
/** Periods in a year, to annualize the per-minute ratios (crypto trades every minute of the year). */
const PERIODS_PER_YEAR = (365 * 86_400_000) / RETURN_PERIOD_MS;

/** A backtest's figures. */
export interface BacktestMetrics {
  /** Net PnL at the end: realized + unrealized - fees. */
  netPnl: number;
  realized: number;
  fees: number;
  /** Traded notional. */
  volume: number;
  /**
   * Annualized Sharpe ratio of the per-minute PnL changes (mean / standard deviation x sqrt(525600)); PnL changes
   * rather than percentage returns, since a scalper's capital base is its risk limits. 0 with fewer than 2 minutes.
   */
  sharpe: number;
  /** As {@link sharpe} with the downside deviation (root mean square of the negative changes) as the denominator. */
  sortino: number;
  /** Largest fall of equity from its running peak (the engine's own measure, as the risk rule sees it). */
  maxDrawdown: number;
  /** Orders submitted (journaled `order.submitted`). */
  orders: number;
  /** Fills. */
  trades: number;
  /** Closed round trips and the share of them that made money. */
  roundTrips: number;
  winRate: number;
  /** Orders with at least one fill / orders submitted. */
  fillRatio: number;
  /** Intents refused by risk. */
  riskRejected: number;
  /** Kill switch state at the end. */
  finalState: TradingState;
}

/** Inputs of {@link computeMetrics}. */
export interface MetricsInput {
  curve: readonly EquityPoint[];
  totals: PortfolioTotals;
  submitted: number;
  filledOrders: number;
  riskRejected: number;
  finalState: TradingState;
}

/** The PnL change of each whole minute of the curve (the last sample at or before each minute boundary). */
export function minuteChanges(curve: readonly EquityPoint[]): number[] {
  if (curve.length < 2) return [];
  const t0 = (curve[0] as EquityPoint).t;
  const out: number[] = [];
  let prev = (curve[0] as EquityPoint).net;
  let boundary = t0 + RETURN_PERIOD_MS;
  let last = prev;
  for (const p of curve) {
    while (p.t > boundary) {
      out.push(last - prev);
      prev = last;
      boundary += RETURN_PERIOD_MS;
    }
    last = p.net;
  }
  return out;
}

/** Annualized Sharpe and Sortino of per-period changes (0 when undefined: too few periods or no variation). */
export function riskAdjusted(changes: readonly number[]): { sharpe: number; sortino: number } {
  if (changes.length < 2) return { sharpe: 0, sortino: 0 };
  const mean = changes.reduce((a, b) => a + b, 0) / changes.length;
  const variance = changes.reduce((a, b) => a + (b - mean) ** 2, 0) / (changes.length - 1);
  const downside = Math.sqrt(changes.reduce((a, b) => a + Math.min(0, b) ** 2, 0) / changes.length);
  const annual = Math.sqrt(PERIODS_PER_YEAR);
  return {
    sharpe: variance > 0 ? (mean / Math.sqrt(variance)) * annual : 0,
    sortino: downside > 0 ? (mean / downside) * annual : 0,
  };
}

/** The figures of a run from its equity curve and final state. */
export function computeMetrics(input: MetricsInput): BacktestMetrics {
  const { totals } = input;
  const roundTrips = totals.wins + totals.losses;
  return {
    netPnl: totals.net,
    realized: totals.realized,
    fees: totals.fees,
    volume: totals.volume,
    ...riskAdjusted(minuteChanges(input.curve)),
    maxDrawdown: totals.maxDrawdown,
    orders: input.submitted,
    trades: totals.fills,
    roundTrips,
    winRate: roundTrips === 0 ? 0 : totals.wins / roundTrips,
    fillRatio: input.submitted === 0 ? 0 : input.filledOrders / input.submitted,
    riskRejected: input.riskRejected,
    finalState: input.finalState,
  };
}

/** At most `max` points of a curve, evenly spaced, always keeping the last (the report's sampled curve). */
export function downsample(curve: readonly EquityPoint[], max: number): EquityPoint[] {
  if (curve.length <= max) return [...curve];
  const step = (curve.length - 1) / (max - 1);
  return Array.from({ length: max }, (_, i) => curve[Math.round(i * step)] as EquityPoint);
}
