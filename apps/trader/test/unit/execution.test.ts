import { describe, expect, it } from 'vitest';
import { PaperExecution } from '../../src/adapters/sim/paper-execution.js';
import { isTraderError } from '../../src/errors.js';
import { ClientOrderIdGenerator } from '../../src/execution/client-order-id.js';
import { canTransition, isTerminal, OrderBookkeeper } from '../../src/execution/order-state-machine.js';
import type { ExecutionEvent } from '../../src/model/execution-client.js';
import { OrderBook } from '../../src/model/order-book.js';
import type { Fill, Order, OrderIntent } from '../../src/model/types.js';

const tick = () => new Promise((r) => setTimeout(r, 5));

function liveBook(): OrderBook {
  const b = new OrderBook('BTCUSDT');
  b.applySnapshot(
    [
      [99, 1],
      [98, 2],
    ],
    [
      [101, 1],
      [102, 2],
      [103, 5],
    ],
    1,
  );
  return b;
}

function order(id: string, intent: OrderIntent): Order {
  return new OrderBookkeeper().create(id, intent, 0);
}

function paper(book: OrderBook | null = liveBook()) {
  const events: ExecutionEvent[] = [];
  const ex = new PaperExecution({
    book: () => book ?? undefined,
    latencyMs: 0,
    makerFeeBps: 1,
    takerFeeBps: 4,
    now: () => 42,
  });
  ex.onEvent((e) => events.push(e));
  const fills = () => events.filter((e): e is { type: 'fill'; fill: Fill } => e.type === 'fill').map((e) => e.fill);
  return { ex, events, fills };
}

describe('order state machine', () => {
  it('allows only the documented transitions', () => {
    expect(canTransition('submitted', 'accepted')).toBe(true);
    expect(canTransition('submitted', 'filled')).toBe(false);
    expect(canTransition('accepted', 'partially_filled')).toBe(true);
    expect(canTransition('partially_filled', 'cancelled')).toBe(true);
    expect(canTransition('filled', 'cancelled')).toBe(false);
    expect(isTerminal('rejected')).toBe(true);
    expect(isTerminal('accepted')).toBe(false);
  });

  it('tracks fills, average price, fees and open quantity; rejects duplicates, overfills and illegal moves', () => {
    const k = new OrderBookkeeper();
    k.create('a-1', { symbol: 'X', side: 'buy', type: 'limit', qty: 2, price: 10 }, 1);
    k.create('a-2', { symbol: 'X', side: 'sell', type: 'market', qty: 1 }, 1);
    expect(k.openQty('X')).toBe(1);
    expect(() => k.create('a-1', { symbol: 'X', side: 'buy', type: 'market', qty: 1 }, 2)).toThrow(/duplicate/);
    expect(() => k.transition('a-1', 'filled', 2)).toThrow(/illegal transition submitted -> filled/);
    k.transition('a-1', 'accepted', 2);
    const f = (n: number, qty: number, price: number): Fill => ({
      fillId: `a-1-${n}`,
      clientOrderId: 'a-1',
      symbol: 'X',
      side: 'buy',
      price,
      qty,
      fee: 0.01,
      liquidity: 'maker',
      ts: 3,
    });
    expect(k.applyFill(f(1, 0.5, 10))).toBe(true);
    expect(k.get('a-1')?.status).toBe('partially_filled');
    expect(k.applyFill(f(1, 0.5, 10))).toBe(false); // same fill id: replay-safe
    expect(k.applyFill(f(2, 1.5, 9))).toBe(true);
    expect(k.get('a-1')).toMatchObject({ status: 'filled', filledQty: 2, avgPrice: 9.25, fees: 0.02 });
    expect(() => k.applyFill(f(3, 0.1, 9))).toThrow();
    k.transition('a-2', 'rejected', 4, 'no book');
    expect(k.get('a-2')?.rejectReason).toBe('no book');
    expect([...k.openOrders()]).toHaveLength(0);
    expect(k.size).toBe(2);
    try {
      k.transition('nope', 'accepted', 1);
    } catch (e) {
      expect(isTraderError(e) && e.code).toBe('E_TRADER_ORDER_STATE');
    }
    const k2 = new OrderBookkeeper();
    k2.create('b-1', { symbol: 'X', side: 'buy', type: 'market', qty: 1 }, 0);
    k2.transition('b-1', 'accepted', 0);
    expect(() => k2.applyFill({ ...f(1, 2, 1), fillId: 'b-1-1', clientOrderId: 'b-1' })).toThrow(/overfill/);
  });
});

describe('ClientOrderIdGenerator', () => {
  it('is deterministic and continues after the highest id seen', () => {
    const g = new ClientOrderIdGenerator('t1');
    expect(g.next()).toBe('t1-0000000001');
    const g2 = new ClientOrderIdGenerator('t1');
    g2.advancePast('t1-0000000041');
    g2.advancePast('t1-0000000007');
    g2.advancePast('other-0000000999');
    expect(g2.next()).toBe('t1-0000000042');
    expect(g2.last).toBe(42);
  });
});

describe('PaperExecution', () => {
  it('walks the book for market orders with taker fees and cancels what the book cannot fill', async () => {
    const { ex, events, fills } = paper();
    ex.submit(order('m-1', { symbol: 'BTCUSDT', side: 'buy', type: 'market', qty: 2.5 }));
    ex.submit(order('m-2', { symbol: 'BTCUSDT', side: 'sell', type: 'market', qty: 10 }));
    await tick();
    const f1 = fills().filter((f) => f.clientOrderId === 'm-1');
    expect(f1.map((f) => [f.price, f.qty])).toEqual([
      [101, 1],
      [102, 1.5],
    ]);
    expect(f1[0]).toMatchObject({ fillId: 'm-1-1', liquidity: 'taker', fee: 101 * 1 * 4e-4, ts: 42 });
    expect(events.find((e) => e.type === 'cancelled')).toMatchObject({
      clientOrderId: 'm-2',
      reason: 'book liquidity exhausted',
    });
    expect(
      fills()
        .filter((f) => f.clientOrderId === 'm-2')
        .reduce((s, f) => s + f.qty, 0),
    ).toBe(3);
    expect(events[0]).toMatchObject({ type: 'accepted', clientOrderId: 'm-1' });
  });

  it('rests limit orders behind the visible queue and fills them (maker) when trades reach or print through them', async () => {
    const { ex, fills } = paper();
    ex.submit(order('l-1', { symbol: 'BTCUSDT', side: 'buy', type: 'limit', qty: 2, price: 99 }));
    ex.submit(order('l-2', { symbol: 'BTCUSDT', side: 'sell', type: 'limit', qty: 1, price: 101.5 }));
    await tick();
    expect(ex.restingCount()).toBe(2);
    const trade = (price: number, qty: number) => ({
      kind: 'trade' as const,
      venue: 'binance' as const,
      symbol: 'BTCUSDT',
      price,
      qty,
      side: 'sell' as const,
      tradeId: 't',
      exchTs: 0,
    });
    ex.onMarketEvent(trade(99, 1)); // at the price: the 1 visible at 99 when it arrived is ahead of it
    expect(fills()).toHaveLength(0);
    ex.onMarketEvent({ ...trade(98.9, 0.5), symbol: 'ETHUSDT' });
    expect(fills()).toHaveLength(0);
    ex.onMarketEvent(trade(98.9, 0.5)); // through the price
    ex.onMarketEvent(trade(98, 5));
    expect(fills().map((f) => [f.clientOrderId, f.price, f.qty, f.liquidity])).toEqual([
      ['l-1', 99, 0.5, 'maker'],
      ['l-1', 99, 1.5, 'maker'],
    ]);
    expect(fills()[0]?.fee).toBeCloseTo(99 * 0.5 * 1e-4);
    ex.onMarketEvent(trade(102, 3));
    expect(fills().at(-1)).toMatchObject({ clientOrderId: 'l-2', price: 101.5, qty: 1 });
    expect(ex.restingCount()).toBe(0);
  });

  it('takes liquidity for a marketable limit order up to its price, rests the rest, and cancels on request', async () => {
    const { ex, events, fills } = paper();
    ex.submit(order('x-1', { symbol: 'BTCUSDT', side: 'buy', type: 'limit', qty: 4, price: 102 }));
    await tick();
    expect(fills().map((f) => [f.price, f.qty])).toEqual([
      [101, 1],
      [102, 2],
    ]);
    expect(ex.restingCount()).toBe(1);
    ex.cancel('x-1');
    ex.cancel('unknown');
    await tick();
    expect(events.filter((e) => e.type === 'cancelled')).toEqual([expect.objectContaining({ clientOrderId: 'x-1' })]);
  });

  it('rejects without a valid book or a limit price, ignores book updates, and stops on close', async () => {
    const { ex, events } = paper(null);
    expect(ex.venueStateSurvivesRestart).toBe(false);
    ex.submit(order('r-1', { symbol: 'BTCUSDT', side: 'buy', type: 'market', qty: 1 }));
    await tick();
    expect(events).toEqual([expect.objectContaining({ type: 'rejected', reason: 'no valid book' })]);
    const p = paper();
    p.ex.submit(order('r-2', { symbol: 'BTCUSDT', side: 'buy', type: 'limit', qty: 1 }));
    await tick();
    expect(p.events[0]).toMatchObject({ type: 'rejected', reason: 'limit order without price' });
    p.ex.submit(order('r-3', { symbol: 'BTCUSDT', side: 'buy', type: 'limit', qty: 1, price: 99 }));
    await tick();
    // A book update, even one through the limit, is not a trade.
    p.ex.onMarketEvent({
      kind: 'book',
      venue: 'binance',
      symbol: 'BTCUSDT',
      snapshot: false,
      bids: [],
      asks: [[98, 5]],
      firstSeq: 2,
      lastSeq: 2,
      exchTs: 0,
    });
    expect(p.fills()).toEqual([]);
    p.ex.onMarketEvent({
      kind: 'trade',
      venue: 'binance',
      symbol: 'BTCUSDT',
      price: 98,
      qty: 5,
      side: 'sell',
      tradeId: 'x',
      exchTs: 0,
    });
    expect(p.fills()).toEqual([expect.objectContaining({ fillId: 'r-3-1', qty: 1 })]);
    p.ex.submit(order('r-4', { symbol: 'BTCUSDT', side: 'buy', type: 'market', qty: 1 }));
    await p.ex.close();
    await p.ex.close();
    await tick();
    expect(p.events.some((e) => e.type !== 'fill' && e.clientOrderId === 'r-4')).toBe(false);
    expect(() => new PaperExecution({ book: () => undefined, latencyMs: -1 })).toThrow(/latencyMs/);
  });
});
