import { randomUUID } from 'node:crypto';
import { errorChannel } from '../channels.js';
import { CacheError, isCacheError } from '../errors.js';
import type { Codec } from './codec.js';
import { CacheHooks } from './hooks.js';
import type { L1Store } from './l1-store.js';
import { LatencyHistogram } from './latency-histogram.js';
import type { NamespaceState } from './namespace-state.js';
import type { ResolvedOptions } from './options.js';
import type { RedisTier } from './redis-tier.js';

/** Error counters of one manager, by kind. */
export interface ErrorCounts {
  l2: number;
  loader: number;
  serialize: number;
  bus: number;
  timeout: number;
  /** A hook listener (`onBreakerStateChange`, ...) threw. */
  listener: number;
}

/**
 * The state every part of one manager shares (read path, write path, tags, invalidation,
 * single-flight, leases): the L1 store, the Redis tier, the epochs that decide whether L1 may be
 * trusted, and the counters behind `stats()`. Plain fields, so the hot paths read them directly.
 */
export class CoreState {
  readonly id = randomUUID();
  readonly name: string;
  readonly namespaces = new Map<string, NamespaceState>();
  /** Epoch stamped on new L1 entries. */
  writeEpoch = 0;
  /** Epoch L1 trusts; NaN (matches nothing) while the bus is down. */
  validEpoch = 0;
  /** Bumped on every invalidation, so a Redis read racing an invalidation does not refill L1. */
  invalidationSeq = 0;
  closed = false;
  /** Aborted on close; passed to loaders. */
  readonly abort = new AbortController();
  ops = 0;
  l1Hits = 0;
  l1Misses = 0;
  l2Hits = 0;
  l2Misses = 0;
  loaderCalls = 0;
  staleServed = 0;
  readonly errors: ErrorCounts = { l2: 0, loader: 0, serialize: 0, bus: 0, timeout: 0, listener: 0 };
  /** The emitters behind the manager's hooks. */
  readonly hooks = new CacheHooks((hook, error) => this.report('listener', hook, error, false));
  readonly l1Latency = new LatencyHistogram();
  readonly l2Latency = new LatencyHistogram();
  readonly loaderLatency = new LatencyHistogram();

  constructor(
    readonly opts: ResolvedOptions,
    readonly codec: Codec,
    readonly store: L1Store | undefined,
    readonly tier: RedisTier | undefined,
  ) {
    this.name = opts.name;
  }

  /** The state of a namespace path, created on first use. */
  namespaceState(path: string): NamespaceState {
    let ns = this.namespaces.get(path);
    if (ns === undefined) {
      ns = { path, part: this.store?.createPartition(), flights: new Map(), leaseWaiters: new Map() };
      this.namespaces.set(path, ns);
    }
    return ns;
  }

  /**
   * Counts an error and publishes it on the error channel and the `onError` hook. Never throws. `toHook: false` for
   * an error of an `onError` listener itself, which would otherwise call that listener again.
   */
  report(kind: keyof ErrorCounts, operation: string, error: unknown, toHook = true): void {
    this.errors[kind]++;
    if (errorChannel.hasSubscribers) errorChannel.publish({ component: this.name, kind, operation, error });
    if (toHook && this.hooks.error.hasListeners)
      this.hooks.error.emit({ component: this.name, kind, operation, error });
  }

  /** Counts an L2 failure; rethrows it (as a CacheError) unless fail-open. */
  l2Failure(operation: string, error: unknown, key?: string, ns?: NamespaceState): void {
    const timeout = isCacheError(error) && error.code === 'E_CACHE_TIMEOUT';
    this.report(timeout ? 'timeout' : 'l2', operation, error);
    if (this.opts.failOpen) return;
    if (isCacheError(error)) throw error;
    throw new CacheError('E_CACHE_UNAVAILABLE', 'Redis failed', { cause: error, key, namespace: ns?.path, operation });
  }

  /** The error a write or invalidation reports while the breaker is open. */
  breakerOpen(operation: string, key?: string, ns?: NamespaceState): void {
    this.l2Failure(operation, new CacheError('E_CACHE_UNAVAILABLE', 'Redis circuit breaker is open'), key, ns);
  }
}
