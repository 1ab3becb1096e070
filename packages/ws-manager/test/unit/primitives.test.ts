import { getEventListeners } from 'node:events';
import { describe, expect, it, vi } from 'vitest';
import { jsonCodec } from '../../src/index.js';
import { backoffDelay } from '../../src/internal/backoff.js';
import { ConsumerQueue } from '../../src/internal/consumer-queue.js';
import { LatencyReservoir } from '../../src/internal/latency-reservoir.js';
import { TokenBucket } from '../../src/internal/token-bucket.js';
import type { StreamMessage } from '../../src/types.js';

const msg = (stream: string, n: number): StreamMessage => ({
  stream,
  data: n,
  kind: 'delta',
  sequence: n,
  receivedAt: 0,
  receivedAtMono: 0,
});

async function drain(q: ConsumerQueue, count: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < count; i++) {
    const r = await q.next();
    if (r.done) break;
    out.push(r.value.data as number);
  }
  return out;
}

describe('ConsumerQueue', () => {
  it('drop-oldest keeps the newest maxSize messages', async () => {
    const ended = vi.fn();
    const q = new ConsumerQueue(3, 'drop-oldest', ended);
    for (let i = 1; i <= 5; i++) q.push(msg('a', i));
    expect(q.length).toBe(3);
    expect(q.dropped).toBe(2);
    expect(await drain(q, 3)).toEqual([3, 4, 5]);
    const pending = q.next();
    q.push(msg('a', 6));
    expect((await pending).value?.data).toBe(6);
    await q.return();
    expect(ended).toHaveBeenCalledTimes(1);
    expect((await q.next()).done).toBe(true);
  });

  it('conflate-latest replaces the queued message of the same stream when full', async () => {
    const q = new ConsumerQueue(2, 'conflate-latest', () => {});
    q.push(msg('a', 1));
    q.push(msg('b', 2));
    q.push(msg('a', 3)); // replaces a:1
    q.push(msg('b', 4)); // replaces b:2
    q.push(msg('c', 5)); // no c queued: drops the oldest
    expect(q.conflated).toBe(2);
    expect(q.dropped).toBe(1);
    expect(await drain(q, 2)).toEqual([4, 5]);
  });

  it("'error' ends the iteration with E_WS_QUEUE_OVERFLOW", async () => {
    const q = new ConsumerQueue(1, 'error', () => {});
    q.push(msg('a', 1));
    q.push(msg('a', 2));
    await expect(q.next()).rejects.toMatchObject({ code: 'E_WS_QUEUE_OVERFLOW' });
    expect((await q.next()).done).toBe(true);
    q.push(msg('a', 3));
    expect(q.length).toBe(0);
  });

  it('end() finishes a pending next and fail() rejects it', async () => {
    const a = new ConsumerQueue(2, 'drop-oldest', () => {});
    const pending = a.next();
    a.end();
    expect((await pending).done).toBe(true);
    const b = new ConsumerQueue(2, 'drop-oldest', () => {});
    const waiting = b.next();
    await expect(b.next()).rejects.toThrow(/pending/);
    b.fail(new Error('x'));
    await expect(waiting).rejects.toThrow('x');
    expect(b[Symbol.asyncIterator]()).toBe(b);
  });
});

describe('TokenBucket', () => {
  it('serves the burst at once, then paces waiters at the rate, and rejects on abort/close', async () => {
    vi.useFakeTimers();
    let now = 0;
    const bucket = new TokenBucket(10, 2, () => now);
    expect(bucket.tryTake()).toBe(true);
    expect(bucket.tryTake()).toBe(true);
    expect(bucket.tryTake()).toBe(false);
    const order: number[] = [];
    const p1 = bucket.take().then(() => order.push(1));
    const p2 = bucket.take().then(() => order.push(2));
    const controller = new AbortController();
    const p3 = bucket.take(controller.signal);
    controller.abort();
    await expect(p3).rejects.toMatchObject({ code: 'E_WS_ABORTED' });
    now += 100;
    await vi.advanceTimersByTimeAsync(100);
    expect(order).toEqual([1]);
    now += 100;
    await vi.advanceTimersByTimeAsync(100);
    await Promise.all([p1, p2]);
    expect(order).toEqual([1, 2]);
    expect(bucket.waited).toBe(3);
    const p4 = bucket.take();
    bucket.close(new Error('closed'));
    await expect(p4).rejects.toThrow('closed');
    const aborted = new AbortController();
    aborted.abort();
    await expect(bucket.take(aborted.signal)).rejects.toMatchObject({ code: 'E_WS_ABORTED' });
    vi.useRealTimers();
  });

  it('leaves no abort listener on a long-lived signal once its waits are served or closed', async () => {
    vi.useFakeTimers();
    let now = 0;
    const bucket = new TokenBucket(10, 1, () => now);
    const closeSignal = new AbortController().signal;
    expect(bucket.tryTake()).toBe(true);
    for (let i = 0; i < 20; i++) {
      const p = bucket.take(closeSignal);
      now += 100;
      await vi.advanceTimersByTimeAsync(100);
      await p;
    }
    expect(bucket.waited).toBe(20);
    const pending = bucket.take(closeSignal);
    bucket.close(new Error('closed'));
    await expect(pending).rejects.toThrow('closed');
    expect(getEventListeners(closeSignal, 'abort')).toHaveLength(0);
    vi.useRealTimers();
  });
});

describe('backoffDelay', () => {
  it('is full-jitter exponential and capped', () => {
    const o = { initialDelayMs: 100, maxDelayMs: 1_000, multiplier: 2 };
    expect(backoffDelay(0, o, () => 0.999)).toBe(99);
    expect(backoffDelay(3, o, () => 0.5)).toBe(400);
    expect(backoffDelay(50, o, () => 0.999)).toBe(999);
    expect(backoffDelay(2, o, () => 0)).toBe(0);
  });
});

describe('LatencyReservoir and jsonCodec', () => {
  it('computes percentiles over the last samples', () => {
    const r = new LatencyReservoir(100);
    expect(r.percentiles()).toBeUndefined();
    for (let i = 1; i <= 200; i++) r.add(i);
    expect(r.size).toBe(100);
    expect(r.percentiles()).toEqual({ p50: 150, p90: 190, p99: 199, max: 200, samples: 100 });
  });

  it('decodes JSON text and throws on garbage', () => {
    expect(jsonCodec.decode(Buffer.from('{"a":1}'), false)).toEqual({ a: 1 });
    expect(() => jsonCodec.decode(Buffer.from([0xff, 0x01]), true)).toThrow();
    expect(jsonCodec.encode({ a: 1 })).toBe('{"a":1}');
    expect(jsonCodec.encode('raw')).toBe('raw');
  });
});
