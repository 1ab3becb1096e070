import type genericPool from 'generic-pool';

interface Node {
  next: Node | null;
  data?: { reject?: (reason: unknown) => void };
}

/** Marks the errors {@link abandonQueued} rejects with; `abandonedWith` is the error callers should see. */
export function abandonedReason(error: unknown): unknown {
  return (error as { abandonedWith?: unknown } | null)?.abandonedWith;
}

/**
 * generic-pool cannot cancel a waiting acquire: a waiter only leaves the queue when served or
 * at `acquireTimeoutMillis`, and `drain()` waits for all of them. When the host is down or the
 * pool is being replaced, the queued requests are rejected here as timeouts (the one rejection
 * generic-pool removes from its queue) carrying `reason`, the error the caller should see. Defensive: does nothing if the internals differ.
 */
export function abandonQueued(pool: genericPool.Pool<unknown>, reason: unknown): number {
  const slots = (pool as unknown as { _waitingClientsQueue?: { _slots?: { _list?: { head: Node | null } }[] } })
    ._waitingClientsQueue?._slots;
  if (!Array.isArray(slots)) return 0;
  let count = 0;
  for (const slot of slots) {
    let node = slot._list?.head ?? null;
    while (node !== null) {
      const next = node.next;
      const error = Object.assign(new Error('abandoned'), { name: 'TimeoutError', abandonedWith: reason });
      try {
        node.data?.reject?.(error);
        count++;
      } catch {
        // already settled
      }
      node = next;
    }
  }
  return count;
}
