import type { Fill } from '../model/types.js';

/** Position and PnL of one symbol. */
export interface PositionSnapshot {
  symbol: string;
  /** Signed base quantity. */
  qty: number;
  /** Average entry price of the open position (0 when flat). */
  avgPrice: number;
  /** Realized PnL before fees. */
  realized: number;
  /** Fees paid. */
  fees: number;
  /** Unrealized PnL at the last mark. */
  unrealized: number;
  /** Last mark price. */
  mark: number;
  /** realized - fees + unrealized. */
  net: number;
  /** Traded volume in quote currency. */
  volume: number;
  fills: number;
}

/** Per-symbol accounting state. */
export interface PositionState {
  qty: number;
  avgPrice: number;
  realized: number;
  fees: number;
  mark: number;
  volume: number;
  fills: number;
  /** PnL (after fees) of the round trip in progress. */
  tripPnl: number;
}

/** Round trips, wins and losses, equity and drawdown over all symbols. */
export interface PortfolioTotals {
  realized: number;
  fees: number;
  unrealized: number;
  net: number;
  volume: number;
  fills: number;
  wins: number;
  losses: number;
  /** Gross exposure, quote currency. */
  exposure: number;
  peakEquity: number;
  drawdown: number;
  maxDrawdown: number;
}

/** The serialized form of a {@link Portfolio}. */
export interface PortfolioState {
  positions: ({ symbol: string } & PositionState)[];
  wins: number;
  losses: number;
  peakEquity: number;
  maxDrawdown: number;
}

const EPS = 1e-12;

/**
 * Positions with average-price accounting: fills that extend a position move its average price, fills that
 * reduce it realize `(price - avg) * closed`; a fill that crosses zero closes and reopens. Fees are kept apart.
 * A round trip ends when a position returns to flat (or flips): a win when its PnL after fees is positive.
 * Equity is `realized - fees + unrealized`; drawdown is measured from its running peak.
 */
export class Portfolio {
  private readonly positions = new Map<string, PositionState>();
  private wins = 0;
  private losses = 0;
  private peakEquity = 0;
  private maxDrawdown = 0;
  /** Symbols whose restored position waits for its first live mark (see {@link excludeRestartJumps}). */
  private readonly awaitingMark = new Set<string>();

  private pos(symbol: string): PositionState {
    let p = this.positions.get(symbol);
    if (!p) {
      p = { qty: 0, avgPrice: 0, realized: 0, fees: 0, mark: 0, volume: 0, fills: 0, tripPnl: 0 };
      this.positions.set(symbol, p);
    }
    return p;
  }

  /** An independent copy (for computing positions inside a transaction that may be retried). */
  clone(): Portfolio {
    const copy = new Portfolio();
    for (const [k, v] of this.positions) copy.positions.set(k, { ...v });
    copy.wins = this.wins;
    copy.losses = this.losses;
    copy.peakEquity = this.peakEquity;
    copy.maxDrawdown = this.maxDrawdown;
    return copy;
  }

  /** A plain, JSON-safe copy of the state (read-model snapshots). */
  toJSON(): PortfolioState {
    return {
      positions: [...this.positions].map(([symbol, p]) => ({ symbol, ...p })),
      wins: this.wins,
      losses: this.losses,
      peakEquity: this.peakEquity,
      maxDrawdown: this.maxDrawdown,
    };
  }

  /** Rebuilds a portfolio from {@link toJSON}. */
  static fromJSON(state: PortfolioState): Portfolio {
    const p = new Portfolio();
    for (const { symbol, ...rest } of state.positions) p.positions.set(symbol, { ...rest });
    p.wins = state.wins;
    p.losses = state.losses;
    p.peakEquity = state.peakEquity;
    p.maxDrawdown = state.maxDrawdown;
    return p;
  }

  /** Signed position of a symbol. */
  position(symbol: string): number {
    return this.positions.get(symbol)?.qty ?? 0;
  }

  /** Applies a fill. */
  applyFill(fill: Fill): void {
    const p = this.pos(fill.symbol);
    const signed = fill.side === 'buy' ? fill.qty : -fill.qty;
    p.fees += fill.fee;
    p.volume += fill.qty * fill.price;
    p.fills++;
    p.tripPnl -= fill.fee;
    if (p.mark === 0) p.mark = fill.price;
    if (p.qty === 0 || Math.sign(p.qty) === Math.sign(signed)) {
      const qty = p.qty + signed;
      p.avgPrice = (p.avgPrice * Math.abs(p.qty) + fill.price * fill.qty) / Math.abs(qty);
      p.qty = qty;
    } else {
      const closed = Math.min(Math.abs(p.qty), fill.qty);
      const pnl = (fill.price - p.avgPrice) * closed * Math.sign(p.qty);
      p.realized += pnl;
      p.tripPnl += pnl;
      const remaining = p.qty + signed;
      if (Math.abs(remaining) < EPS || Math.sign(remaining) !== Math.sign(p.qty)) {
        if (p.tripPnl > 0) this.wins++;
        else this.losses++;
        p.tripPnl = 0;
      }
      if (Math.abs(remaining) < EPS) {
        p.qty = 0;
        p.avgPrice = 0;
      } else if (Math.sign(remaining) !== Math.sign(p.qty)) {
        p.qty = remaining;
        p.avgPrice = fill.price;
      } else {
        p.qty = remaining;
      }
    }
    this.updateEquity();
  }

  /**
   * After a restart whose venue did not keep its state (the paper venue, a fresh simulator): the positions restored
   * from the journal are marked at old prices, and the first live price of a symbol may be far from them. That
   * first mark moves the equity peak by as much as it moves the equity, so the jump counts in PnL but not as
   * drawdown; from the second mark on, moves count as usual.
   */
  excludeRestartJumps(): void {
    for (const [symbol, p] of this.positions) if (p.qty !== 0) this.awaitingMark.add(symbol);
  }

  /** Marks a symbol to a price (mid) for unrealized PnL and drawdown. */
  mark(symbol: string, price: number): void {
    if (!Number.isFinite(price)) return;
    const p = this.positions.get(symbol);
    if (!p) return;
    if (this.awaitingMark.delete(symbol) && p.qty !== 0) {
      const before = this.totals(false).net;
      p.mark = price;
      this.peakEquity += this.totals(false).net - before;
      return;
    }
    p.mark = price;
    if (p.qty !== 0) this.updateEquity();
  }

  private updateEquity(): void {
    const equity = this.totals(false).net;
    if (equity > this.peakEquity) this.peakEquity = equity;
    const dd = this.peakEquity - equity;
    if (dd > this.maxDrawdown) this.maxDrawdown = dd;
  }

  /** One symbol's position. */
  snapshot(symbol: string): PositionSnapshot {
    const p = this.pos(symbol);
    const unrealized = p.qty === 0 ? 0 : (p.mark - p.avgPrice) * p.qty;
    return {
      symbol,
      qty: p.qty,
      avgPrice: p.avgPrice,
      realized: p.realized,
      fees: p.fees,
      unrealized,
      mark: p.mark,
      net: p.realized - p.fees + unrealized,
      volume: p.volume,
      fills: p.fills,
    };
  }

  /** Every symbol with a position or a fill. */
  snapshots(): PositionSnapshot[] {
    return [...this.positions.keys()].sort().map((s) => this.snapshot(s));
  }

  /** Totals over all symbols. */
  totals(includeDrawdown = true): PortfolioTotals {
    const t: PortfolioTotals = {
      realized: 0,
      fees: 0,
      unrealized: 0,
      net: 0,
      volume: 0,
      fills: 0,
      wins: this.wins,
      losses: this.losses,
      exposure: 0,
      peakEquity: this.peakEquity,
      drawdown: 0,
      maxDrawdown: this.maxDrawdown,
    };
    for (const [symbol] of this.positions) {
      const s = this.snapshot(symbol);
      t.realized += s.realized;
      t.fees += s.fees;
      t.unrealized += s.unrealized;
      t.volume += s.volume;
      t.fills += s.fills;
      t.exposure += Math.abs(s.qty) * s.mark;
    }
    t.net = t.realized - t.fees + t.unrealized;
    if (includeDrawdown) t.drawdown = Math.max(0, this.peakEquity - t.net);
    return t;
  }
}
