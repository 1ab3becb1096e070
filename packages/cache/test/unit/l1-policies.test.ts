import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { L1Store } from '../../src/internal/l1-store.js';

type Op = { kind: 'set'; key: number } | { kind: 'get'; key: number } | { kind: 'delete'; key: number };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constant('set' as const), key: fc.integer({ min: 0, max: 12 }) }),
  fc.record({ kind: fc.constant('get' as const), key: fc.integer({ min: 0, max: 12 }) }),
  fc.record({ kind: fc.constant('delete' as const), key: fc.integer({ min: 0, max: 12 }) }),
);

const FAR = Number.MAX_SAFE_INTEGER;

/** Applies an op to the real store the way the manager does (get = peek + touch). */
function apply(store: L1Store, part: ReturnType<L1Store['createPartition']>, op: Op): void {
  const key = String(op.key);
  if (op.kind === 'set') store.set(part, key, op.key, FAR, FAR, 1, undefined, 0);
  else if (op.kind === 'get') {
    const e = store.peek(part, key);
    if (e !== undefined) store.touch(e);
  } else store.delete(part, key);
}

describe('L1 LRU policy (model-based)', () => {
  it('holds exactly the most recently used keys, at most maxEntries', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 6 }), fc.array(opArb, { maxLength: 200 }), (max, ops) => {
        const store = new L1Store({ policy: 'lru', maxEntries: max, maxBytes: 0 });
        const part = store.createPartition();
        // Model: keys ordered least -> most recent.
        let model: number[] = [];
        for (const op of ops) {
          apply(store, part, op);
          const has = model.includes(op.key);
          if (op.kind === 'set') {
            model = model.filter((k) => k !== op.key);
            model.push(op.key);
            if (model.length > max) model.shift();
          } else if (op.kind === 'get' && has) {
            model = model.filter((k) => k !== op.key);
            model.push(op.key);
          } else if (op.kind === 'delete') {
            model = model.filter((k) => k !== op.key);
          }
          expect([...part.map.keys()].map(Number).sort((a, b) => a - b)).toEqual([...model].sort((a, b) => a - b));
          expect(store.size).toBe(model.length);
          expect(store.policy.victim()?.key).toBe(model.length > 0 ? String(model[0]) : undefined);
        }
      }),
      { numRuns: 300 },
    );
  });
});

describe('L1 LFU policy (model-based)', () => {
  it('evicts the least frequently used key, ties broken by least recent use', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 6 }), fc.array(opArb, { maxLength: 200 }), (max, ops) => {
        const store = new L1Store({ policy: 'lfu', maxEntries: max, maxBytes: 0 });
        const part = store.createPartition();
        const model = new Map<number, { freq: number; last: number }>();
        let clock = 0;
        for (const op of ops) {
          apply(store, part, op);
          clock++;
          const cur = model.get(op.key);
          if (op.kind === 'set') {
            if (cur !== undefined) model.set(op.key, { freq: cur.freq + 1, last: clock });
            else {
              model.set(op.key, { freq: 1, last: clock });
              if (model.size > max) {
                let victim: number | undefined;
                let best: { freq: number; last: number } | undefined;
                for (const [k, v] of model) {
                  if (k === op.key) continue;
                  if (best === undefined || v.freq < best.freq || (v.freq === best.freq && v.last < best.last)) {
                    best = v;
                    victim = k;
                  }
                }
                // The newcomer (freq 1, most recent) is evicted only when every other key is more frequent.
                const newcomer = model.get(op.key) as { freq: number; last: number };
                if (best !== undefined && best.freq > newcomer.freq) model.delete(op.key);
                else if (victim !== undefined) model.delete(victim);
              }
            }
          } else if (op.kind === 'get' && cur !== undefined) {
            model.set(op.key, { freq: cur.freq + 1, last: clock });
          } else if (op.kind === 'delete') {
            model.delete(op.key);
          }
          expect([...part.map.keys()].map(Number).sort((a, b) => a - b)).toEqual(
            [...model.keys()].sort((a, b) => a - b),
          );
          expect(store.size).toBe(model.size);
        }
      }),
      { numRuns: 300 },
    );
  });
});

describe('L1 store', () => {
  it('enforces the byte limit and refuses an entry bigger than the limit', () => {
    const store = new L1Store({ policy: 'lru', maxEntries: 100, maxBytes: 100 });
    const part = store.createPartition();
    store.set(part, 'a', 1, FAR, FAR, 39, undefined, 0); // 40 bytes with the key
    store.set(part, 'b', 1, FAR, FAR, 39, undefined, 0);
    expect(store.bytes).toBe(80);
    store.set(part, 'c', 1, FAR, FAR, 39, undefined, 0);
    expect([...part.map.keys()]).toEqual(['b', 'c']);
    expect(store.evictions).toBe(1);
    expect(store.set(part, 'huge', 1, FAR, FAR, 500, undefined, 0)).toBeUndefined();
    expect(part.map.has('huge')).toBe(false);
    expect([...part.map.keys()]).toEqual(['b', 'c']);
    store.set(part, 'b', 2, FAR, FAR, 9, undefined, 0);
    expect(store.bytes).toBe(50);
    store.set(part, 'b', 3, FAR, FAR, 1_000, undefined, 0);
    expect(part.map.has('b')).toBe(false);
    expect(store.bytes).toBe(40);
  });

  it('sweeps expired entries in bounded batches across partitions, without timers', () => {
    const store = new L1Store({ policy: 'lfu', maxEntries: 1_000, maxBytes: 0 });
    const p1 = store.createPartition();
    const p2 = store.createPartition();
    for (let i = 0; i < 50; i++) {
      store.set(p1, `a${i}`, i, 10, i % 2 === 0 ? 10 : FAR, 1, undefined, 0);
      store.set(p2, `b${i}`, i, 10, i % 2 === 0 ? 10 : FAR, 1, undefined, 0);
    }
    expect(store.sweep(100, 30)).toBeLessThanOrEqual(30);
    let total = 0;
    for (let i = 0; i < 10; i++) total += store.sweep(100, 30);
    expect(store.size).toBe(50);
    expect(store.expirations).toBe(50);
    expect(total).toBeGreaterThan(0);
    // Long TTLs are plain numbers: nothing overflows.
    store.set(p1, 'forever', 1, Date.now() + 10 * 365 * 24 * 3600 * 1000, FAR, 1, undefined, 0);
    expect(store.sweep(Date.now(), 1_000)).toBe(0);
  });

  it('expires, clears partitions and deletes by tag', () => {
    const store = new L1Store({ policy: 'lru', maxEntries: 100, maxBytes: 0 });
    const p1 = store.createPartition();
    const p2 = store.createPartition();
    store.set(p1, 'x', 1, FAR, FAR, 1, ['t1', 't2'], 0);
    store.set(p1, 'y', 1, FAR, FAR, 1, ['t3'], 0);
    store.set(p1, 'z', 1, FAR, FAR, 1, undefined, 0);
    store.set(p2, 'x', 1, FAR, FAR, 1, ['t1'], 0);
    expect(store.deleteTagged(p1, new Set(['t2', 'nope']))).toBe(1);
    expect([...p1.map.keys()]).toEqual(['y', 'z']);
    expect(p2.map.has('x')).toBe(true);
    const y = store.peek(p1, 'y');
    if (y === undefined) throw new Error('y missing');
    store.expire(y);
    store.expire(y); // second time is a no-op
    expect(store.expirations).toBe(1);
    store.clearPartition(p1);
    expect(p1.map.size).toBe(0);
    expect(store.size).toBe(1);
    expect(store.delete(p2, 'nope')).toBe(false);
    store.clearAll();
    expect(store.size).toBe(0);
    expect(store.bytes).toBe(0);
    expect(store.policy.victim()).toBeNull();
  });
});
