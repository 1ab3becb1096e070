import type { JournalEntry } from '../journal/journal.js';
import type { JournalEvents } from '../model/journal-events.js';
import type { Fill, Order } from '../model/types.js';
import { Portfolio, type PortfolioState } from '../portfolio/portfolio.js';
import type { BookTop, EngineStatus, TraderRecord } from './trader-record.js';

const QTY_EPS = 1e-9;
const TERMINAL = new Set(['filled', 'cancelled', 'rejected']);

/** Options of {@link ReadModel}. */
export interface ReadModelOptions {
  /** Fills kept for `GET /api/fills` and order details. @default 1000 */
  recentFills?: number;
  /** Finished orders kept (open orders are always kept). @default 5000 */
  finishedOrders?: number;
}

/** What changed when a record was applied: the stream bridge turns it into live events. */
export type ReadModelChange =
  | { readonly type: 'fill'; readonly fill: Fill; readonly offset: number; readonly historic?: boolean }
  | { readonly type: 'risk'; readonly offset: number }
  | { readonly type: 'market'; readonly books: readonly BookTop[]; readonly ts: number; readonly offset: number }
  | { readonly type: 'status'; readonly offset: number };

/** The serialized read model (snapshots beside the event stream). */
export interface ReadModelState {
  readonly offset: number;
  readonly orders: Order[];
  readonly fills: Fill[];
  readonly portfolio: PortfolioState;
  readonly risk: { mode: string; reason: string; since: number };
  readonly books: BookTop[];
  readonly status: EngineStatus | undefined;
  readonly lastEntrySeq: number;
}

/**
 * The one read model of the trader: positions, PnL, orders, recent fills, risk state, book tops and the engine's
 * status, folded from the engine's event stream ({@link TraderRecord}). It feeds the API, the live streams and the
 * cache, in every role: in `--role all` the stream is in process, in `--role gateway` it is the Redis stream. It
 * validates nothing: the engine journaled each entry only after validating it; a record it cannot apply (an
 * unknown order, a repeated fill) is counted and skipped.
 */
export class ReadModel {
  private readonly orders = new Map<string, Order>();
  private readonly openIds = new Set<string>();
  private readonly finished: string[] = [];
  private readonly fills: Fill[] = [];
  private readonly fillIds = new Set<string>();
  private portfolio = new Portfolio();
  private risk = { mode: 'RUNNING', reason: 'start', since: Date.now() };
  private readonly books = new Map<string, BookTop>();
  private engineStatus: EngineStatus | undefined;
  private readonly listeners = new Set<(change: ReadModelChange) => void>();
  private readonly maxFills: number;
  private readonly maxFinished: number;
  /** Offset of the last record applied (0: none). */
  offset = 0;
  /** Journal sequence of the last entry applied. */
  lastEntrySeq = 0;
  /** When the last record was applied (epoch ms) and the record's own time. */
  lastAppliedAt = 0;
  readonly counters = { records: 0, entries: 0, skipped: 0, duplicates: 0 };

  constructor(options: ReadModelOptions = {}) {
    this.maxFills = options.recentFills ?? 1_000;
    this.maxFinished = options.finishedOrders ?? 5_000;
  }

  /** Registers a change listener; returns the function that removes it. */
  onChange(listener: (change: ReadModelChange) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Applies one record at `offset`. Records at or below the current offset are replays and are ignored. */
  apply(offset: number, record: TraderRecord): void {
    if (offset <= this.offset) {
      this.counters.duplicates++;
      return;
    }
    this.offset = offset;
    this.counters.records++;
    this.lastAppliedAt = Date.now();
    switch (record.k) {
      case 'entry':
        this.applyEntry(offset, record.entry);
        return;
      case 'market':
        for (const b of record.books) {
          this.books.set(b.symbol, b);
          if (b.synced && Number.isFinite(b.mid)) this.portfolio.mark(b.symbol, b.mid);
        }
        this.emit({ type: 'market', books: record.books, ts: record.ts, offset });
        return;
      case 'status':
        this.engineStatus = record.status;
        this.emit({ type: 'status', offset });
        return;
    }
  }

  /**
   * Emits the changes of a record the model already holds (at or below its offset) without applying it again: a
   * gateway that started from a snapshot replays the records just before it, so its stream history reaches back
   * far enough for clients of a gateway that restarted to resume. Only fills and market records are replayed;
   * positions and PnL are state, read again by the client.
   */
  replayHistory(offset: number, record: TraderRecord): void {
    if (record.k === 'entry' && record.entry.type === 'fill')
      this.emit({ type: 'fill', fill: record.entry.data as Fill, offset, historic: true });
    else if (record.k === 'market') this.emit({ type: 'market', books: record.books, ts: record.ts, offset });
  }

  private applyEntry(offset: number, entry: JournalEntry): void {
    if (entry.seq <= this.lastEntrySeq) {
      this.counters.duplicates++;
      return;
    }
    this.lastEntrySeq = entry.seq;
    this.counters.entries++;
    const now = entry.ts;
    switch (entry.type) {
      case 'order.submitted': {
        const d = entry.data as JournalEvents['order.submitted'];
        if (this.orders.has(d.clientOrderId)) {
          this.skip();
          return;
        }
        const order: Order = {
          clientOrderId: d.clientOrderId,
          symbol: d.symbol,
          side: d.side,
          type: d.type,
          qty: d.qty,
          ...(d.price === undefined ? {} : { price: d.price }),
          status: 'submitted',
          filledQty: 0,
          avgPrice: 0,
          fees: 0,
          createdAt: now,
          updatedAt: now,
        };
        this.orders.set(d.clientOrderId, order);
        this.openIds.add(d.clientOrderId);
        return;
      }
      case 'order.accepted':
        this.setStatus((entry.data as JournalEvents['order.accepted']).clientOrderId, 'accepted', now);
        return;
      case 'order.rejected': {
        const d = entry.data as JournalEvents['order.rejected'];
        const o = this.setStatus(d.clientOrderId, 'rejected', now);
        if (o !== undefined) o.rejectReason = d.reason;
        return;
      }
      case 'order.cancelled':
        this.setStatus((entry.data as JournalEvents['order.cancelled']).clientOrderId, 'cancelled', now);
        return;
      case 'fill': {
        const fill = entry.data as Fill;
        const o = this.orders.get(fill.clientOrderId);
        if (o === undefined || this.fillIds.has(fill.fillId)) {
          this.skip();
          return;
        }
        this.fillIds.add(fill.fillId);
        const done = o.filledQty + fill.qty >= o.qty - QTY_EPS;
        o.avgPrice = (o.avgPrice * o.filledQty + fill.price * fill.qty) / (o.filledQty + fill.qty);
        o.filledQty = done ? o.qty : o.filledQty + fill.qty;
        o.fees += fill.fee;
        this.setStatus(o.clientOrderId, done ? 'filled' : 'partially_filled', fill.ts);
        this.portfolio.applyFill(fill);
        this.fills.push(fill);
        if (this.fills.length > this.maxFills) {
          const old = this.fills.shift() as Fill;
          this.fillIds.delete(old.fillId);
        }
        this.emit({ type: 'fill', fill, offset });
        return;
      }
      case 'risk.state': {
        const d = entry.data as JournalEvents['risk.state'];
        this.risk = { mode: d.to, reason: d.reason, since: now };
        this.emit({ type: 'risk', offset });
        return;
      }
      default:
        return;
    }
  }

  private skip(): void {
    this.counters.skipped++;
  }

  private setStatus(id: string, status: Order['status'], now: number): Order | undefined {
    const o = this.orders.get(id);
    if (o === undefined) {
      this.skip();
      return undefined;
    }
    o.status = status;
    o.updatedAt = now;
    if (TERMINAL.has(status) && this.openIds.delete(id)) {
      this.finished.push(id);
      // Finished orders are kept up to a bound, oldest first out (open orders are never dropped).
      while (this.finished.length > this.maxFinished) this.orders.delete(this.finished.shift() as string);
    }
    return o;
  }

  private emit(change: ReadModelChange): void {
    for (const l of this.listeners) l(change);
  }

  // ---------------------------------------------------------------- queries

  /** Orders, newest first. */
  listOrders(filter: { symbol?: string; status?: Order['status']; limit: number }): Order[] {
    const out: Order[] = [];
    for (const o of this.orders.values())
      if (
        (filter.symbol === undefined || o.symbol === filter.symbol) &&
        (filter.status === undefined || o.status === filter.status)
      )
        out.push(o);
    return out.sort((a, b) => b.createdAt - a.createdAt).slice(0, filter.limit);
  }

  /** One order, or undefined. */
  order(clientOrderId: string): Order | undefined {
    return this.orders.get(clientOrderId);
  }

  /** Orders not in a terminal state. */
  openOrderCount(): number {
    return this.openIds.size;
  }

  /** Recent fills, newest first. */
  recentFills(filter: { symbol?: string; since?: number; clientOrderId?: string; limit: number }): Fill[] {
    const out: Fill[] = [];
    for (let i = this.fills.length - 1; i >= 0 && out.length < filter.limit; i--) {
      const f = this.fills[i] as Fill;
      if (
        (filter.symbol === undefined || f.symbol === filter.symbol) &&
        (filter.since === undefined || f.ts >= filter.since) &&
        (filter.clientOrderId === undefined || f.clientOrderId === filter.clientOrderId)
      )
        out.push(f);
    }
    return out;
  }

  /** Positions (with marks) per symbol. */
  positions(): ReturnType<Portfolio['snapshots']> {
    return this.portfolio.snapshots();
  }

  /** Portfolio totals. */
  totals(): ReturnType<Portfolio['totals']> {
    return this.portfolio.totals();
  }

  /** Kill switch mode, reason and since when. */
  riskState(): { mode: string; reason: string; since: number } {
    return this.risk;
  }

  /** Latest book tops. */
  bookTops(): BookTop[] {
    return [...this.books.values()];
  }

  /** The engine's latest status record, when one arrived. */
  engine(): EngineStatus | undefined {
    return this.engineStatus;
  }

  // ---------------------------------------------------------------- snapshots

  /** The whole model as plain JSON-safe data. */
  toJSON(): ReadModelState {
    return {
      offset: this.offset,
      orders: [...this.orders.values()].map((o) => ({ ...o })),
      fills: [...this.fills],
      portfolio: this.portfolio.toJSON(),
      risk: { ...this.risk },
      books: [...this.books.values()],
      status: this.engineStatus,
      lastEntrySeq: this.lastEntrySeq,
    };
  }

  /** Replaces the model's state with a snapshot (a gateway starting from the stream's snapshot). */
  restore(state: ReadModelState): void {
    this.orders.clear();
    this.openIds.clear();
    this.finished.length = 0;
    for (const o of state.orders) {
      this.orders.set(o.clientOrderId, { ...o });
      if (TERMINAL.has(o.status)) this.finished.push(o.clientOrderId);
      else this.openIds.add(o.clientOrderId);
    }
    this.fills.length = 0;
    this.fillIds.clear();
    for (const f of state.fills) {
      this.fills.push(f);
      this.fillIds.add(f.fillId);
    }
    this.portfolio = Portfolio.fromJSON(state.portfolio);
    this.risk = { ...state.risk };
    this.books.clear();
    for (const b of state.books) this.books.set(b.symbol, b);
    this.engineStatus = state.status;
    this.offset = state.offset;
    this.lastEntrySeq = state.lastEntrySeq;
  }

  /** Plain numbers for metrics. */
  stats(): Record<string, unknown> {
    return {
      offset: this.offset,
      lastEntrySeq: this.lastEntrySeq,
      orders: this.orders.size,
      openOrders: this.openIds.size,
      fills: this.fills.length,
      ...this.counters,
    };
  }
}
