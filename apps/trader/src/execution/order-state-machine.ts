import { TraderError } from '../errors.js';
import type { Fill, Order, OrderIntent, OrderStatus } from '../model/types.js';

const TRANSITIONS: Readonly<Record<OrderStatus, readonly OrderStatus[]>> = {
  submitted: ['accepted', 'rejected', 'cancelled'],
  accepted: ['partially_filled', 'filled', 'cancelled'],
  partially_filled: ['partially_filled', 'filled', 'cancelled'],
  filled: [],
  cancelled: [],
  rejected: [],
};

/** True for filled, cancelled and rejected. */
export function isTerminal(status: OrderStatus): boolean {
  return TRANSITIONS[status].length === 0;
}

/** True when `from -> to` is a legal transition. */
export function canTransition(from: OrderStatus, to: OrderStatus): boolean {
  return TRANSITIONS[from].includes(to);
}

const QTY_EPS = 1e-9;

/**
 * The orders of the trader and their state machine: submitted -> accepted | rejected | cancelled;
 * accepted / partially_filled -> partially_filled | filled | cancelled. Illegal transitions throw
 * `E_TRADER_ORDER_STATE`; a fill already applied (same fill id) is ignored, so replays are idempotent.
 */
export class OrderBookkeeper {
  private readonly orders = new Map<string, Order>();
  private readonly open = new Map<string, Order>();
  private readonly fillIds = new Set<string>();
  /** Fill ids of each open order (a journal snapshot carries them, so a redelivered fill stays a duplicate). */
  private readonly openFills = new Map<string, string[]>();

  /** Creates an order in `submitted`. Throws on a duplicate client order id. */
  create(clientOrderId: string, intent: OrderIntent, now: number): Order {
    if (this.orders.has(clientOrderId)) {
      throw new TraderError('E_TRADER_ORDER_STATE', `duplicate client order id ${clientOrderId}`, {
        field: 'clientOrderId',
      });
    }
    const order: Order = {
      clientOrderId,
      symbol: intent.symbol,
      side: intent.side,
      type: intent.type,
      qty: intent.qty,
      ...(intent.price === undefined ? {} : { price: intent.price }),
      status: 'submitted',
      filledQty: 0,
      avgPrice: 0,
      fees: 0,
      createdAt: now,
      updatedAt: now,
    };
    this.orders.set(clientOrderId, order);
    this.open.set(clientOrderId, order);
    return order;
  }

  /**
   * Puts back an open order from a journal snapshot, with the ids of the fills it had.
   * @throws TraderError `E_TRADER_ORDER_STATE` for a duplicate id or an order in a terminal state.
   */
  restore(order: Readonly<Order>, fillIds: readonly string[]): Order {
    if (this.orders.has(order.clientOrderId) || isTerminal(order.status))
      throw new TraderError('E_TRADER_ORDER_STATE', `cannot restore order ${order.clientOrderId} (${order.status})`, {
        field: 'clientOrderId',
      });
    const o: Order = { ...order };
    this.orders.set(o.clientOrderId, o);
    this.open.set(o.clientOrderId, o);
    for (const id of fillIds) this.fillIds.add(id);
    if (fillIds.length > 0) this.openFills.set(o.clientOrderId, [...fillIds]);
    return o;
  }

  /** Ids of the fills an open order has had. */
  fillIdsOf(clientOrderId: string): readonly string[] {
    return this.openFills.get(clientOrderId) ?? [];
  }

  get(clientOrderId: string): Order | undefined {
    return this.orders.get(clientOrderId);
  }

  /** Orders not yet in a terminal state. */
  openOrders(): IterableIterator<Order> {
    return this.open.values();
  }

  /** Number of orders not yet in a terminal state. */
  get openCount(): number {
    return this.open.size;
  }

  /** Every order. */
  all(): IterableIterator<Order> {
    return this.orders.values();
  }

  /** Number of orders. */
  get size(): number {
    return this.orders.size;
  }

  /** Signed open (unfilled) quantity of a symbol's open orders. */
  openQty(symbol: string): number {
    let q = 0;
    for (const o of this.open.values()) {
      if (o.symbol === symbol) q += (o.side === 'buy' ? 1 : -1) * (o.qty - o.filledQty);
    }
    return q;
  }

  private must(clientOrderId: string): Order {
    const o = this.orders.get(clientOrderId);
    if (!o) throw new TraderError('E_TRADER_ORDER_STATE', `unknown order ${clientOrderId}`, { field: 'clientOrderId' });
    return o;
  }

  /** Moves an order to `to`; throws on an illegal transition. */
  transition(clientOrderId: string, to: OrderStatus, now: number, reason?: string): Order {
    const o = this.must(clientOrderId);
    if (!canTransition(o.status, to)) {
      throw new TraderError('E_TRADER_ORDER_STATE', `order ${clientOrderId}: illegal transition ${o.status} -> ${to}`, {
        field: 'status',
      });
    }
    o.status = to;
    o.updatedAt = now;
    if (reason !== undefined && to === 'rejected') o.rejectReason = reason;
    if (isTerminal(to)) {
      this.open.delete(clientOrderId);
      this.openFills.delete(clientOrderId);
    }
    return o;
  }

  /** True when a fill id has been applied. */
  hasFill(fillId: string): boolean {
    return this.fillIds.has(fillId);
  }

  /** Applies a fill: quantity, average price, fees and partially_filled/filled. Returns false for a repeated fill. */
  applyFill(fill: Fill): boolean {
    if (this.fillIds.has(fill.fillId)) return false;
    const o = this.must(fill.clientOrderId);
    if (o.filledQty + fill.qty > o.qty + QTY_EPS) {
      throw new TraderError('E_TRADER_ORDER_STATE', `order ${o.clientOrderId}: overfill`, { field: 'qty' });
    }
    const done = o.filledQty + fill.qty >= o.qty - QTY_EPS;
    this.transition(o.clientOrderId, done ? 'filled' : 'partially_filled', fill.ts);
    this.fillIds.add(fill.fillId);
    if (!done) {
      const ids = this.openFills.get(o.clientOrderId);
      if (ids === undefined) this.openFills.set(o.clientOrderId, [fill.fillId]);
      else ids.push(fill.fillId);
    }
    o.avgPrice = (o.avgPrice * o.filledQty + fill.price * fill.qty) / (o.filledQty + fill.qty);
    o.filledQty = done ? o.qty : o.filledQty + fill.qty;
    o.fees += fill.fee;
    return true;
  }
}
