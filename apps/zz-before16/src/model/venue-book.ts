import { OrderBook } from './order-book.js';
import type { BookEvent, BookSnapshot } from './types.js';

/** Outcome of {@link VenueBook.applyDiff}. */
export type DiffResult = 'applied' | 'stale' | 'unsynced';

/**
 * One symbol's {@link OrderBook} and whether it may be traded on. It applies what the venue's data client delivers,
 * which is already in order and gap-free: continuity is checked there, once (ws-manager's pipeline for Binance's
 * `U`/`u`/`pu`, Coinbase's `sequence_num`, Kraken's checksum). A book becomes synced with a snapshot and stops being
 * synced with a gap ({@link invalidate}); diffs that arrive while it is not synced are ignored, because the client
 * is already fetching the snapshot they would have to follow.
 */
export class VenueBook {
  readonly book: OrderBook;
  private synced = false;
  /** Diffs applied, stale diffs dropped, diffs ignored while unsynced, snapshots applied, invalidations. */
  readonly counters = { applied: 0, stale: 0, unsynced: 0, snapshots: 0, invalidations: 0 };

  constructor(symbol: string) {
    this.book = new OrderBook(symbol);
  }

  /** True when the book has had a snapshot and no gap since. */
  isSynced(): boolean {
    return this.synced;
  }

  /** Replaces the book (REST snapshot, or a venue's in-stream snapshot) and marks it synced. */
  applySnapshot(snapshot: BookSnapshot, exchTs = 0): void {
    this.book.applySnapshot(snapshot.bids, snapshot.asks, snapshot.lastUpdateId);
    this.book.exchTs = exchTs;
    this.synced = true;
    this.counters.snapshots++;
  }

  /** Replaces the book from a venue's in-stream snapshot event (`ev.snapshot`). */
  applySnapshotEvent(ev: BookEvent): void {
    this.book.applySnapshot(ev.bids, ev.asks, ev.lastSeq);
    this.book.exchTs = ev.exchTs;
    this.synced = true;
    this.counters.snapshots++;
  }

  /**
   * Applies one diff. A diff whose `lastSeq` the book already covers is `stale` and dropped: a REST snapshot and
   * the live stream race, so diffs older than the snapshot can still arrive after it. This is not gap detection.
   */
  applyDiff(ev: BookEvent): DiffResult {
    if (!this.synced) {
      this.counters.unsynced++;
      return 'unsynced';
    }
    const book = this.book;
    if (ev.lastSeq <= book.lastUpdateId) {
      this.counters.stale++;
      return 'stale';
    }
    book.applyLevels(ev.bids, ev.asks);
    book.lastUpdateId = ev.lastSeq;
    book.exchTs = ev.exchTs;
    this.counters.applied++;
    return 'applied';
  }

  /** The feed lost continuity: the book is wrong until the next snapshot. */
  invalidate(): void {
    if (!this.synced) return;
    this.synced = false;
    this.counters.invalidations++;
  }
}
