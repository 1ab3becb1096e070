/** Shared types of the trading core. */

/** A price level: `[price, quantity]`; quantity 0 removes the level. */
export type Level = readonly [price: number, qty: number];

/** Buy or sell. */
export type Side = 'buy' | 'sell';

/** The venues the adapters speak (`market.venue`). */
export const VENUES = ['binance', 'coinbase', 'kraken'] as const;

/** A venue whose public market data the adapters understand. */
export type Venue = (typeof VENUES)[number];

/**
 * A change to an order book, normalized from a venue's format and already in order: the venue's data client has
 * checked continuity (gaps arrive as {@link GapEvent}s), so consumers only apply it.
 * `snapshot: true` replaces the whole book; otherwise the levels are absolute quantities to set.
 */
export interface BookEvent {
  readonly kind: 'book';
  readonly venue: Venue;
  readonly symbol: string;
  readonly snapshot: boolean;
  readonly bids: Level[];
  readonly asks: Level[];
  /** First update id covered (Binance `U`), or a per-book counter of the data client. */
  readonly firstSeq: number;
  /** Last update id covered (Binance `u`), or a per-book counter of the data client; increases per book. */
  readonly lastSeq: number;
  /** Last update id of the previous event (Binance futures `pu`), when the venue sends it. */
  readonly prevSeq?: number;
  /** Exchange event time, epoch milliseconds. */
  readonly exchTs: number;
}

/** A public trade print. */
export interface TradeEvent {
  readonly kind: 'trade';
  readonly venue: Venue;
  readonly symbol: string;
  readonly price: number;
  readonly qty: number;
  /** The aggressor's side. */
  readonly side: Side;
  readonly tradeId: string;
  readonly exchTs: number;
}

/**
 * The venue's feed lost continuity (sequence gap, checksum mismatch, disconnect): the books named (or all books
 * of the venue when `symbol` is undefined) are wrong until their next snapshot. The data client that reports it
 * is already recovering (REST snapshot or resubscription).
 */
export interface GapEvent {
  readonly kind: 'gap';
  readonly venue: Venue;
  readonly symbol?: string;
  readonly reason: string;
}

/** One normalized market-data event. */
export type MarketEvent = BookEvent | TradeEvent | GapEvent;

/** A whole book, e.g. Binance's REST `GET /api/v3/depth`: replaces a book, whose next diff must follow it. */
export interface BookSnapshot {
  /** The sequence the snapshot reflects (Binance `lastUpdateId`). */
  readonly lastUpdateId: number;
  readonly bids: readonly Level[];
  readonly asks: readonly Level[];
}

/** Order types supported by paper execution. */
export type OrderType = 'market' | 'limit';

/** States of an order. */
export type OrderStatus = 'submitted' | 'accepted' | 'partially_filled' | 'filled' | 'cancelled' | 'rejected';

/** What the strategy wants to do; risk and execution turn it into an order. */
export interface OrderIntent {
  readonly symbol: string;
  readonly side: Side;
  readonly type: OrderType;
  readonly qty: number;
  /** Limit price (limit orders only). */
  readonly price?: number;
  /** Free text for the journal: why the strategy wants it. */
  readonly reason?: string;
}

/** An order as the trader tracks it. */
export interface Order {
  readonly clientOrderId: string;
  readonly symbol: string;
  readonly side: Side;
  readonly type: OrderType;
  readonly qty: number;
  readonly price?: number;
  status: OrderStatus;
  filledQty: number;
  /** Volume-weighted average fill price (0 before the first fill). */
  avgPrice: number;
  fees: number;
  readonly createdAt: number;
  updatedAt: number;
  rejectReason?: string;
}

/** A fill of an order. */
export interface Fill {
  /** Unique and deterministic: `<clientOrderId>-<n>`. */
  readonly fillId: string;
  readonly clientOrderId: string;
  readonly symbol: string;
  readonly side: Side;
  readonly price: number;
  readonly qty: number;
  /** Fee in quote currency (positive is a cost). */
  readonly fee: number;
  readonly liquidity: 'maker' | 'taker';
  readonly ts: number;
}
