import { breakerChannel, type CacheOperationContext } from '../channels.js';
import { CacheError } from '../errors.js';
import { jsonSerializer } from '../serializer.js';
import type { CacheStats, GetOrSetOptions, HealthCheckResult, Loader, MsetEntry, SetOptions } from '../types.js';
import { type BreakerState, L2Breaker } from './breaker.js';
import { Codec } from './codec.js';
import { type Connection, closeClient, connect } from './connection.js';
import { cacheHealth, cacheStats } from './health.js';
import { Invalidation } from './invalidation.js';
import { L1Store } from './l1-store.js';
import { LeaseCoordinator } from './leases.js';
import type { NamespaceState } from './namespace-state.js';
import type { ResolvedOptions } from './options.js';
import { ReadPath } from './read-path.js';
import { RedisTier } from './redis-tier.js';
import { SingleFlight } from './single-flight.js';
import { CoreState } from './state.js';
import { TagIndex } from './tags.js';
import { WritePath } from './write-path.js';

/**
 * One manager, shared by every namespace view: wires the parts together and owns their
 * lifecycle (`CacheManager` calls `reads.get` directly: the L1 hit path has no extra hop). The public `CacheManager` validates and traces; the parts do the work:
 * {@link ReadPath} (`get`, `mget`), {@link WritePath} (`set`, `mset`, `delete`, `clear`),
 * {@link TagIndex} (`invalidateTags`), {@link Invalidation} (the bus and L1 epochs),
 * {@link SingleFlight} (`getOrSet`), {@link LeaseCoordinator} (cross-process leases), and
 * `health.ts` (`stats`, `healthCheck`). All of them share one {@link CoreState}.
 */
export class CacheCore {
  readonly state: CoreState;
  readonly reads: ReadPath;
  readonly writes: WritePath;
  readonly tags: TagIndex;
  readonly invalidation: Invalidation;
  readonly loads: SingleFlight;
  readonly leases: LeaseCoordinator;
  private readonly sweepTimer: NodeJS.Timeout | undefined;
  private closing: Promise<void> | undefined;
  private readonly onClientError = (error: unknown) => this.state.report('l2', 'connection', error);

  constructor(readonly opts: ResolvedOptions) {
    const codec = new Codec(opts.serializer ?? jsonSerializer, opts.compression);
    let store: L1Store | undefined;
    if (opts.l1 !== false) {
      const l1 = new L1Store(opts.l1);
      store = l1;
      const { sweepIntervalMs, sweepBatch } = opts.l1;
      this.sweepTimer = setInterval(() => l1.sweep(Date.now(), sweepBatch), sweepIntervalMs);
      this.sweepTimer.unref();
    }
    let connection: Connection | undefined;
    let tier: RedisTier | undefined;
    if (opts.redis !== undefined) {
      const breaker = new L2Breaker({
        timeoutMs: opts.commandTimeout,
        ...opts.breaker,
        onStateChange: (state) => this.onBreaker(state),
      });
      connection = connect(opts.redis, opts.commandTimeout, opts.name);
      tier = new RedisTier(connection, breaker, this.onClientError);
    }
    const s = new CoreState(opts, codec, store, tier);
    this.state = s;
    this.invalidation = new Invalidation(s, connection);
    this.reads = new ReadPath(s);
    this.tags = new TagIndex(s, this.invalidation);
    this.writes = new WritePath(s, this.tags, this.invalidation);
    this.leases = new LeaseCoordinator(
      s,
      this.reads,
      (ns, key) => this.invalidation.publish({ n: ns.path, l: key }),
      () => this.invalidation.up,
    );
    this.loads = new SingleFlight(s, this.reads, this.writes, this.leases);
  }

  /** Component name used in stats, health and events. */
  get name(): string {
    return this.state.name;
  }

  /** The state of a namespace path, created on first use. */
  namespaceState(path: string): NamespaceState {
    return this.state.namespaceState(path);
  }

  /** Validates a key; returns the error to reject with, if any. */
  keyError(key: unknown, ns: NamespaceState): CacheError | undefined {
    if (typeof key !== 'string' || key.length === 0) {
      return new CacheError('E_CACHE_INVALID_KEY', 'A key must be a non-empty string', { namespace: ns.path });
    }
    if (key.length > this.opts.maxKeyLength) {
      return new CacheError('E_CACHE_KEY_TOO_LONG', `Key is ${key.length} characters, over ${this.opts.maxKeyLength}`, {
        key: key.slice(0, 64),
        namespace: ns.path,
      });
    }
    return undefined;
  }

  closedError(ns: NamespaceState): CacheError {
    return new CacheError('E_CACHE_CLOSED', 'The cache manager is closed', { namespace: ns.path });
  }

  mget(ns: NamespaceState, keys: readonly string[], ctx: CacheOperationContext | undefined): Promise<unknown[]> {
    return this.reads.mget(ns, keys, ctx);
  }

  set(ns: NamespaceState, key: string, value: unknown, options: SetOptions | undefined): Promise<void> {
    return this.writes.set(ns, key, value, options);
  }

  mset(ns: NamespaceState, entries: ReadonlyArray<MsetEntry>): Promise<void> {
    return this.writes.mset(ns, entries);
  }

  delete(ns: NamespaceState, keys: readonly string[], operation: string): Promise<number> {
    return this.writes.delete(ns, keys, operation);
  }

  clear(ns: NamespaceState): Promise<void> {
    return this.writes.clear(ns);
  }

  invalidateTags(ns: NamespaceState, tags: readonly string[]): Promise<number> {
    return this.tags.invalidate(ns, tags);
  }

  getOrSet(
    ns: NamespaceState,
    key: string,
    loader: Loader<unknown>,
    options: GetOrSetOptions | undefined,
    ctx: CacheOperationContext | undefined,
  ): Promise<unknown> {
    return this.loads.getOrSet(ns, key, loader, options, ctx);
  }

  stats(): CacheStats {
    return cacheStats(this.state, this.invalidation.bus);
  }

  healthCheck(signal: AbortSignal | undefined): Promise<HealthCheckResult> {
    return cacheHealth(this.state, this.invalidation.bus, signal);
  }

  private onBreaker(state: BreakerState): void {
    if (breakerChannel.hasSubscribers) breakerChannel.publish({ component: this.opts.name, state });
    // The state exists before any call can move the breaker; the check only guards a change during construction.
    const hook = this.state?.hooks.breaker;
    if (hook?.hasListeners) hook.emit({ component: this.opts.name, state });
    // Recover without waiting for traffic: the half-open trial call is a PING of our own.
    const s = this.state;
    if (state === 'half-open' && s !== undefined && !s.closed && s.tier !== undefined) {
      const tier = s.tier;
      setImmediate(() => {
        if (s.closed || tier.breaker.state !== 'half-open') return;
        tier.breaker.run(() => tier.ping()).catch((error: unknown) => s.report('l2', 'probe', error));
      });
    }
  }

  /** Closes timers, the bus, the breaker and the connections the manager owns. Idempotent. */
  close(): Promise<void> {
    if (this.closing !== undefined) return this.closing;
    const s = this.state;
    s.closed = true;
    this.closing = (async () => {
      clearInterval(this.sweepTimer);
      s.abort.abort();
      this.leases.wakeAll();
      this.invalidation.close();
      const tier = s.tier;
      if (tier !== undefined) {
        tier.breaker.shutdown();
        if (tier.owned) await closeClient(tier.client);
        else tier.detach(this.onClientError);
      }
    })();
    return this.closing;
  }
}
