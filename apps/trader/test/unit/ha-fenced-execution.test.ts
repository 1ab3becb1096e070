import { describe, expect, it } from 'vitest';
import { FencedExecution } from '../../src/ha/fenced-execution.js';
import type { ExecutionClient, ExecutionEvent } from '../../src/model/execution-client.js';
import type { MarketEvent, Order } from '../../src/model/types.js';

/** A venue that records what reached it, in order (the paper venue's contract, without its matching). */
class RecordingVenue implements ExecutionClient {
  readonly name = 'recording';
  readonly venueStateSurvivesRestart = true;
  readonly sent: string[] = [];
  readonly market: MarketEvent[] = [];
  readonly reconciled: string[] = [];
  closed = 0;
  failNext = false;
  #listeners: ((e: ExecutionEvent) => void)[] = [];
  submit(order: Readonly<Order>): void {
    if (this.failNext) {
      this.failNext = false;
      throw new Error('venue socket closed');
    }
    this.sent.push(`submit ${order.clientOrderId}`);
    for (const l of this.#listeners) l({ type: 'accepted', clientOrderId: order.clientOrderId, ts: 1 });
  }
  cancel(clientOrderId: string): void {
    this.sent.push(`cancel ${clientOrderId}`);
  }
  onEvent(listener: (e: ExecutionEvent) => void): void {
    this.#listeners.push(listener);
  }
  onMarketEvent(ev: MarketEvent): void {
    this.market.push(ev);
  }
  reconcile(open: readonly Readonly<Order>[]): void {
    this.reconciled.push(...open.map((o) => o.clientOrderId));
  }
  async close(): Promise<void> {
    this.closed++;
  }
}

const order = (id: string): Order => ({
  clientOrderId: id,
  symbol: 'BTCUSDT',
  side: 'buy',
  type: 'limit',
  qty: 1,
  price: 100,
  status: 'submitted',
  filledQty: 0,
  avgPrice: 0,
  fees: 0,
  createdAt: 0,
  updatedAt: 0,
});

const settle = () => new Promise((resolve) => setTimeout(resolve, 0));

function fenced(options: { commit?: () => Promise<void>; leaseValid?: () => boolean } = {}) {
  const venue = new RecordingVenue();
  const refusals: string[] = [];
  const events: ExecutionEvent[] = [];
  const exec = new FencedExecution({
    inner: venue,
    commit: options.commit ?? (async () => {}),
    leaseValid: options.leaseValid ?? (() => true),
    onRefused: (reason) => refusals.push(reason),
  });
  exec.onEvent((e) => events.push(e));
  return { venue, exec, refusals, events };
}

describe('FencedExecution (the active engine under active/standby)', () => {
  it('sends a submit only after its entry is committed, and a cancel never overtakes it', async () => {
    let release: () => void = () => {};
    const committed = new Promise<void>((resolve) => {
      release = resolve;
    });
    const { venue, exec, events } = fenced({ commit: () => committed });
    exec.submit(order('a'));
    exec.cancel('a');
    await settle();
    expect(venue.sent).toEqual([]); // the commit is pending: nothing reached the venue, not even the cancel
    release();
    await settle();
    expect(venue.sent).toEqual(['submit a', 'cancel a']);
    expect(events).toEqual([{ type: 'accepted', clientOrderId: 'a', ts: 1 }]);
    expect(exec.refused).toBe(0);
  });

  it('reports an order whose entry cannot be committed as rejected, and sends nothing', async () => {
    const { venue, exec, refusals, events } = fenced({ commit: async () => Promise.reject(new Error('fenced')) });
    exec.submit(order('b'));
    await settle();
    expect(venue.sent).toEqual([]);
    expect(exec.refused).toBe(1);
    expect(refusals[0]).toMatch(/order b not sent: its journal entry is not committed to the event stream: fenced/);
    expect(events).toMatchObject([{ type: 'rejected', clientOrderId: 'b' }]);
  });

  it('sends nothing once the lease is not valid by its own clock: submits are rejected, cancels dropped', async () => {
    let valid = true;
    const { venue, exec, refusals, events } = fenced({ leaseValid: () => valid });
    exec.submit(order('c'));
    await settle();
    valid = false;
    exec.submit(order('d'));
    exec.cancel('c');
    await settle();
    expect(venue.sent).toEqual(['submit c']);
    expect(exec.refused).toBe(2);
    expect(refusals).toEqual([
      'order d not sent: the engine lease is not valid',
      'cancel of c not sent: the engine lease is not valid',
    ]);
    expect(events.map((e) => e.type)).toEqual(['accepted', 'rejected']);
  });

  it('keeps going after a venue action throws, and says so', async () => {
    const { venue, exec, refusals } = fenced();
    venue.failNext = true;
    exec.submit(order('e'));
    exec.submit(order('f'));
    await settle();
    expect(refusals).toEqual(['venue action failed: venue socket closed']);
    expect(venue.sent).toEqual(['submit f']);
  });

  it('passes the venue through: name, restart semantics, market events, reconciliation, close', async () => {
    const { venue, exec } = fenced();
    expect(exec.name).toBe('fenced-recording');
    expect(exec.venueStateSurvivesRestart).toBe(true);
    const trade = { type: 'trade', symbol: 'BTCUSDT' } as unknown as MarketEvent;
    exec.onMarketEvent?.(trade);
    exec.reconcile?.([order('g')]);
    await exec.close();
    expect(venue.market).toEqual([trade]);
    expect(venue.reconciled).toEqual(['g']);
    expect(venue.closed).toBe(1);
  });
});
