/** One record as the writer sent it: its offset, its time and the JSON it wrote. */
export interface WrittenRecord {
  readonly offset: number;
  readonly ts: number;
  readonly json: string;
}

/**
 * The last `capacity` records a writer had acknowledged, in offset order, contiguous. A primary that comes back
 * from its AOF, or a replica promoted before it held the last writes, can end before records the writer counted as
 * durable; the writer re-appends them from here (same offsets, same content) before anything new, so the stream
 * never goes on past a gap.
 */
export class RetainedRecords {
  #items: WrittenRecord[] = [];
  /** Index of the oldest kept record in `#items` (dropped ones are cut off in bulk, not one by one). */
  #start = 0;

  /** @param capacity records kept; 0 keeps none (a lost tail then stops the writer). */
  constructor(readonly capacity: number) {}

  /** Number of records kept. */
  get size(): number {
    return this.#items.length - this.#start;
  }

  /** Offset of the oldest record kept, or undefined when none is. */
  get oldest(): number | undefined {
    return this.#items[this.#start]?.offset;
  }

  /** Keeps `records` (the next offsets after the newest kept), dropping the oldest beyond the capacity. */
  add(records: readonly WrittenRecord[]): void {
    if (this.capacity === 0) return;
    for (const r of records) this.#items.push(r);
    if (this.size > this.capacity) this.#start = this.#items.length - this.capacity;
    // Compacts once the dropped head is as long as what is kept: amortised O(1) per record.
    if (this.#start >= this.capacity) {
      this.#items = this.#items.slice(this.#start);
      this.#start = 0;
    }
  }

  /** True when every offset of `from..to` is kept. */
  covers(from: number, to: number): boolean {
    const oldest = this.oldest;
    const newest = this.#items[this.#items.length - 1]?.offset;
    return from > to || (oldest !== undefined && newest !== undefined && oldest <= from && to <= newest);
  }

  /** Up to `limit` kept records from offset `from` on, at most to offset `to`. */
  slice(from: number, to: number, limit: number): WrittenRecord[] {
    const oldest = this.oldest;
    if (oldest === undefined || from > to) return [];
    const i = this.#start + Math.max(0, from - oldest);
    return this.#items.slice(i, i + Math.min(limit, to - from + 1));
  }

  /** Forgets everything (the log was recreated: these offsets belong to another offset space). */
  clear(): void {
    this.#items = [];
    this.#start = 0;
  }
}
