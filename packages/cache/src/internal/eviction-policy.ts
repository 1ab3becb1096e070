import type { L1Entry } from './l1-entry.js';

/** An O(1) eviction policy over L1 entries. */
export interface EvictionPolicy {
  /** Starts tracking a new entry. */
  add(entry: L1Entry): void;
  /** Records a read (or overwrite) of an entry. */
  touch(entry: L1Entry): void;
  /** Stops tracking an entry. */
  remove(entry: L1Entry): void;
  /** The entry to evict next, or null when empty. */
  victim(): L1Entry | null;
  /** Forgets every entry. */
  clear(): void;
}
