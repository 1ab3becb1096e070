import { afterEach, describe, expect, it, vi } from 'vitest';
import { isDbPoolError, isPoolExhaustedError, isQueryTimeoutError } from '../../src/index.js';
import { AcquireQueue } from '../../src/internal/acquire-queue.js';
import { IdleStack } from '../../src/internal/idle-stack.js';

const isAborted = (e: unknown) => isDbPoolError(e) && e.code === 'E_DB_ABORTED';
const item = (id: number, lastUsedAt: number) => ({ id, lastUsedAt });

describe('IdleStack', () => {
  it('hands out the most recently used item first', () => {
    const s = new IdleStack<ReturnType<typeof item>>();
    s.push(item(1, 10));
    s.push(item(2, 20));
    expect(s.pop()?.id).toBe(2);
    expect(s.pop()?.id).toBe(1);
    expect(s.pop()).toBeUndefined();
  });

  it('evicts items idle for idleMs, least recently used first, keeping `keep` idle', () => {
    const s = new IdleStack<ReturnType<typeof item>>();
    for (const [id, at] of [
      [1, 0],
      [2, 10],
      [3, 50],
      [4, 95],
    ] as const)
      s.push(item(id, at));
    // now 100, idle >= 40 -> 1, 2, 3 qualify; keep 2 -> only 1 and 2 go.
    expect(s.evictIdle(100, 40, 2).map((i) => i.id)).toEqual([1, 2]);
    expect(s.length).toBe(2);
    expect(s.pop()?.id).toBe(4);
    expect(s.takeAll().map((i) => i.id)).toEqual([3]);
    expect(s.length).toBe(0);
  });
});

describe('AcquireQueue', () => {
  afterEach(() => {
    vi.useRealTimers();
  });
  const make = (maxWaitingClients = 10, acquireTimeoutMs = 1_000) => {
    const counters = { queueFull: 0, acquireTimeouts: 0 };
    const q = new AcquireQueue<string>('h:5432', { acquireTimeoutMs, maxWaitingClients }, counters);
    return { q, counters };
  };

  it('hands values to the most urgent waiter and reports when nobody waits', async () => {
    const { q } = make();
    expect(q.handOff('none')).toBe(false);
    const low = q.enqueue(2, 0, undefined, 0);
    const high = q.enqueue(0, 0, undefined, 0);
    expect(q.count).toBe(2);
    expect(q.handOff('a')).toBe(true);
    expect(q.handOff('b')).toBe(true);
    expect(await high).toBe('a');
    expect(await low).toBe('b');
    expect(q.count).toBe(0);
    q.stop();
  });

  it('fails fast when full, and at once for an already aborted signal', async () => {
    const { q, counters } = make(1);
    const first = q.enqueue(0, 0, undefined, 0);
    const full = await q.enqueue(0, 0, undefined, 0).catch((e) => e);
    expect(isPoolExhaustedError(full) && full.code).toBe('E_DB_POOL_QUEUE_FULL');
    expect(counters.queueFull).toBe(1);
    q.handOff('x');
    await first;
    const aborted = await q.enqueue(0, 0, AbortSignal.abort(new Error('gone')), 0).catch((e) => e);
    expect(isAborted(aborted)).toBe(true);
    expect(q.count).toBe(0);
    q.stop();
  });

  it('an abort removes the waiter; the next hand-off goes to the one behind it', async () => {
    const { q } = make();
    const controller = new AbortController();
    const gone = q.enqueue(0, 0, controller.signal, 0).catch((e) => e);
    const kept = q.enqueue(0, 0, undefined, 0);
    controller.abort();
    expect(isAborted(await gone)).toBe(true);
    expect(q.count).toBe(1);
    q.handOff('y');
    expect(await kept).toBe('y');
    q.stop();
  });

  it('expires waiters with one timer: the call deadline as QueryTimeoutError, else the acquire timeout', async () => {
    vi.useFakeTimers({ now: 1_000_000 });
    const { q, counters } = make(10, 500);
    const byDeadline = q.enqueue(0, Date.now() + 100, undefined, 100).catch((e) => e);
    const byAcquire = q.enqueue(0, 0, undefined, 0).catch((e) => e);
    await vi.advanceTimersByTimeAsync(150);
    const timeout = await byDeadline;
    expect(isQueryTimeoutError(timeout) && timeout.timeoutMs).toBe(100);
    expect(q.count).toBe(1);
    // A deadline later than the acquire timeout: the acquire timeout (500 ms from now) applies.
    const later = q.enqueue(0, Date.now() + 5_000, undefined, 5_000);
    await vi.advanceTimersByTimeAsync(400);
    const exhausted = await byAcquire;
    expect(isPoolExhaustedError(exhausted) && exhausted.code).toBe('E_DB_POOL_ACQUIRE_TIMEOUT');
    expect(counters.acquireTimeouts).toBe(1);
    expect(q.count).toBe(1);
    q.handOff('z');
    expect(await later).toBe('z');
    q.rejectAll(new Error('unused'));
    q.stop();
  });

  it('rejectAll fails every waiter with the given error', async () => {
    const { q } = make();
    const a = q.enqueue(0, 0, undefined, 0).catch((e) => e);
    const b = q.enqueue(1, 0, undefined, 0).catch((e) => e);
    const error = new Error('reset');
    q.rejectAll(error);
    expect([await a, await b]).toEqual([error, error]);
    expect(q.count).toBe(0);
    expect(q.handOff('late')).toBe(false);
    q.stop();
  });
});
