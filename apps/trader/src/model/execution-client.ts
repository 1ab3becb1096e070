import type { Fill, MarketEvent, Order, OrderIntent } from './types.js';

/** What a venue (or the paper simulator) reports about an order. */
export type ExecutionEvent =
  | { type: 'accepted'; clientOrderId: string; ts: number }
  | { type: 'rejected'; clientOrderId: string; reason: string; ts: number }
  | { type: 'cancelled'; clientOrderId: string; reason: string; ts: number }
  | { type: 'fill'; fill: Fill };

/**
 * Where orders go: the paper venue or a real one (the nautilus_trader / hummingbot "execution client"). `submit` and
 * `cancel` return at once; outcomes arrive as {@link ExecutionEvent}s through the listener, in order per client
 * order id. Fill ids must be deterministic (`<clientOrderId>-<n>`) so a replayed or re-reported fill is recognized.
 */
export interface ExecutionClient {
  readonly name: string;
  /**
   * Whether the venue still knows the orders after this process dies. `false` (the in-process paper venue): every
   * order the journal shows open at a restart is journaled as cancelled by `TradingEngine.replay`. `true`: the
   * engine hands those orders to {@link reconcile} instead.
   */
  readonly venueStateSurvivesRestart: boolean;
  submit(order: Readonly<Order>): void;
  cancel(clientOrderId: string): void;
  onEvent(listener: (event: ExecutionEvent) => void): void;
  /**
   * Sees every trade and every applied book update, after the engine's book reflects it (a simulated venue matches
   * resting orders against the public tape here). Runs on the market-data path: must be synchronous and cheap.
   */
  onMarketEvent?(ev: MarketEvent): void;
  /**
   * Restart reconciliation for venues whose state survives a restart: called once after replay with the orders the
   * journal shows open. The client queries the venue (by client order id) and reports what happened to each through
   * the listener, as ordinary events: `accepted` for an order the journal only has as submitted, fills the journal
   * lacks (with their deterministic ids), then `cancelled` or `rejected` for orders the venue no longer has open; an
   * order still open needs nothing more. The engine journals these like live events and ignores duplicates.
   */
  reconcile?(openOrders: readonly Readonly<Order>[]): void;
  /**
   * The venue's trading rules, applied by the engine before risk: returns the intent with its quantity and price on
   * the venue's steps (a live venue refuses others), or a refusal (below the venue's minimum quantity or notional).
   */
  adjustIntent?(intent: Readonly<OrderIntent>): OrderIntent | { rejected: string };
  /** Cancels pending work; idempotent. */
  close(): Promise<void>;
}
