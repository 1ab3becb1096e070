/** A bounded set of recently seen ids (FIFO eviction): dedup for unsequenced streams with constant memory. */
export class RecentIds {
  private readonly set = new Set<string | number>();
  private readonly ring: Array<string | number | undefined>;
  private next = 0;

  constructor(private readonly capacity: number) {
    this.ring = new Array(capacity);
  }

  /** True if `id` was seen recently; otherwise remembers it and returns false. */
  seen(id: string | number): boolean {
    if (this.set.has(id)) return true;
    const evicted = this.ring[this.next];
    if (evicted !== undefined) this.set.delete(evicted);
    this.ring[this.next] = id;
    this.next = (this.next + 1) % this.capacity;
    this.set.add(id);
    return false;
  }

  /** Ids currently remembered. */
  get size(): number {
    return this.set.size;
  }
}
