/** One caller waiting for a connection in a {@link WaiterQueue}. */
export interface QueuedWaiter<T> {
  /** Set once the waiter got a connection, timed out, was aborted or was failed: it is then skipped. */
  settled: boolean;
  readonly priority: number;
  /** When the wait ends (ms since epoch). */
  readonly expiresAt: number;
  resolve(value: T): void;
  reject(error: unknown): void;
}

/**
 * Waiting callers by priority (0 first), FIFO within a priority, with lazy removal: a waiter
 * that gave up is only marked settled and skipped when it reaches the head. Arrays with a
 * head index (compacted now and then) instead of a linked list: no node object per waiter.
 */
export class WaiterQueue<T> {
  private readonly lanes: { items: (QueuedWaiter<T> | undefined)[]; head: number }[];

  constructor(priorities: number) {
    this.lanes = Array.from({ length: priorities }, () => ({ items: [], head: 0 }));
  }

  /** Maps a priority to a lane: truncated to an integer, out of range means last. */
  lane(priority: number): number {
    const p = (priority && Math.trunc(+priority)) || 0;
    return p < 0 || p >= this.lanes.length ? this.lanes.length - 1 : p;
  }

  push(waiter: QueuedWaiter<T>): void {
    this.lanes[this.lane(waiter.priority)]!.items.push(waiter);
  }

  /** Removes and returns the first unsettled waiter of the most urgent priority. */
  shift(): QueuedWaiter<T> | undefined {
    for (const lane of this.lanes) {
      const items = lane.items;
      while (lane.head < items.length) {
        const w = items[lane.head];
        items[lane.head++] = undefined;
        if (w !== undefined && !w.settled) {
          this.compact(lane);
          return w;
        }
      }
      items.length = 0;
      lane.head = 0;
    }
    return undefined;
  }

  private compact(lane: { items: (QueuedWaiter<T> | undefined)[]; head: number }): void {
    if (lane.head >= 1024 && lane.head * 2 >= lane.items.length) {
      lane.items.splice(0, lane.head);
      lane.head = 0;
    }
  }

  /** Calls `fn` for every unsettled waiter (oldest first within a priority). */
  forEach(fn: (waiter: QueuedWaiter<T>) => void): void {
    for (const lane of this.lanes) {
      for (let i = lane.head; i < lane.items.length; i++) {
        const w = lane.items[i];
        if (w !== undefined && !w.settled) fn(w);
      }
    }
  }

  /** Forgets every waiter (settled or not); the caller settles them first. */
  clear(): void {
    for (const lane of this.lanes) {
      lane.items.length = 0;
      lane.head = 0;
    }
  }
}
