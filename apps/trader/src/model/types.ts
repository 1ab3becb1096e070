/** Shared types of the trading core. */

/** A price level: `[price, quantity]`; quantity 0 removes the level. */
export type Level = readonly [price: number, qty: number];

/** Buy or sell. */
export type Side = 'buy' | 'sell';

/** A venue whose public market-data format the adapters understand. */
export type Venue = 'binance' | 'coinbase' | 'kraken';

/**
 * A change to an order book, normalized from a venue's format.
 * `snapshot: true` replaces the whole book; otherwise the levels are absolute quantities to set.
 */
export interface BookEvent {
  readonly kind: 'book';
  readonly venue: Venue;
  readonly symbol: string;
  readonly snapshot: boolean;
  readonly bids: Level[];
  readonly asks: Level[];
  /** First update id covered (Binance `U`), or the venue sequence. */
  readonly firstSeq: number;
  /** Last update id covered (Binance `u`), or the venue sequence. */
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
 * The venue's feed lost continuity (sequence gap, checksum mismatch): the books named (or all books
 * of the venue when `symbol` is undefined) must be resynchronized.
 */
export interface GapEvent {
  readonly kind: 'gap';
  readonly venue: Venue;
  readonly symbol?: string;
  readonly reason: string;
}

/** One normalized market-data event. */
export type MarketEvent = BookEvent | TradeEvent | GapEvent;

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
