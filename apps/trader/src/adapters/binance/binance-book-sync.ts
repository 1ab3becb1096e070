import type { BookEvent } from '../../model/types.js';
import { OrderBook } from '../../model/order-book.js';

/** Outcome of feeding one diff to {@link BinanceBookSync}. */
export type SyncResult = 'applied' | 'dropped' | 'buffered' | 'gap';

/** A depth snapshot (`GET /api/v3/depth`), already parsed to numbers. */
export interface DepthSnapshot {
  lastUpdateId: number;
  bids: [number, number][];
  asks: [number, number][];
}

/**
 * Keeps one {@link OrderBook} in sync with Binance's documented procedure:
 * buffer diffs until a snapshot arrives; drop diffs with `u <= lastUpdateId`; the first applied diff must have
 * `U <= lastUpdateId + 1 <= u`; afterwards each diff must continue the previous one (`pu == previous u` when the
 * stream sends `pu`, else `U == previous u + 1`). Anything else is a gap: the book is marked unsynced and
 * the caller fetches a new snapshot ({@link needsSnapshot}).
 */
export class BinanceBookSync {
  readonly book: OrderBook;
  private synced = false;
  private firstAfterSnapshot = false;
  private buffer: BookEvent[] = [];
  /** Diffs applied, dropped as stale, and gaps seen: for stats and tests. */
  readonly counters = { applied: 0, dropped: 0, gaps: 0, snapshots: 0 };

  constructor(
    symbol: string,
    private readonly maxBuffer = 10_000,
  ) {
    this.book = new OrderBook(symbol);
  }

  /** True when the book is valid to trade on. */
  isSynced(): boolean {
    return this.synced;
  }

  /** True when a snapshot must be fetched (initially and after each gap). */
  needsSnapshot(): boolean {
    return !this.synced;
  }

  /** Feeds one diff. */
  onDiff(ev: BookEvent): SyncResult {
    if (!this.synced) {
      if (this.buffer.length >= this.maxBuffer) this.buffer.shift();
      this.buffer.push(ev);
      return 'buffered';
    }
    return this.apply(ev);
  }

  private apply(ev: BookEvent): SyncResult {
    const book = this.book;
    if (ev.lastSeq <= book.lastUpdateId) {
      this.counters.dropped++;
      return 'dropped';
    }
    if (this.firstAfterSnapshot) {
      if (!(ev.firstSeq <= book.lastUpdateId + 1 && book.lastUpdateId + 1 <= ev.lastSeq)) return this.gap();
      this.firstAfterSnapshot = false;
    } else {
      const continues =
        ev.prevSeq !== undefined ? ev.prevSeq === book.lastUpdateId : ev.firstSeq === book.lastUpdateId + 1;
      if (!continues) return this.gap();
    }
    book.applyLevels(ev.bids, ev.asks);
    book.lastUpdateId = ev.lastSeq;
    book.exchTs = ev.exchTs;
    this.counters.applied++;
    return 'applied';
  }

  private gap(): SyncResult {
    this.synced = false;
    this.buffer.length = 0;
    this.counters.gaps++;
    return 'gap';
  }

  /** Marks the book unsynced (e.g. after a disconnect or a venue-level gap), so a new snapshot is needed. */
  invalidate(): void {
    if (this.synced) this.gap();
  }

  /**
   * Applies a snapshot and then the buffered diffs by the rules. Returns false when the buffered diffs do not
   * connect to the snapshot (the snapshot is older than the buffer): fetch again.
   */
  onSnapshot(snap: DepthSnapshot): boolean {
    this.counters.snapshots++;
    this.book.applySnapshot(snap.bids, snap.asks, snap.lastUpdateId);
    this.synced = true;
    this.firstAfterSnapshot = true;
    const pending = this.buffer;
    this.buffer = [];
    for (const ev of pending) {
      if (this.apply(ev) === 'gap') {
        // The gap cleared the buffer; diffs after the failing one are useless without a new snapshot.
        return false;
      }
    }
    return true;
  }
}
