import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { StreamPipeline } from '../../src/internal/stream-pipeline.js';
import type { StreamMessage } from '../../src/types.js';

describe('StreamPipeline properties', () => {
  it('any duplication and local reordering of a sequence is delivered exactly once, contiguous and in order', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 200 }),
        fc.array(fc.tuple(fc.nat(), fc.nat({ max: 4 })), { maxLength: 60 }),
        fc.array(fc.nat(), { maxLength: 40 }),
        (length, swaps, dupIndexes) => {
          const arrivals = Array.from({ length }, (_, i) => i + 1);
          // swap nearby messages (distance <= 4) to stay within the reorder window
          for (const [at, distance] of swaps) {
            const i = at % length;
            const j = Math.min(length - 1, i + distance);
            [arrivals[i], arrivals[j]] = [arrivals[j] as number, arrivals[i] as number];
          }
          for (const d of dupIndexes)
            arrivals.splice(d % (arrivals.length + 1), 0, arrivals[d % arrivals.length] as number);
          // the first message must be the base (no resync): put 1 first
          arrivals.splice(arrivals.indexOf(1), 1);
          arrivals.unshift(1);
          const delivered: StreamMessage[] = [];
          const pipeline = new StreamPipeline(
            's',
            {
              reorderWindow: 64,
              reorderTimeoutMs: 60_000,
              maxBufferedDeltas: 1_000,
              dedupWindow: 8,
              maxResyncAttempts: 1,
              resync: undefined,
            },
            { deliver: (m) => delivered.push(m), gap: () => {}, resync: () => {} },
            0,
          );
          for (const n of arrivals) pipeline.accept(n, n, 0, 0);
          pipeline.close();
          expect(delivered.map((m) => m.sequence)).toEqual(Array.from({ length }, (_, i) => i + 1));
          expect(pipeline.gaps).toBe(0);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('with a resync, whatever is lost, delivery never goes backwards and never repeats', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.integer({ min: 1, max: 300 }), { minLength: 1, maxLength: 200 }),
        fc.integer({ min: 0, max: 300 }),
        async (arrivals, snapshotAt) => {
          const delivered: StreamMessage[] = [];
          let resyncs = 0;
          const pipeline = new StreamPipeline(
            's',
            {
              reorderWindow: 4,
              reorderTimeoutMs: 60_000,
              maxBufferedDeltas: 50,
              dedupWindow: 8,
              maxResyncAttempts: 1,
              resync: async () => {
                resyncs++;
                return { sequence: snapshotAt + resyncs * 7 };
              },
            },
            { deliver: (m) => delivered.push(m), gap: () => {}, resync: () => {} },
            0,
          );
          for (const n of arrivals) {
            pipeline.accept(n, n, 0, 0);
            if (n % 5 === 0) await Promise.resolve();
          }
          for (let i = 0; i < 5; i++) await new Promise((r) => setTimeout(r, 0));
          pipeline.close();
          const deltas = delivered.filter((m) => m.kind === 'delta').map((m) => m.sequence as number);
          for (let i = 1; i < deltas.length; i++) expect(deltas[i]).toBeGreaterThan(deltas[i - 1] as number);
        },
      ),
      { numRuns: 200 },
    );
  });
});
