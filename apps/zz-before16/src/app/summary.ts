import type { TradingEngine } from '../engine/trading-engine.js';

/** Rounds to 4 decimals; NaN for missing values. */
export function round(n: number | undefined): number {
  return n === undefined || !Number.isFinite(n) ? Number.NaN : Math.round(n * 1e4) / 1e4;
}

/** The end-of-run summary of an engine: trades, PnL, positions, market counters, latency percentiles (ms). */
export function engineSummary(e: TradingEngine, extra: Record<string, unknown>): Record<string, unknown> {
  const t = e.portfolio.totals();
  const pct = (r: { percentiles: (p: number[]) => Record<string, number> }) => {
    const p = r.percentiles([50, 99, 99.9]);
    return { p50: round(p.p50), p99: round(p.p99), p999: round(p.p999) };
  };
  return {
    state: e.state,
    orders: e.counters.ordersSubmitted,
    openOrders: e.orders.openCount,
    fills: e.counters.fills,
    riskRejected: e.counters.riskRejected,
    pnl: {
      net: round(t.net),
      realized: round(t.realized),
      unrealized: round(t.unrealized),
      fees: round(t.fees),
      volume: round(t.volume),
      maxDrawdown: round(t.maxDrawdown),
      wins: t.wins,
      losses: t.losses,
    },
    positions: e.portfolio.snapshots().map((p) => ({ symbol: p.symbol, qty: p.qty, net: round(p.net) })),
    market: { bookEvents: e.counters.bookEvents, trades: e.counters.tradeEvents, gaps: e.counters.gaps },
    latencyMs: {
      tickToDecision: pct(e.latency.tickToDecision),
      tickToJournaled: pct(e.latency.tickToJournaled),
      strategy: pct(e.latency.strategy),
      orderToFill: pct(e.latency.orderToFill),
    },
    strategy: (({ samples, hitRate, decisions }) => ({ samples, hitRate, decisions }))(
      e.strategy.stats() as { samples: number; hitRate: number; decisions: number },
    ),
    ...extra,
  };
}
