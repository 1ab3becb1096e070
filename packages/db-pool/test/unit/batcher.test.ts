import { describe, expect, it } from 'vitest';
import { ClickHouseBackend, InvalidOptionError } from '../../src/index.js';
import { Batcher } from '../../src/internal/batcher.js';

function recorder(fail?: (key: string, rows: number[]) => boolean) {
  const writes: { key: string; rows: number[] }[] = [];
  const batcher = new Batcher<number>({
    maxRows: 3,
    maxDelayMs: 20,
    maxBufferedRows: 10,
    write: async (key, rows) => {
      await new Promise((r) => setTimeout(r, 1));
      if (fail?.(key, rows)) throw new Error(`write ${key} failed`);
      writes.push({ key, rows });
    },
    overflowError: (n) => new Error(`full ${n}`),
  });
  return { batcher, writes };
}

describe('Batcher', () => {
  it('writes a batch when it reaches maxRows', async () => {
    const { batcher, writes } = recorder();
    const a = batcher.add('t', [1, 2]);
    expect(writes).toEqual([]);
    const b = batcher.add('t', [3]);
    await Promise.all([a, b]);
    expect(writes).toEqual([{ key: 't', rows: [1, 2, 3] }]);
    expect(batcher.counters).toMatchObject({ batches: 1, rowsWritten: 3 });
  });

  it('writes a partial batch after maxDelayMs, separately per key', async () => {
    const { batcher, writes } = recorder();
    const started = Date.now();
    await Promise.all([batcher.add('a', [1]), batcher.add('b', [2])]);
    expect(Date.now() - started).toBeGreaterThanOrEqual(15);
    expect(writes.sort((x, y) => x.key.localeCompare(y.key))).toEqual([
      { key: 'a', rows: [1] },
      { key: 'b', rows: [2] },
    ]);
  });

  it('splits oversized adds into maxRows chunks', async () => {
    const { batcher, writes } = recorder();
    await batcher.add('t', [1, 2, 3, 4, 5, 6, 7]);
    expect(writes.map((w) => w.rows)).toEqual([[1, 2, 3], [4, 5, 6], [7]]);
  });

  it('rejects every add of a failed batch and counts it', async () => {
    const { batcher } = recorder((key) => key === 'bad');
    const results = await Promise.allSettled([
      batcher.add('bad', [1]),
      batcher.add('bad', [2]),
      batcher.add('ok', [3]),
    ]);
    await batcher.flush();
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected', 'fulfilled']);
    expect(batcher.counters).toMatchObject({ failedBatches: 1, rowsFailed: 2, rowsWritten: 1 });
    expect(batcher.lastError).toBe('write bad failed');
  });

  it('applies backpressure beyond maxBufferedRows', async () => {
    const { batcher } = recorder();
    const held = [
      batcher.add('a', [1, 2]),
      batcher.add('b', [1, 2]),
      batcher.add('c', [1, 2]),
      batcher.add('d', [1, 2]),
      batcher.add('e', [1, 2]),
    ];
    expect(batcher.bufferedRows).toBe(10);
    await expect(batcher.add('f', [1])).rejects.toThrow('full 10');
    expect(batcher.counters.rejectedRows).toBe(1);
    await batcher.flush();
    await Promise.all(held);
    expect(batcher.bufferedRows).toBe(0);
  });

  it('flushes on close and refuses rows afterwards', async () => {
    const { batcher, writes } = recorder();
    const pending = batcher.add('t', [1]);
    await batcher.close();
    await pending;
    expect(writes).toEqual([{ key: 't', rows: [1] }]);
    await expect(batcher.add('t', [2])).rejects.toThrow('closed');
    expect(await batcher.add('t', []).catch(() => 'rejected')).toBe('rejected');
  });
});

describe('ClickHouseBackend options', () => {
  it.each([
    [{ url: 'ftp://x' }, 'url'],
    [{ name: '' }, 'name'],
    [{ batch: { maxRows: 0 } }, 'batch.maxRows'],
    [{ batch: { maxDelayMs: 1.5 } }, 'batch.maxDelayMs'],
    [{ requestTimeoutMs: -1 }, 'requestTimeoutMs'],
  ])('rejects %j naming %s', (options, field) => {
    let caught: unknown;
    try {
      new ClickHouseBackend(options as never);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(InvalidOptionError);
    expect((caught as InvalidOptionError).field).toBe(field);
  });

  it('rejects bad table names and reports stats without a server', async () => {
    const ch = new ClickHouseBackend({ url: 'http://127.0.0.1:1' });
    await expect(ch.insert('t; drop', { a: 1 })).rejects.toMatchObject({ field: 'table' });
    expect(ch.stats()).toMatchObject({ name: 'clickhouse', host: '127.0.0.1:1', bufferedRows: 0, batches: 0 });
    await ch.close();
    await ch.close();
    await expect(ch.insert('t', { a: 1 })).rejects.toMatchObject({ code: 'E_DB_CLOSED' });
    expect((await ch.healthCheck()).status).toBe('fail');
  });
});
