import { CacheError, isCacheError } from '../errors.js';
import type { MsetEntry, SetOptions } from '../types.js';
import type { EncodedValue } from './codec.js';
import type { Invalidation } from './invalidation.js';
import { dataKey, dataPattern, tagPattern } from './keys.js';
import type { NamespaceState } from './namespace-state.js';
import { checkRenamedNumber } from './options.js';
import type { CoreState } from './state.js';
import type { TagIndex } from './tags.js';

/** Per-call options read by name (`ttlMs` or its deprecated alias `ttl`, ...). */
export type Opts = Record<string, unknown> | undefined;

/** Upper bound of every per-call duration. */
export const TEN_YEARS = 10 * 365 * 24 * 3600 * 1000;

/** The write path: `set`, `mset`, `delete`, `clear`: L1 first, then Redis, then the bus. */
export class WritePath {
  constructor(
    private readonly s: CoreState,
    private readonly tags: TagIndex,
    private readonly invalidation: Invalidation,
  ) {}

  /** The TTL and grace of one write (validated; defaults from the options). */
  ttlOf(options: SetOptions | undefined): { ttl: number; grace: number } {
    const opts = this.s.opts;
    return {
      ttl: checkRenamedNumber(options as Opts, 'ttlMs', 'ttl', opts.ttl, { min: 1, max: TEN_YEARS }),
      grace: checkRenamedNumber(options as Opts, 'graceMs', 'grace', opts.grace, { max: TEN_YEARS }),
    };
  }

  private encode(value: unknown, operation: string, key: string, ns: NamespaceState): EncodedValue {
    if (value === undefined) {
      throw new CacheError(
        'E_CACHE_UNDEFINED_VALUE',
        'undefined cannot be stored (get returns undefined on a miss); use null',
        {
          key,
          namespace: ns.path,
          operation,
        },
      );
    }
    try {
      return this.s.codec.encode(value);
    } catch (error) {
      this.s.errors.serialize++;
      if (isCacheError(error)) {
        throw new CacheError(error.code, error.message, {
          cause: error.cause ?? error,
          key,
          namespace: ns.path,
          operation,
        });
      }
      throw error;
    }
  }

  /** `set` (and the write of `getOrSet`): L1, then Redis, then the bus. */
  async set(
    ns: NamespaceState,
    key: string,
    value: unknown,
    options: SetOptions | undefined,
    operation = 'set',
    writeL2 = true,
  ): Promise<void> {
    const s = this.s;
    const { ttl, grace } = this.ttlOf(options);
    const tags = this.tags.check(options?.tags);
    const encoded = this.encode(value, operation, key, ns);
    // Only right after start: written once the bus is subscribed, the L1 entry is valid at once and
    // stays correct (an invalidation published before the subscription was for an older write).
    const starting = this.invalidation.starting;
    if (starting !== undefined) await starting;
    const freshUntil = Date.now() + ttl;
    const staleUntil = freshUntil + grace;
    if (ns.part !== undefined) {
      s.store?.set(ns.part, key, value, freshUntil, staleUntil, encoded.payload.length, tags, s.writeEpoch);
    }
    if (s.tier === undefined || !writeL2) return;
    if (s.tier.breaker.isOpen) {
      s.breakerOpen(operation, key, ns);
      return;
    }
    const redisKey = dataKey(ns.path, key);
    try {
      await s.tier.set(redisKey, s.codec.envelope(encoded, freshUntil, staleUntil, tags), ttl + grace);
      if (tags !== undefined) await this.tags.add(ns, tags, redisKey, ttl + grace);
      await this.invalidation.publish({ n: ns.path, k: [key] });
    } catch (error) {
      s.l2Failure(operation, error, key, ns);
    }
  }

  /** `mset`: encodes everything first (all or nothing), then L1, then one pipelined L2 write. */
  async mset(ns: NamespaceState, entries: ReadonlyArray<MsetEntry>): Promise<void> {
    const s = this.s;
    const prepared = entries.map((e) => {
      const { ttl, grace } = this.ttlOf(e);
      const tags = this.tags.check(e.tags);
      const encoded = this.encode(e.value, 'mset', e.key, ns);
      const freshUntil = Date.now() + ttl;
      return { e, ttl, grace, tags, encoded, freshUntil, staleUntil: freshUntil + grace };
    });
    for (const p of prepared) {
      if (ns.part !== undefined) {
        s.store?.set(
          ns.part,
          p.e.key,
          p.e.value,
          p.freshUntil,
          p.staleUntil,
          p.encoded.payload.length,
          p.tags,
          s.writeEpoch,
        );
      }
    }
    if (s.tier === undefined || prepared.length === 0) return;
    if (s.tier.breaker.isOpen) {
      s.breakerOpen('mset', undefined, ns);
      return;
    }
    try {
      await s.tier.mset(
        prepared.map((p) => ({
          key: dataKey(ns.path, p.e.key),
          value: s.codec.envelope(p.encoded, p.freshUntil, p.staleUntil, p.tags),
          ttlMs: p.ttl + p.grace,
        })),
      );
      await Promise.all(
        prepared
          .filter((p) => p.tags !== undefined)
          .map((p) => this.tags.add(ns, p.tags as string[], dataKey(ns.path, p.e.key), p.ttl + p.grace)),
      );
      await this.invalidation.publish({ n: ns.path, k: prepared.map((p) => p.e.key) });
    } catch (error) {
      s.l2Failure('mset', error, undefined, ns);
    }
  }

  /** `delete` / `deleteMany`. Resolves with how many keys existed in L1 or L2. */
  async delete(ns: NamespaceState, keys: readonly string[], operation: string): Promise<number> {
    const s = this.s;
    s.invalidationSeq++;
    let l1 = 0;
    if (ns.part !== undefined) for (const key of keys) if (s.store?.delete(ns.part, key)) l1++;
    if (s.tier === undefined || keys.length === 0) return l1;
    if (s.tier.breaker.isOpen) {
      s.breakerOpen(operation, undefined, ns);
      return l1;
    }
    try {
      const l2 = await s.tier.unlink(keys.map((k) => dataKey(ns.path, k)));
      await this.invalidation.publish({ n: ns.path, k: [...keys] });
      return Math.max(l1, l2);
    } catch (error) {
      s.l2Failure(operation, error, undefined, ns);
      return l1;
    }
  }

  /** Removes every key of one namespace (not its children): L1 partition, SCAN+UNLINK in Redis, bus. */
  async clear(ns: NamespaceState): Promise<void> {
    const s = this.s;
    s.invalidationSeq++;
    if (ns.part !== undefined) s.store?.clearPartition(ns.part);
    if (s.tier === undefined) return;
    try {
      await s.tier.scanDelete(dataPattern(ns.path));
      await s.tier.scanDelete(tagPattern(ns.path));
      await this.invalidation.publish({ n: ns.path, c: 1 });
    } catch (error) {
      s.l2Failure('clear', error, undefined, ns);
    }
  }
}
