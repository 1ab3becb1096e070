import type { EvictionPolicy } from './eviction-policy.js';
import { L1Entry, type L1Partition } from './l1-entry.js';
import { LfuPolicy } from './lfu-policy.js';
import { LruPolicy } from './lru-policy.js';

/** Settings of an {@link L1Store}. */
export interface L1StoreOptions {
  policy: 'lru' | 'lfu';
  maxEntries: number;
  /** 0 means no byte limit. */
  maxBytes: number;
}

/**
 * The in-process tier: one map per namespace partition, one eviction policy and one set of
 * limits for all of them. Expiry is lazy (checked by the reader) plus {@link L1Store.sweep},
 * which a single periodic timer calls with a budget; there is no timer per entry.
 */
export class L1Store {
  /** Number of entries. */
  size = 0;
  /** Estimated bytes. */
  bytes = 0;
  /** Entries evicted for space. */
  evictions = 0;
  /** Entries removed because they expired (sweep or read). */
  expirations = 0;
  readonly policy: EvictionPolicy;
  private readonly partitions = new Set<L1Partition>();
  private sweepPartitions: Iterator<L1Partition> | undefined;
  private sweepEntries: Iterator<L1Entry> | undefined;

  constructor(private readonly options: L1StoreOptions) {
    this.policy = options.policy === 'lfu' ? new LfuPolicy() : new LruPolicy();
  }

  /** Creates a key space (one per namespace). */
  createPartition(): L1Partition {
    const part: L1Partition = { map: new Map() };
    this.partitions.add(part);
    return part;
  }

  /** Looks an entry up without touching it or checking expiry. */
  peek(part: L1Partition, key: string): L1Entry | undefined {
    return part.map.get(key);
  }

  /** Records a hit for the eviction policy. */
  touch(entry: L1Entry): void {
    this.policy.touch(entry);
  }

  /** Inserts or replaces an entry, then evicts until the limits hold. Returns the entry, or undefined if it alone exceeds `maxBytes`. */
  set(
    part: L1Partition,
    key: string,
    value: unknown,
    freshUntil: number,
    staleUntil: number,
    size: number,
    tags: readonly string[] | undefined,
    epoch: number,
  ): L1Entry | undefined {
    const bytes = size + key.length;
    let entry = part.map.get(key);
    if (this.options.maxBytes > 0 && bytes > this.options.maxBytes) {
      // Too big for L1 at all: drop any older value rather than evicting everything else.
      if (entry !== undefined) this.remove(entry);
      return undefined;
    }
    if (entry !== undefined) {
      this.bytes += bytes - entry.size;
      entry.value = value;
      entry.freshUntil = freshUntil;
      entry.staleUntil = staleUntil;
      entry.size = bytes;
      entry.tags = tags;
      entry.epoch = epoch;
      this.policy.touch(entry);
    } else {
      entry = new L1Entry(key, part, value, freshUntil, staleUntil, bytes, tags, epoch);
      part.map.set(key, entry);
      this.policy.add(entry);
      this.size++;
      this.bytes += bytes;
    }
    const { maxEntries, maxBytes } = this.options;
    while (this.size > maxEntries || (maxBytes > 0 && this.bytes > maxBytes)) {
      const victim = this.policy.victim();
      if (victim === null) break;
      this.remove(victim);
      this.evictions++;
    }
    return entry;
  }

  /** Removes a key; true if it was present. */
  delete(part: L1Partition, key: string): boolean {
    const entry = part.map.get(key);
    if (entry === undefined) return false;
    this.remove(entry);
    return true;
  }

  /** Removes an entry that a reader found expired. */
  expire(entry: L1Entry): void {
    if (entry.part.map.get(entry.key) !== entry) return;
    this.remove(entry);
    this.expirations++;
  }

  /** Removes every entry of one partition. */
  clearPartition(part: L1Partition): void {
    for (const entry of part.map.values()) this.unaccount(entry);
    part.map.clear();
  }

  /** Removes every entry of every partition. */
  clearAll(): void {
    for (const part of this.partitions) part.map.clear();
    this.policy.clear();
    this.size = 0;
    this.bytes = 0;
    this.sweepEntries = undefined;
    this.sweepPartitions = undefined;
  }

  /** Removes every entry of `part` carrying one of `tags`; returns how many. O(partition size). */
  deleteTagged(part: L1Partition, tags: ReadonlySet<string>): number {
    let removed = 0;
    for (const entry of part.map.values()) {
      if (entry.tags === undefined) continue;
      for (const tag of entry.tags) {
        if (tags.has(tag)) {
          this.remove(entry);
          removed++;
          break;
        }
      }
    }
    return removed;
  }

  /**
   * Looks at up to `budget` entries, continuing where the previous sweep stopped, and removes
   * those past their stale-until time. Returns how many were removed.
   */
  sweep(now: number, budget: number): number {
    let removed = 0;
    let seen = 0;
    let restarts = 0;
    while (seen < budget) {
      if (this.sweepEntries === undefined) {
        if (this.sweepPartitions === undefined) this.sweepPartitions = this.partitions.values();
        const next = this.sweepPartitions.next();
        if (next.done) {
          this.sweepPartitions = undefined;
          // One full pass per call at most.
          if (++restarts > 1) break;
          continue;
        }
        this.sweepEntries = next.value.map.values();
      }
      const step = this.sweepEntries.next();
      if (step.done) {
        this.sweepEntries = undefined;
        continue;
      }
      seen++;
      const entry = step.value;
      if (entry.staleUntil <= now) {
        this.remove(entry);
        this.expirations++;
        removed++;
      }
    }
    return removed;
  }

  private remove(entry: L1Entry): void {
    entry.part.map.delete(entry.key);
    this.unaccount(entry);
  }

  private unaccount(entry: L1Entry): void {
    this.policy.remove(entry);
    this.size--;
    this.bytes -= entry.size;
  }
}
