import { CacheError } from '../errors.js';
import type { Invalidation } from './invalidation.js';
import { tagKey } from './keys.js';
import type { NamespaceState } from './namespace-state.js';
import type { CoreState } from './state.js';

/**
 * Tags: validation, the Redis tag sets (one set of data keys per tag, expiring with its
 * longest-lived member) and `invalidateTags`. L1 keeps its own tag index in the store.
 */
export class TagIndex {
  constructor(
    private readonly s: CoreState,
    private readonly invalidation: Invalidation,
  ) {}

  /** Validates a `tags` option; an empty list is no tags. */
  check(tags: unknown): readonly string[] | undefined {
    if (tags === undefined) return undefined;
    if (!Array.isArray(tags) || tags.some((t) => typeof t !== 'string' || t.length === 0 || t.length > 256)) {
      throw new CacheError('E_CACHE_INVALID_OPTION', 'tags must be an array of non-empty strings (<= 256 chars)', {
        field: 'tags',
      });
    }
    return tags.length === 0 ? undefined : (tags as string[]);
  }

  /** Adds the Redis data key `redisKey` to the sets of `tags`. */
  async add(ns: NamespaceState, tags: readonly string[], redisKey: string, ttlMs: number): Promise<void> {
    await this.s.tier?.tag(
      tags.map((t) => tagKey(ns.path, t)),
      redisKey,
      ttlMs,
    );
  }

  /** Deletes every entry carrying one of `tags`, here and (through the bus) everywhere. */
  async invalidate(ns: NamespaceState, tags: readonly string[]): Promise<number> {
    const s = this.s;
    const checked = this.check(tags) ?? [];
    s.invalidationSeq++;
    const removed = ns.part !== undefined ? (s.store?.deleteTagged(ns.part, new Set(checked)) ?? 0) : 0;
    if (s.tier === undefined || checked.length === 0) return removed;
    if (s.tier.breaker.isOpen) {
      s.breakerOpen('invalidateTags', undefined, ns);
      return removed;
    }
    try {
      const tagKeys = checked.map((t) => tagKey(ns.path, t));
      const members = await s.tier.members(tagKeys);
      const keys = [...new Set(members.flat())];
      const l2 = await s.tier.unlink([...keys, ...tagKeys]);
      await this.invalidation.publish({ n: ns.path, g: [...checked] });
      return Math.max(removed, l2 - tagKeys.length, 0);
    } catch (error) {
      s.l2Failure('invalidateTags', error, undefined, ns);
      return removed;
    }
  }
}
