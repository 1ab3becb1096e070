import { performance } from 'node:perf_hooks';
import type { CacheOperationContext } from '../channels.js';
import { CacheError } from '../errors.js';
import type { DecodedRecord } from './codec.js';
import { dataKey } from './keys.js';
import type { L1Store } from './l1-store.js';
import type { NamespaceState } from './namespace-state.js';
import type { RedisTier } from './redis-tier.js';
import type { CoreState } from './state.js';

/** L2 could not answer (breaker open, error, deadline) and fail-open lets the caller carry on. */
export const FAILED: unique symbol = Symbol('l2-failed');
/** A record, a miss (`null`) or {@link FAILED}. */
export type L2Read = DecodedRecord | null | typeof FAILED;
/** Returned by {@link ReadPath.l1Hit} when L1 cannot answer. */
export const NO_HIT: unique symbol = Symbol('no-l1-hit');

/** An L1 entry that may be served if Redis fails: within grace, or fresh but unverified. */
export interface L1Fallback {
  value: unknown;
  fresh: boolean;
}

/** The read path: L1 lookup, one Redis read, L1 refill, and the fallbacks when Redis fails. */
export class ReadPath {
  constructor(private readonly s: CoreState) {}

  /** The whole `get`: L1 fast path (no async function, no allocation but the resolved promise), else {@link getMiss}. */
  get(ns: NamespaceState, key: string, ctx: CacheOperationContext | undefined): Promise<unknown> {
    const s = this.s;
    const sample = (++s.ops & 63) === 0;
    const t0 = sample ? performance.now() : 0;
    const part = ns.part;
    if (part !== undefined) {
      const entry = part.map.get(key);
      if (entry !== undefined && entry.epoch === s.validEpoch && entry.freshUntil > Date.now()) {
        (s.store as L1Store).touch(entry);
        s.l1Hits++;
        if (sample) s.l1Latency.record(performance.now() - t0);
        if (ctx !== undefined) {
          ctx.tier = 'l1';
          ctx.hit = true;
        }
        return Promise.resolve(entry.value);
      }
    }
    return this.getMiss(ns, key, ctx);
  }

  /** A fresh, trusted L1 entry's value for `getOrSet`'s fast path, else {@link NO_HIT}. */
  l1Hit(ns: NamespaceState, key: string, ctx: CacheOperationContext | undefined): unknown {
    const part = ns.part;
    if (part === undefined) return NO_HIT;
    const s = this.s;
    const entry = part.map.get(key);
    if (entry !== undefined && entry.epoch === s.validEpoch && entry.freshUntil > Date.now()) {
      (s.store as L1Store).touch(entry);
      s.l1Hits++;
      if (ctx !== undefined) {
        ctx.tier = 'l1';
        ctx.hit = true;
      }
      return entry.value;
    }
    return NO_HIT;
  }

  private async getMiss(ns: NamespaceState, key: string, ctx: CacheOperationContext | undefined): Promise<unknown> {
    const s = this.s;
    const fallback = this.l1Fallback(ns, key);
    if (ns.part !== undefined) s.l1Misses++;
    if (ctx !== undefined) ctx.hit = false;
    if (s.tier === undefined) return undefined;
    const epoch = s.writeEpoch;
    const seq = s.invalidationSeq;
    const rec = await this.readL2(ns, key, 'get');
    if (rec === FAILED) return this.serveFallback(fallback, ctx);
    if (rec === null) {
      s.l2Misses++;
      if (fallback !== undefined && ns.part !== undefined) s.store?.delete(ns.part, key);
      return undefined;
    }
    this.fillL1(ns, key, rec, epoch, seq);
    if (rec.freshUntil > Date.now()) {
      s.l2Hits++;
      if (ctx !== undefined) {
        ctx.tier = 'l2';
        ctx.hit = true;
      }
      return rec.value;
    }
    s.l2Misses++;
    return undefined;
  }

  /** An L1 entry that may be served if Redis fails: within grace, or fresh but unverified. */
  l1Fallback(ns: NamespaceState, key: string): L1Fallback | undefined {
    const part = ns.part;
    if (part === undefined) return undefined;
    const entry = part.map.get(key);
    if (entry === undefined) return undefined;
    const now = Date.now();
    if (entry.staleUntil <= now) {
      this.s.store?.expire(entry);
      return undefined;
    }
    return { value: entry.value, fresh: entry.freshUntil > now };
  }

  private serveFallback(fallback: L1Fallback | undefined, ctx: CacheOperationContext | undefined): unknown {
    if (fallback === undefined) return undefined;
    if (!fallback.fresh) this.s.staleServed++;
    this.s.l1Hits++;
    if (ctx !== undefined) {
      ctx.tier = 'l1';
      ctx.hit = true;
    }
    return fallback.value;
  }

  /** One Redis read of a key, decoded. Throws only when the breaker is open and fail-open is off. */
  async readL2(ns: NamespaceState, key: string, operation: string): Promise<L2Read> {
    const s = this.s;
    const tier = s.tier as RedisTier;
    if (tier.breaker.isOpen) {
      if (!s.opts.failOpen)
        throw new CacheError('E_CACHE_UNAVAILABLE', 'Redis circuit breaker is open', { key, operation });
      return FAILED;
    }
    const t0 = performance.now();
    let raw: Buffer | null;
    try {
      raw = await tier.get(dataKey(ns.path, key));
    } catch (error) {
      s.l2Failure(operation, error, key, ns);
      return FAILED;
    }
    s.l2Latency.record(performance.now() - t0);
    if (raw === null) return null;
    try {
      return s.codec.decode(raw);
    } catch (error) {
      s.report('serialize', operation, error);
      return null;
    }
  }

  /** Refills L1 from a Redis record unless an invalidation happened since the read started. */
  fillL1(ns: NamespaceState, key: string, rec: DecodedRecord, epoch: number, seq: number): void {
    const s = this.s;
    if (ns.part === undefined || s.store === undefined || seq !== s.invalidationSeq) return;
    if (rec.staleUntil <= Date.now()) return;
    s.store.set(ns.part, key, rec.value, rec.freshUntil, rec.staleUntil, rec.size, rec.tags, epoch);
  }

  /** `mget`: L1 first, then one L2 round trip for the rest. */
  async mget(ns: NamespaceState, keys: readonly string[], ctx: CacheOperationContext | undefined): Promise<unknown[]> {
    const s = this.s;
    const results: unknown[] = new Array(keys.length).fill(undefined);
    const missing: number[] = [];
    const now = Date.now();
    for (let i = 0; i < keys.length; i++) {
      const entry = ns.part?.map.get(keys[i] as string);
      if (entry !== undefined && entry.epoch === s.validEpoch && entry.freshUntil > now) {
        s.store?.touch(entry);
        s.l1Hits++;
        results[i] = entry.value;
      } else {
        if (ns.part !== undefined) s.l1Misses++;
        missing.push(i);
      }
    }
    if (ctx !== undefined) {
      ctx.tier = missing.length === 0 ? 'l1' : 'l2';
      ctx.hit = missing.length === 0;
    }
    if (missing.length === 0 || s.tier === undefined) return results;
    const epoch = s.writeEpoch;
    const seq = s.invalidationSeq;
    let raws: Array<Buffer | null> | undefined;
    if (s.tier.breaker.isOpen) {
      s.breakerOpen('mget');
    } else {
      const t0 = performance.now();
      try {
        raws = await s.tier.mget(missing.map((i) => dataKey(ns.path, keys[i] as string)));
        s.l2Latency.record(performance.now() - t0);
      } catch (error) {
        s.l2Failure('mget', error, undefined, ns);
      }
    }
    for (let j = 0; j < missing.length; j++) {
      const i = missing[j] as number;
      const key = keys[i] as string;
      if (raws === undefined) {
        results[i] = this.serveFallback(this.l1Fallback(ns, key), undefined);
        continue;
      }
      const raw = raws[j];
      let rec: DecodedRecord | null = null;
      if (raw !== null && raw !== undefined) {
        try {
          rec = s.codec.decode(raw);
        } catch (error) {
          s.report('serialize', 'mget', error);
        }
      }
      if (rec === null) {
        s.l2Misses++;
        continue;
      }
      this.fillL1(ns, key, rec, epoch, seq);
      if (rec.freshUntil > Date.now()) {
        s.l2Hits++;
        results[i] = rec.value;
      } else {
        s.l2Misses++;
      }
    }
    return results;
  }
}
