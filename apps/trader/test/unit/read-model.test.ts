import { describe, expect, it } from 'vitest';
import type { JournalEntry } from '../../src/journal/journal.js';
import type { Fill } from '../../src/model/types.js';
import { ReadModel, type ReadModelChange } from '../../src/read-model/read-model.js';
import type { TraderRecord } from '../../src/read-model/trader-record.js';

let seq = 0;
const entry = (type: string, data: unknown, ts = 1_000 + seq): TraderRecord => ({
  k: 'entry',
  entry: { seq: ++seq, ts, type, data } as JournalEntry,
});
const fill = (id: string, n: number, qty: number, price: number): Fill => ({
  fillId: `${id}-${n}`,
  clientOrderId: id,
  symbol: 'BTCUSDT',
  side: 'buy',
  price,
  qty,
  fee: 0.01,
  liquidity: 'taker',
  ts: 2_000 + n,
});

function feed(model: ReadModel, records: TraderRecord[], from = 1): number {
  let offset = from;
  for (const r of records) model.apply(offset++, r);
  return offset;
}

describe('ReadModel', () => {
  it('folds journal entries into orders, fills, positions and risk, and market records into marks', () => {
    seq = 0;
    const m = new ReadModel();
    const changes: ReadModelChange[] = [];
    m.onChange((c) => changes.push(c));
    feed(m, [
      entry('order.submitted', { clientOrderId: 'o1', symbol: 'BTCUSDT', side: 'buy', type: 'market', qty: 1 }),
      entry('order.accepted', { clientOrderId: 'o1' }),
      entry('fill', fill('o1', 1, 0.4, 100)),
      entry('fill', fill('o1', 2, 0.6, 110)),
      entry('order.submitted', {
        clientOrderId: 'o2',
        symbol: 'BTCUSDT',
        side: 'sell',
        type: 'limit',
        qty: 1,
        price: 200,
      }),
      entry('risk.state', { from: 'RUNNING', to: 'HALTED', reason: 'drill', by: 'operator' }),
      {
        k: 'market',
        ts: 5_000,
        books: [{ symbol: 'BTCUSDT', bid: 119, ask: 121, mid: 120, bids: [], asks: [], synced: true }],
      },
    ]);
    const o1 = m.order('o1');
    expect(o1?.status).toBe('filled');
    expect(o1?.filledQty).toBe(1);
    expect(o1?.avgPrice).toBeCloseTo(106, 9);
    expect(m.openOrderCount()).toBe(1);
    expect(m.recentFills({ limit: 10 }).map((f) => f.fillId)).toEqual(['o1-2', 'o1-1']);
    const pos = m.positions().find((p) => p.symbol === 'BTCUSDT');
    expect(pos?.qty).toBeCloseTo(1, 9);
    expect(pos?.unrealized).toBeCloseTo(14, 9);
    expect(m.riskState().mode).toBe('HALTED');
    expect(changes.filter((c) => c.type === 'fill').map((c) => c.offset)).toEqual([3, 4]);
  });

  it('ignores replays: records at or below its offset and entries at or below its journal sequence', () => {
    seq = 0;
    const m = new ReadModel();
    const records = [
      entry('order.submitted', { clientOrderId: 'o1', symbol: 'BTCUSDT', side: 'buy', type: 'market', qty: 1 }),
      entry('order.accepted', { clientOrderId: 'o1' }),
      entry('fill', fill('o1', 1, 1, 100)),
    ];
    feed(m, records);
    feed(m, records); // same offsets again
    const again = records.map((r) => r); // same entries at new offsets (a republish after an engine restart)
    feed(m, again, 10);
    expect(m.recentFills({ limit: 10 })).toHaveLength(1);
    expect(m.positions()[0]?.qty).toBe(1);
    expect(m.counters.duplicates).toBe(6);
  });

  it('round-trips through a snapshot, and replays history without applying it twice', () => {
    seq = 0;
    const m = new ReadModel();
    feed(m, [
      entry('order.submitted', { clientOrderId: 'o1', symbol: 'BTCUSDT', side: 'buy', type: 'market', qty: 2 }),
      entry('order.accepted', { clientOrderId: 'o1' }),
      entry('fill', fill('o1', 1, 1, 100)),
    ]);
    const copy = new ReadModel();
    copy.restore(JSON.parse(JSON.stringify(m.toJSON())));
    expect(copy.toJSON()).toEqual(m.toJSON());
    const seen: ReadModelChange[] = [];
    copy.onChange((c) => seen.push(c));
    copy.replayHistory(3, entry('fill', fill('o1', 1, 1, 100)));
    expect(seen).toEqual([expect.objectContaining({ type: 'fill', offset: 3, historic: true })]);
    expect(copy.positions()[0]?.qty).toBe(1);
    feed(copy, [entry('fill', fill('o1', 2, 1, 102))], 4);
    expect(copy.order('o1')?.status).toBe('filled');
  });

  it('keeps finished orders up to its bound, never dropping open ones', () => {
    seq = 0;
    const m = new ReadModel({ finishedOrders: 2 });
    const records: TraderRecord[] = [];
    for (let i = 0; i < 5; i++) {
      records.push(
        entry('order.submitted', {
          clientOrderId: `c${i}`,
          symbol: 'BTCUSDT',
          side: 'buy',
          type: 'limit',
          qty: 1,
          price: 1,
        }),
      );
      if (i < 4) records.push(entry('order.cancelled', { clientOrderId: `c${i}`, reason: 'test' }));
    }
    feed(m, records);
    expect(
      m
        .listOrders({ limit: 10 })
        .map((o) => o.clientOrderId)
        .sort(),
    ).toEqual(['c2', 'c3', 'c4']);
  });
});
