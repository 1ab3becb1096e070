import { afterEach, describe, expect, it, vi } from 'vitest';
import { type PipelineHooks, type PipelineSettings, StreamPipeline } from '../../src/internal/stream-pipeline.js';
import type { GapInfo, ResyncInfo, ResyncResult, StreamMessage } from '../../src/types.js';

function make(settings: Partial<PipelineSettings> = {}) {
  const delivered: StreamMessage[] = [];
  const gaps: Array<Omit<GapInfo, 'component' | 'exchange' | 'connection' | 'endpoint'>> = [];
  const resyncs: Array<Omit<ResyncInfo, 'component' | 'exchange' | 'connection' | 'endpoint'>> = [];
  const hooks: PipelineHooks = {
    deliver: (m) => delivered.push(m),
    gap: (g) => gaps.push(g),
    resync: (r) => resyncs.push(r),
  };
  const pipeline = new StreamPipeline(
    's',
    {
      reorderWindow: 4,
      reorderTimeoutMs: 50,
      maxBufferedDeltas: 100,
      dedupWindow: 8,
      maxResyncAttempts: 2,
      resync: undefined,
      ...settings,
    },
    hooks,
    0,
  );
  const seqs = () => delivered.filter((m) => m.kind === 'delta').map((m) => m.sequence);
  return { pipeline, delivered, gaps, resyncs, seqs };
}

const tick = () => new Promise((r) => setTimeout(r, 0));

describe('StreamPipeline', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('delivers in order, drops duplicates and reorders within the window', () => {
    const { pipeline, seqs } = make();
    for (const n of [1, 2, 2, 4, 3, 3, 1, 6, 5, 7]) pipeline.accept({ n }, n, 0, 0);
    expect(seqs()).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(pipeline.duplicatesDropped).toBe(3);
    expect(pipeline.reordered).toBe(2);
    expect(pipeline.stats()).toMatchObject({ messagesIn: 10, delivered: 7, gaps: 0, lastSequence: 7 });
  });

  it('without resync, a missing sequence becomes a gap after the timeout and delivery continues', () => {
    vi.useFakeTimers();
    const { pipeline, seqs, gaps } = make();
    pipeline.accept({}, 1, 0, 0);
    pipeline.accept({}, 3, 0, 0);
    pipeline.accept({}, 4, 0, 0);
    expect(seqs()).toEqual([1]);
    vi.advanceTimersByTime(60);
    expect(seqs()).toEqual([1, 3, 4]);
    expect(gaps).toEqual([{ stream: 's', expected: 2, received: 3, resync: false }]);
    pipeline.close();
  });

  it('a reorder window overflow is a gap at once', () => {
    const { pipeline, seqs, gaps } = make({ reorderWindow: 2 });
    pipeline.accept({}, 1, 0, 0);
    for (const n of [5, 6, 7]) pipeline.accept({}, n, 0, 0);
    expect(gaps).toHaveLength(1);
    expect(seqs()).toEqual([1, 5, 6, 7]);
  });

  it('resyncs once per stream at a time, buffers deltas, then applies those after the snapshot in order', async () => {
    let release: (r: ResyncResult) => void = () => {};
    const resync = vi.fn(() => new Promise<ResyncResult>((r) => (release = r)));
    const { pipeline, delivered, seqs, resyncs } = make({ resync });
    // Binance-style ranges: first message triggers the initial snapshot
    pipeline.accept({}, { first: 95, last: 100 }, 0, 0);
    pipeline.accept({}, { first: 103, last: 105 }, 0, 0);
    pipeline.accept({}, { first: 101, last: 102 }, 0, 0);
    pipeline.startResync();
    expect(resync).toHaveBeenCalledTimes(1);
    expect(pipeline.isResyncing).toBe(true);
    expect(pipeline.buffered).toBe(3);
    release({ sequence: 101, message: { book: true } });
    await tick();
    expect(delivered[0]).toMatchObject({ kind: 'snapshot', sequence: 101, data: { book: true } });
    // 95-100 dropped (<= 101), 101-102 straddles the snapshot and applies, then 103-105
    expect(seqs()).toEqual([102, 105]);
    expect(resyncs.map((r) => r.phase)).toEqual(['start', 'done']);
    // a later gap triggers a second resync
    pipeline.accept({}, { first: 110, last: 111 }, 0, 0);
    pipeline.accept({}, { first: 112, last: 113 }, 0, 0);
    for (let i = 0; i < 5; i++) pipeline.accept({}, { first: 114 + i, last: 114 + i }, 0, 0);
    expect(resync).toHaveBeenCalledTimes(2);
    release({ sequence: 109 });
    await tick();
    expect(seqs().slice(2)).toEqual([111, 113, 114, 115, 116, 117, 118]);
    pipeline.close();
  });

  it('uses prev (Binance futures pu) for contiguity after the first post-snapshot message', async () => {
    const { pipeline, seqs, gaps } = make({ resync: async () => ({ sequence: 10 }) });
    pipeline.accept({}, { first: 9, last: 12, prev: 8 }, 0, 0);
    await tick();
    expect(seqs()).toEqual([12]);
    pipeline.accept({}, { first: 20, last: 25, prev: 12 }, 0, 0); // contiguous by pu even though U jumps
    expect(seqs()).toEqual([12, 25]);
    pipeline.accept({}, { first: 26, last: 27, prev: 24 }, 0, 0); // pu mismatch: held
    expect(seqs()).toEqual([12, 25]);
    expect(gaps).toHaveLength(0);
    pipeline.close();
  });

  it('retries a failing resync and then gives up, accepting the gap in order', async () => {
    vi.useFakeTimers();
    const resync = vi.fn(async (): Promise<ResyncResult> => {
      throw new Error('snapshot down');
    });
    const { pipeline, seqs, resyncs } = make({ resync, maxResyncAttempts: 2 });
    pipeline.accept({}, 5, 0, 0);
    pipeline.accept({}, 6, 0, 0);
    await vi.advanceTimersByTimeAsync(0);
    expect(resyncs.map((r) => r.phase)).toEqual(['start', 'error']);
    await vi.advanceTimersByTimeAsync(150);
    expect(resync).toHaveBeenCalledTimes(2);
    expect(seqs()).toEqual([5, 6]);
    expect(pipeline.resyncFailures).toBe(2);
    expect(pipeline.isResyncing).toBe(false);
    pipeline.close();
  });

  it('rejects an invalid resync result and bounds the resync buffer', async () => {
    let release: (r: unknown) => void = () => {};
    const { pipeline, resyncs } = make({
      resync: () => new Promise<ResyncResult>((r) => (release = r as (r: unknown) => void)),
      maxBufferedDeltas: 3,
      maxResyncAttempts: 1,
    });
    for (let i = 1; i <= 10; i++) pipeline.accept({}, i, 0, 0);
    expect(pipeline.buffered).toBe(3);
    expect(pipeline.bufferedDropped).toBe(7);
    release({ nope: true });
    await tick();
    expect(resyncs.at(-1)).toMatchObject({ phase: 'error' });
    expect(pipeline.lastSequence).toBe(10);
  });

  it('dedups unsequenced messages by id with bounded memory', () => {
    const { pipeline, delivered } = make({ dedupWindow: 2 });
    for (const id of ['a', 'b', 'a', 'c', 'a']) pipeline.acceptUnsequenced({ id }, id, 0, 0);
    pipeline.acceptUnsequenced({}, undefined, 0, 0);
    expect(delivered.map((m) => (m.data as { id?: string }).id)).toEqual(['a', 'b', 'c', 'a', undefined]);
    expect(pipeline.duplicatesDropped).toBe(1);
  });

  it('after a reconnect a jump is a gap at once, without waiting for the reorder timeout', () => {
    const { pipeline, seqs, gaps } = make({ reorderTimeoutMs: 60_000 });
    pipeline.accept({}, 1, 0, 0);
    pipeline.accept({}, 2, 0, 0);
    pipeline.markDiscontinuity(false);
    pipeline.accept({}, 10, 0, 0);
    expect(seqs()).toEqual([1, 2, 10]);
    expect(gaps).toHaveLength(1);
    // a contiguous first message clears the flag
    pipeline.markDiscontinuity(false);
    pipeline.accept({}, 11, 0, 0);
    pipeline.accept({}, 13, 0, 0);
    expect(seqs()).toEqual([1, 2, 10, 11]);
    pipeline.close();
  });

  it('resetSequenceOnReconnect forgets the base so a restarted numbering is not taken for duplicates', async () => {
    const plain = make();
    for (const n of [100, 101]) plain.pipeline.accept({}, n, 0, 0);
    plain.pipeline.markDiscontinuity(true);
    for (const n of [1, 2]) plain.pipeline.accept({}, n, 0, 0);
    expect(plain.seqs()).toEqual([100, 101, 1, 2]);
    const calls: string[] = [];
    const withResync = make({
      resync: async (s) => {
        calls.push(s);
        return { sequence: 1 };
      },
    });
    withResync.pipeline.accept({}, 50, 0, 0);
    await tick();
    withResync.pipeline.markDiscontinuity(true);
    withResync.pipeline.accept({}, 1, 0, 0);
    withResync.pipeline.accept({}, 2, 0, 0);
    await tick();
    expect(calls).toHaveLength(2);
    expect(withResync.seqs()).toEqual([2]);
  });

  it('keeps the arrival stamps of each message through the reorder window and the resync buffer', async () => {
    const reorder = make({ reorderTimeoutMs: 10_000 });
    reorder.pipeline.accept({}, 1, 1_000, 10.5);
    reorder.pipeline.accept({}, 3, 1_002, 12.25); // held
    reorder.pipeline.accept({}, 2, 1_003, 13.125); // releases 3
    expect(reorder.delivered.map((m) => [m.sequence, m.receivedAt, m.receivedAtMono])).toEqual([
      [1, 1_000, 10.5],
      [2, 1_003, 13.125],
      [3, 1_002, 12.25],
    ]);
    reorder.pipeline.close();

    let release: (r: ResyncResult) => void = () => {};
    const resync = make({ resync: () => new Promise<ResyncResult>((r) => (release = r)) });
    resync.pipeline.accept({}, 5, 2_000, 20.001); // first message: buffered, resync starts
    resync.pipeline.accept({}, 6, 2_001, 21.002);
    resync.pipeline.acceptUnsequenced({}, undefined, 2_002, 22.003);
    const beforeSnapshot = performance.now();
    release({ sequence: 4, message: { snapshot: true } });
    await tick();
    const [unsequenced, snapshot, ...deltas] = resync.delivered;
    expect(unsequenced?.receivedAtMono).toBe(22.003);
    expect(snapshot?.kind).toBe('snapshot');
    expect(snapshot?.receivedAtMono).toBeGreaterThanOrEqual(beforeSnapshot);
    expect(deltas.map((m) => [m.sequence, m.receivedAt, m.receivedAtMono])).toEqual([
      [5, 2_000, 20.001],
      [6, 2_001, 21.002],
    ]);
    resync.pipeline.close();
  });
});
