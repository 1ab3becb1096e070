import { TraderError } from '../../errors.js';
import { type CancelTimer, type Clock, SYSTEM_CLOCK } from '../../internal/clock.js';
import type { ExecutionClient, ExecutionEvent } from '../../model/execution-client.js';
import { findPrice, type OrderBook } from '../../model/order-book.js';
import type { BookEvent, Fill, MarketEvent, Order, TradeEvent } from '../../model/types.js';

/** Options of {@link PaperExecution}. */
export interface PaperExecutionOptions {
  /** The live book of a symbol (undefined when not synced: orders are then rejected). */
  book: (symbol: string) => OrderBook | undefined;
  /** One-way latency to the simulated venue: orders and cancels act this much later. @default 2 */
  latencyMs?: number;
  /** Maker fee in basis points. @default 1 */
  makerFeeBps?: number;
  /** Taker fee in basis points. @default 4 */
  takerFeeBps?: number;
  /** Clock for fill timestamps. @default `clock.now` */
  now?: () => number;
  /** Time source of the latency timers (a backtest's simulated clock). @default the system clock */
  clock?: Clock;
  /** Draws the latency of each order and cancel (a backtest's seeded latency model). @default always `latencyMs` */
  latency?: () => number;
}

interface Resting {
  order: Readonly<Order>;
  remaining: number;
  fills: number;
  /** Visible quantity at the order's price that is ahead of it in the queue (estimated; see the class comment). */
  ahead: number;
  /** The level's visible quantity as last seen: depth updates replace it, prints at the price count it down. */
  level: number;
}

/** Liquidity this venue's own orders took from one visible level, until a depth update replaces that level. */
interface Taken {
  qty: number;
  /** The level's visible quantity when it was taken: a different quantity now means the level was replaced. */
  seen: number;
}

const EPS = 1e-12;

/**
 * Paper execution against the live book, modelled so that paper results do not flatter:
 *
 * - Latency: each order and each cancel reaches the venue `latency()` ms after it was sent, in the order sent (one
 *   connection: a cancel never overtakes its order). A cancel that arrives after the order filled does nothing: the
 *   fill came first and stands.
 * - Taking liquidity: a market order walks the opposite side level by level (taker fee) and what the visible book
 *   cannot fill is cancelled; a marketable limit order takes up to its price and rests the remainder. What a walk
 *   takes is removed from this venue's view of those levels until a depth update for the level replaces it (or its
 *   visible quantity changes, e.g. a snapshot), so a second order in the same book update cannot take it again.
 * - Queue position: a resting limit order joins the back of its price level; the visible quantity there when it
 *   arrives is ahead of it. Public trades at its price by the opposite aggressor consume the queue from the front,
 *   and the order fills (maker fee) only with what prints beyond the volume ahead of it. When a depth update shrinks
 *   the level by more than the prints explained, the difference is taken as cancellations spread evenly over the
 *   queue: the volume ahead shrinks in proportion to its share of the level (and never exceeds the level); growth
 *   joins behind. A trade printing through the price (strictly better for the taker than the limit) means the level
 *   was swept: nothing is ahead any more, and the order fills up to the printed quantity.
 *
 * The trader's own view of the book is the venue's public book and is not changed. The venue lives in this process:
 * its resting orders die with it ({@link venueStateSurvivesRestart} is false).
 */
export class PaperExecution implements ExecutionClient {
  readonly name = 'paper';
  readonly venueStateSurvivesRestart = false;
  private readonly listeners: ((e: ExecutionEvent) => void)[] = [];
  private readonly resting = new Map<string, Resting>();
  private readonly taken = new Map<string, { bids: Map<number, Taken>; asks: Map<number, Taken> }>();
  private readonly timers = new Set<CancelTimer>();
  private readonly latencyMs: number;
  private readonly makerFee: number;
  private readonly takerFee: number;
  private readonly now: () => number;
  private readonly clock: Clock;
  private readonly latency: () => number;
  /** When the last order or cancel sent reaches the venue (monotonic time): later ones never arrive before it. */
  private lastArrival = Number.NEGATIVE_INFINITY;
  /** Messages sent and not yet arrived, in send order. */
  private readonly inFlight: { seq: number; fn: () => void }[] = [];
  private sent = 0;
  private closed = false;

  constructor(private readonly options: PaperExecutionOptions) {
    this.latencyMs = options.latencyMs ?? 2;
    this.makerFee = (options.makerFeeBps ?? 1) / 1e4;
    this.takerFee = (options.takerFeeBps ?? 4) / 1e4;
    this.clock = options.clock ?? SYSTEM_CLOCK;
    this.now = options.now ?? (() => this.clock.now());
    this.latency = options.latency ?? (() => this.latencyMs);
    if (!(this.latencyMs >= 0))
      throw new TraderError('E_TRADER_INVALID_OPTION', 'latencyMs must be >= 0', { field: 'latencyMs' });
    if (!(this.takerFee >= 0))
      throw new TraderError('E_TRADER_INVALID_OPTION', 'takerFeeBps must be >= 0', { field: 'takerFeeBps' });
  }

  onEvent(listener: (event: ExecutionEvent) => void): void {
    this.listeners.push(listener);
  }

  private emit(e: ExecutionEvent): void {
    for (const l of this.listeners) l(e);
  }

  /**
   * Runs `fn` when a message sent now reaches the venue: after its latency, and not before the previous one. Messages
   * wait in send order; the timer of one runs every message queued before it first (real timers of nearly equal due
   * times may fire out of order).
   */
  private later(fn: () => void): void {
    if (this.closed) return;
    // The monotonic clock: a wall clock stepping back must not hold messages behind an arrival time in its future.
    const now = this.clock.monotonic();
    const arrival = Math.max(now + Math.max(0, this.latency()), this.lastArrival);
    this.lastArrival = arrival;
    const seq = ++this.sent;
    this.inFlight.push({ seq, fn });
    const t = this.clock.setTimeout(() => {
      this.timers.delete(t);
      while (!this.closed && this.inFlight.length > 0 && (this.inFlight[0] as { seq: number }).seq <= seq) {
        (this.inFlight.shift() as { fn: () => void }).fn();
      }
    }, arrival - now);
    this.timers.add(t);
  }

  submit(order: Readonly<Order>): void {
    this.later(() => this.arrive(order));
  }

  cancel(clientOrderId: string): void {
    this.later(() => {
      if (this.resting.delete(clientOrderId)) {
        this.emit({ type: 'cancelled', clientOrderId, reason: 'cancel requested', ts: this.now() });
      }
    });
  }

  /** Open resting orders (for tests and stats). */
  restingCount(): number {
    return this.resting.size;
  }

  /** A resting order's estimated queue: visible quantity ahead of it and at its level (for tests and stats). */
  queuePosition(clientOrderId: string): { ahead: number; level: number; remaining: number } | undefined {
    const s = this.resting.get(clientOrderId);
    return s === undefined ? undefined : { ahead: s.ahead, level: s.level, remaining: s.remaining };
  }

  private arrive(order: Readonly<Order>): void {
    const book = this.options.book(order.symbol);
    if (!book?.isValid()) {
      this.emit({ type: 'rejected', clientOrderId: order.clientOrderId, reason: 'no valid book', ts: this.now() });
      return;
    }
    if (order.type === 'limit' && !(order.price !== undefined && order.price > 0)) {
      this.emit({
        type: 'rejected',
        clientOrderId: order.clientOrderId,
        reason: 'limit order without price',
        ts: this.now(),
      });
      return;
    }
    this.emit({ type: 'accepted', clientOrderId: order.clientOrderId, ts: this.now() });
    const state: Resting = { order, remaining: order.qty, fills: 0, ahead: 0, level: 0 };
    this.take(state, book);
    if (state.remaining <= EPS) return;
    if (order.type === 'market') {
      this.emit({
        type: 'cancelled',
        clientOrderId: order.clientOrderId,
        reason: 'book liquidity exhausted',
        ts: this.now(),
      });
    } else {
      // Joins the back of its level: what is visible there now is ahead of it.
      const own = order.side === 'buy' ? book.bids : book.asks;
      const i = findPrice(own.prices, order.price as number, order.side === 'buy');
      state.level = i >= 0 ? (own.qtys[i] as number) : 0;
      state.ahead = state.level;
      this.resting.set(order.clientOrderId, state);
    }
  }

  private takenOf(symbol: string): { bids: Map<number, Taken>; asks: Map<number, Taken> } {
    let t = this.taken.get(symbol);
    if (t === undefined) {
      t = { bids: new Map(), asks: new Map() };
      this.taken.set(symbol, t);
    }
    return t;
  }

  /** Takes liquidity from the opposite side up to the limit price (or without limit for market orders). */
  private take(state: Resting, book: OrderBook): void {
    const { order } = state;
    const buy = order.side === 'buy';
    const side = buy ? book.asks : book.bids;
    const limit = order.type === 'limit' ? (order.price as number) : buy ? Number.POSITIVE_INFINITY : 0;
    const taken = buy ? this.takenOf(order.symbol).asks : this.takenOf(order.symbol).bids;
    for (let i = 0; i < side.prices.length && state.remaining > EPS; i++) {
      const price = side.prices[i] as number;
      if (buy ? price > limit : price < limit) break;
      const visible = side.qtys[i] as number;
      let tk = taken.get(price);
      if (tk !== undefined && tk.seen !== visible) {
        // The level changed since it was taken from: the venue's newer quantity replaces what we took.
        taken.delete(price);
        tk = undefined;
      }
      const available = visible - (tk?.qty ?? 0);
      if (available <= EPS) continue;
      const qty = Math.min(state.remaining, available);
      if (tk === undefined) taken.set(price, { qty, seen: visible });
      else tk.qty += qty;
      this.fill(state, price, qty, 'taker');
    }
  }

  private fill(state: Resting, price: number, qty: number, liquidity: 'maker' | 'taker'): void {
    state.remaining -= qty;
    if (state.remaining < EPS) state.remaining = 0;
    state.fills++;
    const fill: Fill = {
      fillId: `${state.order.clientOrderId}-${state.fills}`,
      clientOrderId: state.order.clientOrderId,
      symbol: state.order.symbol,
      side: state.order.side,
      price,
      qty,
      fee: price * qty * (liquidity === 'maker' ? this.makerFee : this.takerFee),
      liquidity,
      ts: this.now(),
    };
    this.emit({ type: 'fill', fill });
  }

  /**
   * Depth updates replace the levels they name (liquidity taken there is visible again, queues are re-estimated);
   * public trades move resting orders' queues and fill them.
   */
  onMarketEvent(ev: MarketEvent): void {
    if (ev.kind === 'book') this.onBook(ev);
    else if (ev.kind === 'trade' && this.resting.size > 0) this.onTrade(ev);
  }

  private onBook(ev: BookEvent): void {
    const taken = this.taken.get(ev.symbol);
    if (taken !== undefined && ev.snapshot) {
      taken.bids.clear();
      taken.asks.clear();
    } else if (taken !== undefined) {
      if (taken.bids.size > 0) for (const [p] of ev.bids) taken.bids.delete(p);
      if (taken.asks.size > 0) for (const [p] of ev.asks) taken.asks.delete(p);
    }
    if (this.resting.size === 0) return;
    for (const state of this.resting.values()) {
      const o = state.order;
      if (o.symbol !== ev.symbol) continue;
      const levels = o.side === 'buy' ? ev.bids : ev.asks;
      let qty: number | undefined = ev.snapshot ? 0 : undefined;
      for (const [p, q] of levels) {
        if (p === o.price) {
          qty = q;
          break;
        }
      }
      if (qty !== undefined) requeue(state, qty);
    }
  }

  private onTrade(ev: TradeEvent): void {
    // What the print leaves for our orders: our own fills use it up, the public queue ahead of each order does not
    // (an earlier order of ours that it also passed was behind that same public volume).
    let printed = ev.qty;
    for (const state of this.resting.values()) {
      if (printed <= EPS) break;
      const o = state.order;
      if (o.symbol !== ev.symbol) continue;
      const limit = o.price as number;
      const buy = o.side === 'buy';
      let qty = 0;
      if (buy ? ev.price < limit : ev.price > limit) {
        // Printed through the price: the level was swept.
        state.ahead = 0;
        state.level = 0;
        qty = Math.min(state.remaining, printed);
      } else if (ev.price === limit && ev.side === (buy ? 'sell' : 'buy')) {
        const beyond = printed - state.ahead;
        state.ahead = Math.max(0, state.ahead - printed);
        state.level = Math.max(0, state.level - ev.qty);
        if (beyond > EPS) qty = Math.min(state.remaining, beyond);
      }
      if (qty <= EPS) continue;
      printed -= qty;
      this.fill(state, limit, qty, 'maker');
      if (state.remaining <= EPS) this.resting.delete(o.clientOrderId);
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const cancel of this.timers) cancel();
    this.timers.clear();
    this.resting.clear();
    this.taken.clear();
    this.inFlight.length = 0;
  }
}

/**
 * A depth update (or snapshot) set a resting order's level to `qty`: a fall beyond what prints explained is
 * cancellations spread evenly over the queue, so the volume ahead shrinks by its share; growth joins behind.
 */
function requeue(state: Resting, qty: number): void {
  if (qty < state.level && state.level > 0) state.ahead -= (state.level - qty) * (state.ahead / state.level);
  state.ahead = Math.max(0, Math.min(state.ahead, qty));
  state.level = qty;
}
