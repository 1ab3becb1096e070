import type { Level } from './types.js';

/**
 * Index of `price` in `prices`, sorted best-first (descending for bids, ascending for asks), or
 * `-(insertionPoint + 1)` when absent. Shared by every sorted price ladder (this book, Kraken's checksum book) so the
 * search, and its tie and insertion rules, exist once.
 */
export function findPrice(prices: readonly number[], price: number, descending: boolean): number {
  let lo = 0;
  let hi = prices.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const p = prices[mid] as number;
    if (p === price) return mid;
    const before = descending ? p > price : p < price;
    if (before) lo = mid + 1;
    else hi = mid - 1;
  }
  return -(lo + 1);
}

/**
 * One side of a book: prices kept sorted best-first in a plain array with a parallel quantity array,
 * so the best level is index 0 and the top N is a prefix. Updates are a binary search plus a splice,
 * cheap for the few hundred levels a scalper keeps.
 */
class BookSide {
  readonly prices: number[] = [];
  readonly qtys: number[] = [];
  constructor(private readonly descending: boolean) {}

  set(price: number, qty: number): void {
    const i = findPrice(this.prices, price, this.descending);
    if (i >= 0) {
      if (qty > 0) this.qtys[i] = qty;
      else {
        this.prices.splice(i, 1);
        this.qtys.splice(i, 1);
      }
    } else if (qty > 0) {
      const at = -i - 1;
      this.prices.splice(at, 0, price);
      this.qtys.splice(at, 0, qty);
    }
  }

  clear(): void {
    this.prices.length = 0;
    this.qtys.length = 0;
  }

  levels(depth: number): Level[] {
    const n = Math.min(depth, this.prices.length);
    const out: Level[] = new Array(n);
    for (let i = 0; i < n; i++) out[i] = [this.prices[i] as number, this.qtys[i] as number];
    return out;
  }

  /** Drops levels beyond `depth`. */
  truncate(depth: number): void {
    if (this.prices.length > depth) {
      this.prices.length = depth;
      this.qtys.length = depth;
    }
  }
}

/**
 * A price-level order book for one symbol. Pure data structure: continuity is the data clients' job, and whether the
 * book may be traded on is `VenueBook`'s.
 */
export class OrderBook {
  readonly bids = new BookSide(true);
  readonly asks = new BookSide(false);
  /** Last applied update id (Binance `u` / snapshot `lastUpdateId`). */
  lastUpdateId = 0;
  /** Exchange time of the last applied event. */
  exchTs = 0;

  constructor(readonly symbol: string) {}

  /** Replaces the book with a snapshot. */
  applySnapshot(bids: readonly Level[], asks: readonly Level[], lastUpdateId: number): void {
    this.bids.clear();
    this.asks.clear();
    for (const [p, q] of bids) this.bids.set(p, q);
    for (const [p, q] of asks) this.asks.set(p, q);
    this.lastUpdateId = lastUpdateId;
  }

  /** Sets absolute quantities; quantity 0 removes the level. */
  applyLevels(bids: readonly Level[], asks: readonly Level[]): void {
    for (const [p, q] of bids) this.bids.set(p, q);
    for (const [p, q] of asks) this.asks.set(p, q);
  }

  /** Best bid price, NaN when empty. */
  bestBid(): number {
    return this.bids.prices.length > 0 ? (this.bids.prices[0] as number) : Number.NaN;
  }

  /** Best ask price, NaN when empty. */
  bestAsk(): number {
    return this.asks.prices.length > 0 ? (this.asks.prices[0] as number) : Number.NaN;
  }

  /** Mid price, NaN when a side is empty. */
  mid(): number {
    return (this.bestBid() + this.bestAsk()) / 2;
  }

  /** True when both sides have levels and they do not cross. */
  isValid(): boolean {
    return this.bids.prices.length > 0 && this.asks.prices.length > 0 && this.bestBid() < this.bestAsk();
  }

  /** Top `depth` levels of each side. */
  top(depth: number): { bids: Level[]; asks: Level[] } {
    return { bids: this.bids.levels(depth), asks: this.asks.levels(depth) };
  }

  /** Number of levels per side. */
  size(): { bids: number; asks: number } {
    return { bids: this.bids.prices.length, asks: this.asks.prices.length };
  }
}
