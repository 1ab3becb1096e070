/**
 * The idle connections of a host pool, most recently used on top (LIFO): the next caller takes the warmest one
 * synchronously, and the ones at the bottom go quiet long enough to be evicted.
 */
export class IdleStack<T extends { lastUsedAt: number }> {
  private readonly items: T[] = [];

  get length(): number {
    return this.items.length;
  }

  push(item: T): void {
    this.items.push(item);
  }

  /** The most recently used idle item. */
  pop(): T | undefined {
    return this.items.pop();
  }

  /**
   * Removes the items idle for at least `idleMs` (least recently used first) while more than `keep` stay idle, and
   * returns them.
   */
  evictIdle(now: number, idleMs: number, keep: number): T[] {
    const items = this.items;
    const evicted: T[] = [];
    let kept = 0;
    for (let i = 0; i < items.length; i++) {
      const item = items[i] as T;
      if (now - item.lastUsedAt >= idleMs && items.length - evicted.length > keep) evicted.push(item);
      else items[kept++] = item;
    }
    items.length = kept;
    return evicted;
  }

  /** Removes and returns every item. */
  takeAll(): T[] {
    return this.items.splice(0);
  }
}
