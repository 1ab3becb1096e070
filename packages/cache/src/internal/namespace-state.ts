import type { Flight } from './flight.js';
import type { L1Partition } from './l1-entry.js';

/** Per-namespace state shared by every view of that namespace. */
export interface NamespaceState {
  /** `root[:child...]`. */
  readonly path: string;
  /** Its L1 key space, or undefined when L1 is off. */
  readonly part: L1Partition | undefined;
  /** In-process loads in progress (single-flight). */
  readonly flights: Map<string, Flight>;
  /** Callers waiting for another process to release a lease, by key. */
  readonly leaseWaiters: Map<string, Set<() => void>>;
}
