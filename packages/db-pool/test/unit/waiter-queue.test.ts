import { describe, expect, it } from 'vitest';
import { type QueuedWaiter, WaiterQueue } from '../../src/internal/waiter-queue.js';

const waiter = (priority: number, id: number): QueuedWaiter<number> & { id: number } => ({
  id,
  settled: false,
  priority,
  expiresAt: 0,
  resolve: () => {},
  reject: () => {},
});

describe('WaiterQueue', () => {
  it('serves the most urgent priority first, FIFO within a priority', () => {
    const q = new WaiterQueue<number>(3);
    const ws = [waiter(2, 1), waiter(1, 2), waiter(0, 3), waiter(1, 4), waiter(0, 5)];
    for (const w of ws) q.push(w);
    const order: number[] = [];
    for (let w = q.shift(); w !== undefined; w = q.shift()) order.push((w as { id: number } & typeof w).id);
    expect(order).toEqual([3, 5, 2, 4, 1]);
    expect(q.shift()).toBeUndefined();
  });

  it('maps priorities to lanes: truncated, out of range means the last lane', () => {
    const q = new WaiterQueue<number>(3);
    expect(q.lane(0)).toBe(0);
    expect(q.lane(1.7)).toBe(1);
    expect(q.lane(2)).toBe(2);
    expect(q.lane(7)).toBe(2);
    expect(q.lane(-1)).toBe(2);
    expect(q.lane(Number.NaN)).toBe(0);
  });

  it('skips settled waiters, visits live ones, clears, and compacts long queues', () => {
    const q = new WaiterQueue<number>(1);
    const ws = Array.from({ length: 3000 }, (_, i) => waiter(0, i));
    for (const w of ws) q.push(w);
    ws[0]!.settled = true;
    ws[1]!.settled = true;
    expect((q.shift() as { id: number } | undefined)?.id).toBe(2);
    for (let i = 0; i < 1500; i++) q.shift();
    let live = 0;
    q.forEach(() => {
      live++;
    });
    expect(live).toBe(3000 - 3 - 1500);
    expect((q.shift() as { id: number } | undefined)?.id).toBe(1503);
    q.clear();
    expect(q.shift()).toBeUndefined();
    let after = 0;
    q.forEach(() => {
      after++;
    });
    expect(after).toBe(0);
  });
});
