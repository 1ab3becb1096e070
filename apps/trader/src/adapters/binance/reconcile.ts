import type { Fill, Order } from '../../model/types.js';

/** What the adapter reads of the journal's state (the engine's `OrderBookkeeper` has this shape). */
export interface JournalView {
  get(clientOrderId: string): Readonly<Order> | undefined;
  hasFill(fillId: string): boolean;
  all(): Iterable<Readonly<Order>>;
}

/** Why a reconciliation ran. */
export type ReconcileTrigger = 'start' | 'reconnect' | 'manual';

/** One difference between the venue and the journal that a reconciliation found (and, where it can, repaired). */
export type ReconcileDifference =
  | { kind: 'accepted'; clientOrderId: string }
  | { kind: 'closed'; clientOrderId: string; status: string }
  | { kind: 'not-found'; clientOrderId: string }
  | { kind: 'missing-fill'; fillId: string; clientOrderId: string; qty: number; price: number; tradeId: number }
  | { kind: 'fill-on-closed-order'; clientOrderId: string; tradeId: number }
  | { kind: 'unknown-open-order'; symbol: string; clientOrderId: string }
  | { kind: 'foreign-trade'; symbol: string; tradeId: number; orderId: number }
  | { kind: 'balance'; asset: string; venue: number; expected: number };

/**
 * The outcome of one reconciliation with the venue: journaled (`venue.reconciled`), counted as a metric and logged
 * when it found differences.
 */
export interface ReconcileReport {
  venue: 'binance';
  trigger: ReconcileTrigger;
  /** When it started (epoch ms). */
  at: number;
  durationMs: number;
  /** Orders open at the venue for the configured symbols. */
  openAtVenue: number;
  /** Trades of the account seen since the journal's last fill (per symbol). */
  tradesSeen: number;
  /** Fills applied that the journal lacked (each once, by trade id). */
  fillsApplied: number;
  differences: ReconcileDifference[];
  /** Venue balances of the configured symbols' assets (free + locked). */
  balances: Record<string, number>;
  /** A step failed (the venue did not answer): the next reconciliation repeats the work. */
  error?: string;
}

/** The deterministic id of a venue fill: the client order id and the venue's trade id. */
export function venueFillId(clientOrderId: string, tradeId: number): string {
  return `${clientOrderId}-t${tradeId}`;
}

/** Signed base-asset position per symbol from the journal's fills. */
export function journalPositions(journal: JournalView): Map<string, number> {
  const out = new Map<string, number>();
  for (const o of journal.all()) {
    if (o.filledQty === 0) continue;
    out.set(o.symbol, (out.get(o.symbol) ?? 0) + (o.side === 'buy' ? o.filledQty : -o.filledQty));
  }
  return out;
}

/** The latest fill time the journal has for `symbol` (orders' `updatedAt` of filled ones), or undefined. */
export function lastJournalFillTs(journal: JournalView, symbol: string): number | undefined {
  let last: number | undefined;
  for (const o of journal.all()) {
    if (o.symbol !== symbol || o.filledQty === 0) continue;
    if (last === undefined || o.updatedAt > last) last = o.updatedAt;
  }
  return last;
}

/** A trade of one of our orders as the venue reports it (`myTrades`, or an execution report's fill). */
export interface VenueTrade {
  id: number;
  price: number;
  qty: number;
  commission: number;
  commissionAsset: string;
  time: number;
  isMaker: boolean;
}

/** A fill as the engine journals it, from a venue trade of one of our orders. */
export function fillFromTrade(
  order: Readonly<Order>,
  trade: VenueTrade,
  assets: { base: string; quote: string },
): { fill: Fill; feeInOtherAsset: boolean } {
  let fee = 0;
  let feeInOtherAsset = false;
  if (trade.commissionAsset === assets.quote) fee = trade.commission;
  else if (trade.commissionAsset === assets.base) fee = trade.commission * trade.price;
  else feeInOtherAsset = trade.commission !== 0;
  return {
    fill: {
      fillId: venueFillId(order.clientOrderId, trade.id),
      clientOrderId: order.clientOrderId,
      symbol: order.symbol,
      side: order.side,
      price: trade.price,
      qty: trade.qty,
      fee,
      liquidity: trade.isMaker ? 'maker' : 'taker',
      ts: trade.time,
    },
    feeInOtherAsset,
  };
}
