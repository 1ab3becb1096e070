import type { Registry } from 'prom-client';
import { invalidOption } from './errors.js';
import { ChildCache } from './internal/child-cache.js';
import { type CounterChild, FastCounter } from './internal/fast-counter.js';
import { FastGauge, type GaugeChild } from './internal/fast-gauge.js';
import type { FastChild, FastMetric } from './internal/fast-metric.js';

/** Where business metrics are registered. */
export interface BusinessMetricsOptions {
  /** The prom-client registry. */
  registry: Registry;
  /** Metric name prefix. @default '' */
  prefix?: string;
}

/** One fill or closed trade for {@link TradingMetrics.recordTrade}. */
export interface TradeRecord {
  strategy: string;
  symbol: string;
  side: 'buy' | 'sell';
  /** Base quantity (> 0). */
  quantity: number;
  /** Price in quote currency (> 0). */
  price: number;
  /** Realized PnL of this trade in quote currency, if it closed (part of) a position. */
  realizedPnl?: number;
  /** Fee in quote currency, subtracted from realized PnL. @default 0 */
  fee?: number;
}

function checkName(value: unknown, field: string): string {
  if (typeof value !== 'string' || value === '') throw invalidOption(field, 'must be a non-empty string');
  return value;
}

function checkNumber(value: unknown, field: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) throw invalidOption(field, 'must be a finite number');
  return value;
}

/**
 * Trading metrics with cached label children (no allocation per update once a strategy/symbol was seen):
 * - `cryptoscalp_trading_realized_pnl{strategy,symbol}` (gauge, cumulative, quote currency)
 * - `cryptoscalp_trading_unrealized_pnl{strategy,symbol}` (gauge)
 * - `cryptoscalp_trading_volume_total{strategy,symbol}` (counter, quote notional)
 * - `cryptoscalp_trading_trades_total{strategy,symbol,side}` (counter)
 * - `cryptoscalp_trading_trade_outcomes_total{strategy,outcome}` (counter; win, loss, breakeven)
 * - `cryptoscalp_trading_win_ratio{strategy}` (gauge; wins / (wins + losses))
 * - `cryptoscalp_trading_equity{strategy}`, `cryptoscalp_trading_drawdown_ratio{strategy}` and
 *   `cryptoscalp_trading_max_drawdown_ratio{strategy}` (gauges; drawdown from the equity peak)
 * - `cryptoscalp_trading_exposure{strategy,symbol}` (gauge; signed notional)
 */
export class TradingMetrics {
  private readonly realized: FastGauge;
  private readonly unrealized: FastGauge;
  private readonly volume: FastCounter;
  private readonly trades: FastCounter;
  private readonly outcomes: FastCounter;
  private readonly winRatio: FastGauge;
  private readonly equity: FastGauge;
  private readonly drawdown: FastGauge;
  private readonly maxDrawdown: FastGauge;
  private readonly exposure: FastGauge;
  private readonly all: FastMetric<FastChild>[];
  private readonly pairGauges: ChildCache<GaugeChild>;
  private readonly unrealizedChildren: ChildCache<GaugeChild>;
  private readonly exposureChildren: ChildCache<GaugeChild>;
  private readonly volumeChildren: ChildCache<CounterChild>;
  private readonly tradeChildren: ChildCache<CounterChild>;
  private readonly strategies = new Map<
    string,
    {
      win: CounterChild;
      loss: CounterChild;
      even: CounterChild;
      ratio: GaugeChild;
      peak: number;
      eq: GaugeChild;
      dd: GaugeChild;
      maxDd: GaugeChild;
    }
  >();

  constructor(options: BusinessMetricsOptions) {
    const p = options.prefix ?? '';
    const pair = ['strategy', 'symbol'];
    this.realized = new FastGauge(
      `${p}cryptoscalp_trading_realized_pnl`,
      'Cumulative realized PnL (quote currency, after fees).',
      pair,
    );
    this.unrealized = new FastGauge(
      `${p}cryptoscalp_trading_unrealized_pnl`,
      'Unrealized PnL of open positions (quote currency).',
      pair,
    );
    this.volume = new FastCounter(`${p}cryptoscalp_trading_volume_total`, 'Traded notional (quote currency).', pair);
    this.trades = new FastCounter(`${p}cryptoscalp_trading_trades_total`, 'Trades (fills).', [...pair, 'side']);
    this.outcomes = new FastCounter(`${p}cryptoscalp_trading_trade_outcomes_total`, 'Closed trades by outcome.', [
      'strategy',
      'outcome',
    ]);
    this.winRatio = new FastGauge(`${p}cryptoscalp_trading_win_ratio`, 'Wins / (wins + losses).', ['strategy']);
    this.equity = new FastGauge(`${p}cryptoscalp_trading_equity`, 'Account equity (quote currency).', ['strategy']);
    this.drawdown = new FastGauge(
      `${p}cryptoscalp_trading_drawdown_ratio`,
      'Current drawdown from the equity peak (0..1).',
      ['strategy'],
    );
    this.maxDrawdown = new FastGauge(`${p}cryptoscalp_trading_max_drawdown_ratio`, 'Largest drawdown seen (0..1).', [
      'strategy',
    ]);
    this.exposure = new FastGauge(
      `${p}cryptoscalp_trading_exposure`,
      'Signed position notional (quote currency).',
      pair,
    );
    this.all = [
      this.realized,
      this.unrealized,
      this.volume,
      this.trades,
      this.outcomes,
      this.winRatio,
      this.equity,
      this.drawdown,
      this.maxDrawdown,
      this.exposure,
    ];
    for (const m of this.all) m.register(options.registry);
    this.pairGauges = new ChildCache((v) => this.realized.labels(...v));
    this.unrealizedChildren = new ChildCache((v) => this.unrealized.labels(...v));
    this.exposureChildren = new ChildCache((v) => this.exposure.labels(...v));
    this.volumeChildren = new ChildCache((v) => this.volume.labels(...v));
    this.tradeChildren = new ChildCache((v) => this.trades.labels(...v));
  }

  /** @internal */
  metricNames(): string[] {
    return this.all.map((m) => m.name);
  }

  private strategy(name: string) {
    let s = this.strategies.get(name);
    if (s === undefined) {
      s = {
        win: this.outcomes.labels(name, 'win'),
        loss: this.outcomes.labels(name, 'loss'),
        even: this.outcomes.labels(name, 'breakeven'),
        ratio: this.winRatio.labels(name),
        peak: Number.NEGATIVE_INFINITY,
        eq: this.equity.labels(name),
        dd: this.drawdown.labels(name),
        maxDd: this.maxDrawdown.labels(name),
      };
      this.strategies.set(name, s);
    }
    return s;
  }

  /** Records a trade: count, volume, and if `realizedPnl` is given, realized PnL and win/loss. */
  recordTrade(trade: TradeRecord): void {
    checkName(trade.strategy, 'trade.strategy');
    checkName(trade.symbol, 'trade.symbol');
    if (trade.side !== 'buy' && trade.side !== 'sell') throw invalidOption('trade.side', "must be 'buy' or 'sell'");
    if (!(checkNumber(trade.quantity, 'trade.quantity') > 0)) throw invalidOption('trade.quantity', 'must be > 0');
    if (!(checkNumber(trade.price, 'trade.price') > 0)) throw invalidOption('trade.price', 'must be > 0');
    this.tradeChildren.get3(trade.strategy, trade.symbol, trade.side).inc();
    this.volumeChildren.get2(trade.strategy, trade.symbol).inc(trade.quantity * trade.price);
    if (trade.realizedPnl !== undefined) {
      const pnl = checkNumber(trade.realizedPnl, 'trade.realizedPnl') - (trade.fee ?? 0);
      this.pairGauges.get2(trade.strategy, trade.symbol).inc(pnl);
      const s = this.strategy(trade.strategy);
      if (pnl > 0) s.win.inc();
      else if (pnl < 0) s.loss.inc();
      else s.even.inc();
      const decided = s.win.value + s.loss.value;
      s.ratio.set(decided === 0 ? 0 : s.win.value / decided);
    }
  }

  /** Sets the unrealized PnL of a position. */
  setUnrealizedPnl(strategy: string, symbol: string, pnl: number): void {
    this.unrealizedChildren.get2(strategy, symbol).set(checkNumber(pnl, 'pnl'));
  }

  /** Sets the signed notional exposure of a position. */
  setExposure(strategy: string, symbol: string, notional: number): void {
    this.exposureChildren.get2(strategy, symbol).set(checkNumber(notional, 'notional'));
  }

  /**
   * Sets the drawdown and max drawdown ratios as the caller's risk engine measures them, for a caller that keeps
   * the equity peak itself (one source of truth: the gauges then say what the risk rules see, also across
   * restarts). Call after {@link setEquity}, which would otherwise derive them from the equities it saw.
   */
  setDrawdown(strategy: string, ratio: number, maxRatio: number): void {
    if (!(checkNumber(ratio, 'ratio') >= 0)) throw invalidOption('ratio', 'must be >= 0');
    if (!(checkNumber(maxRatio, 'maxRatio') >= ratio)) throw invalidOption('maxRatio', 'must be >= ratio');
    const s = this.strategy(strategy);
    s.dd.set(ratio);
    s.maxDd.set(maxRatio);
  }

  /** Sets equity; drawdown and max drawdown follow from the highest equity seen. */
  setEquity(strategy: string, equity: number): void {
    checkNumber(equity, 'equity');
    const s = this.strategy(strategy);
    s.eq.set(equity);
    if (equity > s.peak) s.peak = equity;
    const dd = s.peak > 0 ? Math.max(0, (s.peak - equity) / s.peak) : 0;
    s.dd.set(dd);
    if (dd > s.maxDd.value) s.maxDd.set(dd);
  }
}
