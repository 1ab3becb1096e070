import type { EvictionPolicy } from './eviction-policy.js';
import type { L1Entry } from './l1-entry.js';

/** Least recently used: one doubly linked list, most recent at the head; every operation O(1). */
export class LruPolicy implements EvictionPolicy {
  private head: L1Entry | null = null;
  private tail: L1Entry | null = null;

  add(entry: L1Entry): void {
    entry.prev = null;
    entry.next = this.head;
    if (this.head !== null) this.head.prev = entry;
    this.head = entry;
    if (this.tail === null) this.tail = entry;
  }

  touch(entry: L1Entry): void {
    if (this.head === entry) return;
    this.remove(entry);
    this.add(entry);
  }

  remove(entry: L1Entry): void {
    if (entry.prev !== null) entry.prev.next = entry.next;
    else this.head = entry.next;
    if (entry.next !== null) entry.next.prev = entry.prev;
    else this.tail = entry.prev;
    entry.prev = null;
    entry.next = null;
  }

  victim(): L1Entry | null {
    return this.tail;
  }

  clear(): void {
    this.head = null;
    this.tail = null;
  }
}
