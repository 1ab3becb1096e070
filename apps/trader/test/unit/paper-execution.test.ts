import { describe, expect, it } from 'vitest';
import { PaperExecution } from '../../src/adapters/sim/paper-execution.js';
import { SimulatedClock } from '../../src/backtest/simulated-clock.js';
import { OrderBookkeeper } from '../../src/execution/order-state-machine.js';
import type { ExecutionEvent } from '../../src/model/execution-client.js';
import { OrderBook } from '../../src/model/order-book.js';
import type { BookEvent, Fill, Level, Order, OrderIntent, TradeEvent } from '../../src/model/types.js';

// The paper venue's fill model, rule by rule, on a simulated clock (no real timers): liquidity taken stays taken for
// the rest of the book update, resting orders queue behind the visible quantity, latency delays orders and cancels
// in the order they were sent.

const SYMBOL = 'BTCUSDT';

function setup(latency = 0) {
  const book = new OrderBook(SYMBOL);
  book.applySnapshot(
    [
      [99, 2],
      [98, 4],
    ],
    [
      [101, 1],
      [102, 2],
      [103, 5],
    ],
    1,
  );
  const clock = new SimulatedClock(1000);
  const events: ExecutionEvent[] = [];
  const ex = new PaperExecution({ book: () => book, clock, latency: () => latency, makerFeeBps: 1, takerFeeBps: 4 });
  ex.onEvent((e) => events.push(e));
  const fills = (id?: string): [number, number][] =>
    events
      .filter((e): e is { type: 'fill'; fill: Fill } => e.type === 'fill')
      .filter((e) => id === undefined || e.fill.clientOrderId === id)
      .map((e) => [e.fill.price, e.fill.qty]);
  const keeper = new OrderBookkeeper();
  let n = 0;
  const send = (intent: Omit<OrderIntent, 'symbol'>): Order => {
    const o = keeper.create(`o-${++n}`, { symbol: SYMBOL, ...intent }, 0);
    ex.submit(o);
    return o;
  };
  /** A depth update: applied to the book first, then shown to the venue (as the engine does). */
  const diff = (bids: Level[], asks: Level[]): void => {
    book.applyLevels(bids, asks);
    const ev: BookEvent = {
      kind: 'book',
      venue: 'binance',
      symbol: SYMBOL,
      snapshot: false,
      bids,
      asks,
      firstSeq: 2,
      lastSeq: 2,
      exchTs: 0,
    };
    ex.onMarketEvent(ev);
  };
  const trade = (price: number, qty: number, side: 'buy' | 'sell'): void => {
    const ev: TradeEvent = {
      kind: 'trade',
      venue: 'binance',
      symbol: SYMBOL,
      price,
      qty,
      side,
      tradeId: 't',
      exchTs: 0,
    };
    ex.onMarketEvent(ev);
  };
  return { book, clock, ex, events, fills, send, diff, trade };
}

describe('PaperExecution: taking liquidity', () => {
  it('a market order removes what it took: a second order in the same book update walks on from there', () => {
    const { clock, fills, send } = setup();
    const a = send({ side: 'buy', type: 'market', qty: 2 });
    const b = send({ side: 'buy', type: 'market', qty: 2 });
    clock.advanceTo(1000);
    expect(fills(a.clientOrderId)).toEqual([
      [101, 1],
      [102, 1],
    ]);
    // Before the model, b filled at 101 and 102 again: the same liquidity twice.
    expect(fills(b.clientOrderId)).toEqual([
      [102, 1],
      [103, 1],
    ]);
  });

  it('a depth update for a level replaces what was taken there; untouched levels stay taken', () => {
    const { clock, fills, send, diff } = setup();
    send({ side: 'buy', type: 'market', qty: 3 }); // takes 101 x1 and 102 x2
    clock.advanceTo(1000);
    diff([], [[101, 0.5]]); // the venue now shows 0.5 at 101; 102 not updated
    const c = send({ side: 'buy', type: 'market', qty: 2 });
    clock.advanceTo(1000);
    expect(fills(c.clientOrderId)).toEqual([
      [101, 0.5],
      [103, 1.5],
    ]);
    diff([], [[102, 2]]);
    const d = send({ side: 'buy', type: 'market', qty: 1 });
    clock.advanceTo(1000);
    expect(fills(d.clientOrderId)).toEqual([[102, 1]]);
  });

  it('a marketable limit order takes liquidity too, and what the visible book cannot give a market order is cancelled', () => {
    const { clock, events, fills, send, ex } = setup();
    const l = send({ side: 'buy', type: 'limit', qty: 4, price: 102 });
    clock.advanceTo(1000);
    expect(fills(l.clientOrderId)).toEqual([
      [101, 1],
      [102, 2],
    ]);
    expect(ex.queuePosition(l.clientOrderId)).toEqual({ ahead: 0, level: 0, remaining: 1 });
    const m = send({ side: 'buy', type: 'market', qty: 10 });
    clock.advanceTo(1000);
    expect(fills(m.clientOrderId)).toEqual([[103, 5]]);
    expect(events.at(-1)).toMatchObject({ type: 'cancelled', clientOrderId: m.clientOrderId });
  });

  it('a snapshot, or a level whose visible quantity changed, gives the liquidity back', () => {
    const { book, clock, fills, send, ex } = setup();
    send({ side: 'sell', type: 'market', qty: 2 }); // takes all of 99
    clock.advanceTo(1000);
    // A REST snapshot (not shown to the venue) with a new quantity at 99: the taken amount no longer applies.
    book.applySnapshot([[99, 3]], [[101, 1]], 5);
    const s = send({ side: 'sell', type: 'market', qty: 1 });
    clock.advanceTo(1000);
    expect(fills(s.clientOrderId)).toEqual([[99, 1]]);
    ex.onMarketEvent({
      kind: 'book',
      venue: 'binance',
      symbol: SYMBOL,
      snapshot: true,
      bids: [[99, 3]],
      asks: [[101, 1]],
      firstSeq: 6,
      lastSeq: 6,
      exchTs: 0,
    });
    const t = send({ side: 'sell', type: 'market', qty: 3 });
    clock.advanceTo(1000);
    expect(fills(t.clientOrderId)).toEqual([[99, 3]]);
  });
});

describe('PaperExecution: queue position of resting orders', () => {
  it('queues behind the visible quantity at its price and fills only with prints beyond it', () => {
    const { clock, fills, send, trade, ex } = setup();
    const o = send({ side: 'buy', type: 'limit', qty: 1, price: 99 });
    clock.advanceTo(1000);
    expect(ex.queuePosition(o.clientOrderId)).toEqual({ ahead: 2, level: 2, remaining: 1 });
    trade(99, 1.5, 'sell');
    expect(fills()).toEqual([]);
    expect(ex.queuePosition(o.clientOrderId)?.ahead).toBeCloseTo(0.5);
    trade(99, 5, 'buy'); // a buyer at 99 is not selling into the bid queue
    expect(fills()).toEqual([]);
    trade(99, 0.8, 'sell'); // 0.5 ahead, then 0.3 for us
    expect(fills(o.clientOrderId)).toEqual([[99, expect.closeTo(0.3, 12)]]);
    trade(99, 2, 'sell');
    expect(
      fills(o.clientOrderId)
        .map(([, q]) => q)
        .reduce((a, b) => a + b, 0),
    ).toBeCloseTo(1, 12);
    expect(ex.restingCount()).toBe(0);
  });

  it('an order improving the best price has nobody ahead', () => {
    const { clock, fills, send, trade } = setup();
    const o = send({ side: 'sell', type: 'limit', qty: 1, price: 100.5 });
    clock.advanceTo(1000);
    trade(100.5, 0.4, 'buy');
    expect(fills(o.clientOrderId)).toEqual([[100.5, 0.4]]);
  });

  it('a shrinking level takes cancellations evenly from the queue; growth joins behind', () => {
    const { clock, fills, send, diff, trade, ex } = setup();
    const o = send({ side: 'buy', type: 'limit', qty: 1, price: 98 });
    clock.advanceTo(1000);
    expect(ex.queuePosition(o.clientOrderId)).toEqual({ ahead: 4, level: 4, remaining: 1 });
    diff([[98, 8]], []); // 4 more join behind
    expect(ex.queuePosition(o.clientOrderId)).toEqual({ ahead: 4, level: 8, remaining: 1 });
    diff([[98, 6]], []); // 2 cancelled: half the queue is ahead of us, so 1 of them was ahead
    expect(ex.queuePosition(o.clientOrderId)).toEqual({ ahead: 3, level: 6, remaining: 1 });
    trade(98, 2, 'sell'); // the print is counted off the level: the next update showing 4 is no cancellation
    diff([[98, 4]], []);
    expect(ex.queuePosition(o.clientOrderId)).toEqual({ ahead: 1, level: 4, remaining: 1 });
    diff([[98, 0.5]], []); // never more ahead than the level holds
    expect(ex.queuePosition(o.clientOrderId)?.ahead).toBeLessThanOrEqual(0.5);
    trade(98, 1.5, 'sell');
    expect(fills(o.clientOrderId)).toEqual([[98, 1]]);
  });

  it('a print through the price sweeps the level: the order fills up to the printed quantity', () => {
    const { clock, fills, send, trade } = setup();
    const o = send({ side: 'buy', type: 'limit', qty: 1, price: 98 });
    clock.advanceTo(1000);
    trade(97.5, 0.25, 'sell');
    expect(fills(o.clientOrderId)).toEqual([[98, 0.25]]);
  });

  it('two own orders at one price: the later one waits behind the earlier one', () => {
    const { clock, fills, send, trade } = setup();
    const first = send({ side: 'buy', type: 'limit', qty: 1, price: 99 });
    const second = send({ side: 'buy', type: 'limit', qty: 1, price: 99 });
    clock.advanceTo(1000);
    trade(99, 2.5, 'sell'); // 2 ahead of both, then 0.5 for the first
    expect(fills(first.clientOrderId)).toEqual([[99, 0.5]]);
    expect(fills(second.clientOrderId)).toEqual([]);
    trade(99, 1, 'sell'); // the rest of the first, then 0.5 for the second
    expect(fills(first.clientOrderId)).toEqual([
      [99, 0.5],
      [99, 0.5],
    ]);
    expect(fills(second.clientOrderId)).toEqual([[99, 0.5]]);
  });
});

describe('PaperExecution: latency on placement and cancel', () => {
  it('an order acts on the book as it is when it arrives, not when it was sent', () => {
    const { clock, fills, send, diff } = setup(5);
    const o = send({ side: 'buy', type: 'market', qty: 1 });
    clock.advanceTo(1003);
    expect(fills()).toEqual([]);
    diff([], [[101, 0]]); // 101 is gone before the order gets there
    clock.advanceTo(1005);
    expect(fills(o.clientOrderId)).toEqual([[102, 1]]);
  });

  it('a cancel racing a fill loses when the fill comes first, and wins when it arrives first', () => {
    const { clock, events, fills, send, trade, ex } = setup(5);
    const a = send({ side: 'buy', type: 'limit', qty: 1, price: 100 });
    clock.advanceTo(1005);
    ex.cancel(a.clientOrderId); // reaches the venue at 1010
    clock.advanceTo(1008);
    trade(100, 1, 'sell');
    clock.advanceTo(1010);
    expect(fills(a.clientOrderId)).toEqual([[100, 1]]);
    expect(events.some((e) => e.type === 'cancelled' && e.clientOrderId === a.clientOrderId)).toBe(false);

    const b = send({ side: 'buy', type: 'limit', qty: 1, price: 100 });
    clock.advanceTo(1015);
    ex.cancel(b.clientOrderId);
    clock.advanceTo(1020);
    expect(events.at(-1)).toMatchObject({ type: 'cancelled', clientOrderId: b.clientOrderId });
    trade(100, 1, 'sell');
    expect(fills(b.clientOrderId)).toEqual([]);
  });

  it('a cancel never overtakes its order: messages reach the venue in the order they were sent', () => {
    const book = setup();
    const draws = [10, 1];
    const clock = new SimulatedClock(0);
    const events: ExecutionEvent[] = [];
    const ex = new PaperExecution({ book: () => book.book, clock, latency: () => draws.shift() ?? 0 });
    ex.onEvent((e) => events.push(e));
    const o = new OrderBookkeeper().create('x-1', { symbol: SYMBOL, side: 'buy', type: 'limit', qty: 1, price: 97 }, 0);
    ex.submit(o); // arrives at 10
    clock.advanceTo(2);
    ex.cancel('x-1'); // drawn 1 ms, but held behind the order: arrives at 10, after it
    clock.advanceTo(5);
    expect(events).toEqual([]);
    clock.advanceTo(10);
    expect(events.map((e) => e.type)).toEqual(['accepted', 'cancelled']);
    expect(ex.restingCount()).toBe(0);
  });

  it('keeps send order when real timers of nearly equal due times fire out of order', () => {
    const { book } = setup();
    const timers: (() => void)[] = [];
    const clock = {
      now: () => 0,
      monotonic: () => 0,
      setTimeout: (fn: () => void) => {
        timers.push(fn);
        return () => {};
      },
      setInterval: () => () => {},
    };
    const events: ExecutionEvent[] = [];
    const ex = new PaperExecution({ book: () => book, clock, latency: () => 1 });
    ex.onEvent((e) => events.push(e));
    const o = new OrderBookkeeper().create('y-1', { symbol: SYMBOL, side: 'buy', type: 'limit', qty: 1, price: 97 }, 0);
    ex.submit(o);
    ex.cancel('y-1');
    (timers[1] as () => void)(); // the cancel's timer first: the order queued before it goes first
    (timers[0] as () => void)(); // nothing left for it
    expect(events.map((e) => e.type)).toEqual(['accepted', 'cancelled']);
  });
});
