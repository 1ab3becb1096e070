import type { EvictionPolicy } from './eviction-policy.js';
import type { FreqBucket, L1Entry } from './l1-entry.js';

/**
 * Least frequently used in O(1) (Shah, Mitra and Matani, 2010): a list of frequency buckets in
 * ascending order, each holding its entries most recent first. A hit moves the entry to the
 * bucket of frequency + 1; the victim is the least recent entry of the lowest bucket, so ties
 * are broken by recency. Frequencies do not decay (no aging): an entry that was hot long ago
 * stays until it expires or is deleted.
 */
export class LfuPolicy implements EvictionPolicy {
  private first: FreqBucket | null = null;

  add(entry: L1Entry): void {
    let bucket = this.first;
    if (bucket === null || bucket.freq !== 1) {
      bucket = { freq: 1, prev: null, next: this.first, head: null, tail: null };
      if (this.first !== null) this.first.prev = bucket;
      this.first = bucket;
    }
    this.push(bucket, entry);
  }

  touch(entry: L1Entry): void {
    const bucket = entry.bucket;
    if (bucket === null) return;
    const freq = bucket.freq + 1;
    let target = bucket.next;
    if (target === null || target.freq !== freq) {
      target = { freq, prev: bucket, next: bucket.next, head: null, tail: null };
      if (bucket.next !== null) bucket.next.prev = target;
      bucket.next = target;
    }
    this.unlink(entry);
    this.push(target, entry);
  }

  remove(entry: L1Entry): void {
    if (entry.bucket !== null) this.unlink(entry);
  }

  victim(): L1Entry | null {
    return this.first === null ? null : this.first.tail;
  }

  clear(): void {
    this.first = null;
  }

  private push(bucket: FreqBucket, entry: L1Entry): void {
    entry.bucket = bucket;
    entry.prev = null;
    entry.next = bucket.head;
    if (bucket.head !== null) bucket.head.prev = entry;
    bucket.head = entry;
    if (bucket.tail === null) bucket.tail = entry;
  }

  private unlink(entry: L1Entry): void {
    const bucket = entry.bucket as FreqBucket;
    if (entry.prev !== null) entry.prev.next = entry.next;
    else bucket.head = entry.next;
    if (entry.next !== null) entry.next.prev = entry.prev;
    else bucket.tail = entry.prev;
    entry.prev = null;
    entry.next = null;
    entry.bucket = null;
    if (bucket.head === null) {
      if (bucket.prev !== null) bucket.prev.next = bucket.next;
      else this.first = bucket.next;
      if (bucket.next !== null) bucket.next.prev = bucket.prev;
    }
  }
}
