import { fenceKey, leaseKey } from './keys.js';
import type { NamespaceState } from './namespace-state.js';
import { FAILED, type L2Read, type ReadPath } from './read-path.js';
import type { RedisTier } from './redis-tier.js';
import type { CoreState } from './state.js';

/** What {@link LeaseCoordinator.leaseOrWait} got: the lease, the value another process loaded, or nothing. */
export type LeaseOutcome = { token: number } | { value: unknown } | undefined;

/** Wakes every caller waiting for the lease on `key` (its holder released it, or the manager closes). */
export function wakeLeaseWaiters(ns: NamespaceState, key: string): void {
  const waiters = ns.leaseWaiters.get(key);
  if (waiters !== undefined) for (const wake of [...waiters]) wake();
}

/**
 * Cross-process leases for `getOrSet({ lease: true })`: one process loads a cold key while the
 * others wait for its release message on the bus (or poll with backoff without one), then read
 * Redis. Fencing tokens keep a holder whose lease expired from writing.
 */
export class LeaseCoordinator {
  constructor(
    private readonly s: CoreState,
    private readonly reads: ReadPath,
    private readonly publishRelease: (ns: NamespaceState, key: string) => Promise<void>,
    private readonly busUp: () => boolean,
  ) {}

  /**
   * Takes the key's lease, or waits for its holder: woken by the holder's bus message (or,
   * without a bus, a backoff timer), then reads L2. Returns the lease, the value another
   * process loaded, or undefined to load without a lease (Redis failing or wait timed out).
   */
  async leaseOrWait(ns: NamespaceState, key: string): Promise<LeaseOutcome> {
    const s = this.s;
    const tier = s.tier as RedisTier;
    const { ttlMs, waitTimeoutMs } = s.opts.lease;
    const deadline = Date.now() + waitTimeoutMs;
    let backoff = 20;
    for (;;) {
      let token: number | null;
      try {
        token = await tier.acquireLease(leaseKey(ns.path, key), fenceKey(ns.path), ttlMs);
      } catch (error) {
        s.report('l2', 'lease', error);
        return undefined;
      }
      if (token !== null) return { token };
      const remaining = deadline - Date.now();
      if (remaining <= 0) return undefined;
      const wait = this.waitForRelease(ns, key, Math.min(remaining, this.busUp() ? ttlMs : backoff));
      backoff = Math.min(backoff * 2, 1_000);
      // The holder may have finished between our SET NX and registering the waiter.
      const epoch = s.writeEpoch;
      const seq = s.invalidationSeq;
      let rec: L2Read = await this.reads.readL2(ns, key, 'getOrSet').catch((): L2Read => FAILED);
      if (rec === null || rec === FAILED || rec.freshUntil <= Date.now()) {
        await wait;
        rec = await this.reads.readL2(ns, key, 'getOrSet').catch((): L2Read => FAILED);
      } else {
        wait.cancel();
      }
      if (rec !== null && rec !== FAILED && rec.freshUntil > Date.now()) {
        this.reads.fillL1(ns, key, rec, epoch, seq);
        return { value: rec.value };
      }
    }
  }

  /** Whether the lease `token` on `key` is still ours (fencing before a write). */
  holds(ns: NamespaceState, key: string, token: number): Promise<boolean> {
    const tier = this.s.tier as RedisTier;
    return tier.holdsLease(leaseKey(ns.path, key), token).catch(() => false);
  }

  /** Releases the lease and tells the waiters in every process. Never throws. */
  async release(ns: NamespaceState, key: string, token: number): Promise<void> {
    try {
      await this.s.tier?.releaseLease(leaseKey(ns.path, key), token);
      await this.publishRelease(ns, key);
    } catch (error) {
      this.s.report('l2', 'lease', error);
    }
  }

  /** Wakes every waiter of every namespace (close). */
  wakeAll(): void {
    for (const ns of this.s.namespaces.values()) {
      for (const waiters of ns.leaseWaiters.values()) for (const wake of [...waiters]) wake();
    }
  }

  private waitForRelease(ns: NamespaceState, key: string, timeoutMs: number): Promise<void> & { cancel(): void } {
    let waiters = ns.leaseWaiters.get(key);
    if (waiters === undefined) {
      waiters = new Set();
      ns.leaseWaiters.set(key, waiters);
    }
    const set = waiters;
    let wake!: () => void;
    let timer: NodeJS.Timeout | undefined;
    const promise = new Promise<void>((resolve) => {
      wake = () => {
        clearTimeout(timer);
        set.delete(wake);
        if (set.size === 0 && ns.leaseWaiters.get(key) === set) ns.leaseWaiters.delete(key);
        resolve();
      };
      timer = setTimeout(wake, timeoutMs);
    });
    set.add(wake);
    return Object.assign(promise, { cancel: wake });
  }
}
