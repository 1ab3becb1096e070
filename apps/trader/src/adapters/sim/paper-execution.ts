import { TraderError } from '../../errors.js';
import { type CancelTimer, type Clock, SYSTEM_CLOCK } from '../../internal/clock.js';
import type { ExecutionClient, ExecutionEvent } from '../../model/execution-client.js';
import type { OrderBook } from '../../model/order-book.js';
import type { Fill, MarketEvent, Order } from '../../model/types.js';

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
}

const EPS = 1e-12;

/**
 * Paper execution against the live book. After `latencyMs`: a market order walks the opposite side level by level
 * (taker fee), and what the visible book cannot fill is cancelled; a marketable limit order takes liquidity up to
 * its price and rests the remainder; a resting limit order fills (maker fee) when a public trade prints through its
 * price (strictly better than the limit: a trade at the limit may be queue ahead of us), up to the printed quantity.
 * The simulated fills do not remove liquidity from the book the trader sees; see the README.
 * The venue lives in this process: its resting orders die with it ({@link venueStateSurvivesRestart} is false).
 */
export class PaperExecution implements ExecutionClient {
  readonly name = 'paper';
  readonly venueStateSurvivesRestart = false;
  private readonly listeners: ((e: ExecutionEvent) => void)[] = [];
  private readonly resting = new Map<string, Resting>();
  private readonly timers = new Set<CancelTimer>();
  private readonly latencyMs: number;
  private readonly makerFee: number;
  private readonly takerFee: number;
  private readonly now: () => number;
  private readonly clock: Clock;
  private readonly latency: () => number;
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

  private later(fn: () => void): void {
    if (this.closed) return;
    const t = this.clock.setTimeout(() => {
      this.timers.delete(t);
      if (!this.closed) fn();
    }, this.latency());
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
    const state: Resting = { order, remaining: order.qty, fills: 0 };
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
      this.resting.set(order.clientOrderId, state);
    }
  }

  /** Takes liquidity from the opposite side up to the limit price (or without limit for market orders). */
  private take(state: Resting, book: OrderBook): void {
    const { order } = state;
    const buy = order.side === 'buy';
    const side = buy ? book.asks : book.bids;
    const limit = order.type === 'limit' ? (order.price as number) : buy ? Number.POSITIVE_INFINITY : 0;
    for (let i = 0; i < side.prices.length && state.remaining > EPS; i++) {
      const price = side.prices[i] as number;
      if (buy ? price > limit : price < limit) break;
      const qty = Math.min(state.remaining, side.qtys[i] as number);
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

  /** Public trades drive fills of resting limit orders that the print went through; book updates do nothing. */
  onMarketEvent(ev: MarketEvent): void {
    if (this.resting.size === 0 || ev.kind !== 'trade') return;
    let printed = ev.qty;
    for (const state of this.resting.values()) {
      if (printed <= EPS) break;
      const o = state.order;
      if (o.symbol !== ev.symbol) continue;
      const limit = o.price as number;
      const through = o.side === 'buy' ? ev.price < limit : ev.price > limit;
      if (!through) continue;
      const qty = Math.min(state.remaining, printed);
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
  }
}
