import type { OrderBook } from '../model/order-book.js';
import type { Fill, OrderIntent, TradeEvent } from '../model/types.js';

/** What a strategy sees when asked for a decision. */
export interface StrategyContext {
  readonly symbol: string;
  readonly book: OrderBook;
  /** Current position in base units (signed). */
  readonly position: number;
  /** Open (unfilled) order quantity for the symbol, signed. */
  readonly openQty: number;
  /** Monotonic milliseconds (`performance.now()`). */
  readonly now: number;
}

/**
 * A pluggable strategy. The engine calls {@link onBook} after every applied book change of a synced book,
 * {@link onTrade} for public trades and {@link onFill} for the trader's own fills. Returning an intent asks
 * risk and execution for an order; `undefined` means do nothing. Implementations must be synchronous and fast:
 * they run on the market-data path.
 */
export interface Strategy {
  readonly name: string;
  onBook(ctx: StrategyContext): OrderIntent | undefined;
  onTrade?(trade: TradeEvent): void;
  onFill?(fill: Fill): void;
  /** Model and decision metrics, plain numbers. */
  stats(): Record<string, unknown>;
  /**
   * The learned state worth keeping across a restart or a takeover (model weights, sample counts), as plain JSON.
   * The engine journals it periodically (`strategy.state`) and hands the last one back to {@link importState} on
   * replay. Optional: a strategy without it warms up again after every restart.
   */
  exportState?(): unknown;
  /**
   * Restores what {@link exportState} returned (possibly in an earlier process).
   * @throws TraderError `E_TRADER_INVALID_OPTION` when the state is not this strategy's; the strategy is unchanged.
   */
  importState?(state: unknown): void;
}
