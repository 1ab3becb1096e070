import type { MarketEvent } from '../model/types.js';
import { OrderBook } from '../model/order-book.js';

/**
 * A book for venues whose adapter already checks continuity (Coinbase sequence numbers, Kraken checksums):
 * snapshots replace, updates set levels, a gap event invalidates until the next snapshot.
 */
export class VenueBook {
  readonly book: OrderBook;
  private valid = false;

  constructor(symbol: string) {
    this.book = new OrderBook(symbol);
  }

  /** True when the book has had a snapshot and no gap since. */
  isSynced(): boolean {
    return this.valid;
  }

  /** Applies an event for this book's symbol; returns true when the book changed. */
  apply(ev: MarketEvent): boolean {
    if (ev.kind === 'gap') {
      if (ev.symbol === undefined || ev.symbol === this.book.symbol) this.valid = false;
      return false;
    }
    if (ev.kind !== 'book' || ev.symbol !== this.book.symbol) return false;
    if (ev.snapshot) {
      this.book.applySnapshot(ev.bids, ev.asks, ev.lastSeq);
      this.valid = true;
    } else {
      if (!this.valid) return false;
      this.book.applyLevels(ev.bids, ev.asks);
      this.book.lastUpdateId = ev.lastSeq;
    }
    this.book.exchTs = ev.exchTs;
    return true;
  }
}
