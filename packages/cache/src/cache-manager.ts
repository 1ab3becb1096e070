import type { Hook } from '@cryptoscalp/contracts';
import {
  type CacheBreakerEvent,
  type CacheBusEvent,
  type CacheErrorEvent,
  type CacheOperationContext,
  operationChannel,
} from './channels.js';
import { CacheError } from './errors.js';
import { CacheCore } from './internal/core.js';
import type { NamespaceState } from './internal/namespace-state.js';
import { checkName, resolveOptions } from './internal/options.js';
import type { ReadPath } from './internal/read-path.js';
import type { CoreState } from './internal/state.js';
import type {
  CacheManagerOptions,
  CacheStats,
  GetOrSetOptions,
  HealthCheckResult,
  Loader,
  MsetEntry,
  SetOptions,
} from './types.js';

type Operation = CacheOperationContext['operation'];

// Hands the shared core to a namespace view without widening the public constructor.
let pendingView: { core: CacheCore; ns: NamespaceState } | undefined;

/**
 * Two-tier cache: an in-process L1 (LRU or LFU, TTL, grace) in front of Redis or DragonflyDB
 * (standalone, Sentinel or Cluster through ioredis), with single-flight `getOrSet`, optional
 * cross-process leases, a circuit breaker that fails open, and L1 invalidation across
 * instances over Redis pub/sub.
 *
 * ```ts
 * const cache = new CacheManager({ redis: { url: 'redis://127.0.0.1:6379' }, namespace: 'trader' });
 * const price = await cache.getOrSet('BTC-USD', () => fetchPrice('BTC-USD'), { ttlMs: 1_000 });
 * ```
 */
export class CacheManager {
  private readonly core: CacheCore;
  // The hot paths (`get`, the closed check) go straight to the part that does the work.
  private readonly reads: ReadPath;
  private readonly state: CoreState;
  private readonly ns: NamespaceState;
  private viewClosed = false;

  /** Validates `options` (throws `E_CACHE_INVALID_OPTION` naming the field) and connects. */
  constructor(options?: CacheManagerOptions) {
    const view = pendingView;
    pendingView = undefined;
    if (view !== undefined) {
      this.core = view.core;
      this.ns = view.ns;
    } else {
      const core = new CacheCore(resolveOptions(options));
      this.core = core;
      this.ns = core.namespaceState(core.opts.namespace);
    }
    this.reads = this.core.reads;
    this.state = this.core.state;
    const hooks = this.state.hooks;
    this.onBreakerStateChange = hooks.breaker.hook;
    this.onBusStateChange = hooks.bus.hook;
    this.onError = hooks.error.hook;
  }

  /**
   * Calls `listener` when the Redis circuit breaker changes state (`open`: L2 is skipped and the cache fails open;
   * `half-open`: a trial PING runs; `closed`: recovered). Same payload as `cryptoscalp:cache:breaker`. Returns a
   * disposable that removes the listener. Shared by every namespace view of the manager.
   */
  readonly onBreakerStateChange: Hook<CacheBreakerEvent>;

  /**
   * Calls `listener` when the invalidation bus goes `up` or `down` (while down, L1 entries are revalidated before
   * being served). Same payload as `cryptoscalp:cache:bus`. Returns a disposable. Shared by every namespace view.
   */
  readonly onBusStateChange: Hook<CacheBusEvent>;

  /**
   * Calls `listener` for every error the cache counts instead of throwing (fail-open L2 failures, loader errors
   * served with grace, bus and serialization errors, and a hook listener that threw). Same payload as
   * `cryptoscalp:cache:error`. Returns a disposable. Shared by every namespace view. An exception thrown by an
   * `onError` listener is counted (`stats().errors.listener`) and published on the channel, never sent back to it.
   */
  readonly onError: Hook<CacheErrorEvent>;

  /** Component name used in stats, health and events (`name` option). */
  get name(): string {
    return this.core.name;
  }

  /** The namespace path of this view, e.g. `trader` or `trader:books`. */
  get namespacePath(): string {
    return this.ns.path;
  }

  /**
   * A child view whose keys live under `<this namespace>:<name>`. It shares the L1 store,
   * connections, breaker and bus with this manager; `clear()` on it touches only its keys.
   */
  namespace(name: string): CacheManager {
    checkName('namespace', name, '');
    pendingView = { core: this.core, ns: this.core.namespaceState(`${this.ns.path}:${name}`) };
    return new CacheManager();
  }

  /**
   * The value of `key`, or `undefined` on a miss. L1 hits resolve without touching Redis. If
   * Redis fails and `failOpen` is on, an L1 value (stale within grace, or unverified after a
   * bus drop) is served instead, else `undefined`.
   */
  get<T = unknown>(key: string): Promise<T | undefined> {
    if (operationChannel.hasSubscribers) return this.traced('get', key, (ctx) => this.doGet(key, ctx)) as Promise<T>;
    return this.doGet(key, undefined) as Promise<T | undefined>;
  }

  private doGet(key: string, ctx: CacheOperationContext | undefined): Promise<unknown> {
    const error = this.check(key);
    if (error !== undefined) return Promise.reject(error);
    return this.reads.get(this.ns, key, ctx);
  }

  /**
   * Stores `value` in L1 and Redis and invalidates other instances' L1. `undefined` is
   * rejected (`E_CACHE_UNDEFINED_VALUE`); values the serializer cannot encode reject with
   * `E_CACHE_SERIALIZE` and are stored nowhere.
   */
  set(key: string, value: unknown, options?: SetOptions): Promise<void> {
    return this.run('set', key, () => this.core.set(this.ns, key, value, options));
  }

  /**
   * The cached value of `key`, or the loader's result (cached with `options.ttl`). Concurrent
   * calls for one key run the loader once per process (once across processes with
   * `lease: true`). With grace, an expired value is served while one refresh runs; it is also
   * served when the loader or Redis fails. Rejects with `E_CACHE_LOADER` or `E_CACHE_TIMEOUT`.
   */
  getOrSet<T>(key: string, loader: Loader<T>, options?: GetOrSetOptions): Promise<T> {
    if (typeof loader !== 'function') {
      return Promise.reject(
        new CacheError('E_CACHE_INVALID_OPTION', 'loader must be a function', { field: 'loader', key: String(key) }),
      );
    }
    if (operationChannel.hasSubscribers) {
      return this.traced('getOrSet', key, (ctx) =>
        this.doGetOrSet(key, loader as Loader<unknown>, options, ctx),
      ) as Promise<T>;
    }
    return this.doGetOrSet(key, loader as Loader<unknown>, options, undefined) as Promise<T>;
  }

  private doGetOrSet(
    key: string,
    loader: Loader<unknown>,
    options: GetOrSetOptions | undefined,
    ctx: CacheOperationContext | undefined,
  ): Promise<unknown> {
    const error = this.check(key);
    if (error !== undefined) return Promise.reject(error);
    return this.core.getOrSet(this.ns, key, loader, options, ctx);
  }

  /** Deletes `key` here, in Redis and in other instances' L1. Resolves true if it existed. */
  delete(key: string): Promise<boolean> {
    return this.run('delete', key, async () => (await this.core.delete(this.ns, [key], 'delete')) > 0);
  }

  /** Deletes several keys (one UNLINK standalone; one per key, pipelined, in a cluster). Resolves with how many existed. */
  deleteMany(keys: readonly string[]): Promise<number> {
    return this.runMany('deleteMany', keys, () => this.core.delete(this.ns, keys, 'deleteMany'));
  }

  /** Values of several keys in order (`undefined` for misses): L1 first, one L2 round trip for the rest. */
  mget<T = unknown>(keys: readonly string[]): Promise<Array<T | undefined>> {
    return this.runMany('mget', keys, (ctx) => this.core.mget(this.ns, keys, ctx)) as Promise<Array<T | undefined>>;
  }

  /** Stores several entries; all are encoded before anything is written. */
  mset(entries: ReadonlyArray<MsetEntry>): Promise<void> {
    if (!Array.isArray(entries)) {
      return Promise.reject(new CacheError('E_CACHE_INVALID_OPTION', 'entries must be an array', { field: 'entries' }));
    }
    return this.runMany(
      'mset',
      entries.map((e) => e?.key),
      () => this.core.mset(this.ns, entries),
    );
  }

  /** Deletes every entry of this namespace tagged with one of `tags`, everywhere. Resolves with a count. */
  invalidateTags(tags: readonly string[]): Promise<number> {
    return this.run('invalidateTags', undefined, () => this.core.invalidateTags(this.ns, tags));
  }

  /** Deletes every key of this namespace (not of child namespaces): L1, Redis (SCAN + UNLINK) and other instances' L1. */
  clear(): Promise<void> {
    return this.run('clear', undefined, () => this.core.clear(this.ns));
  }

  /** A cheap synchronous snapshot of counters, sizes, breaker and bus state and latency percentiles (shared by all views). */
  stats(): CacheStats {
    return this.core.stats();
  }

  /**
   * PINGs Redis with a deadline (`commandTimeout`): `fail` if it does not answer or the breaker
   * is open; `warn` if slow (> `healthWarnLatencyMs`), half-open, or the bus is down; else `pass`.
   */
  healthCheck(signal?: AbortSignal): Promise<HealthCheckResult> {
    return this.core.healthCheck(signal);
  }

  /**
   * Closes the manager. On the root view: stops timers, the bus and the breaker, and closes
   * connections the manager created (never an instance you passed in). On a namespace view:
   * only that view stops working. Idempotent.
   */
  async close(): Promise<void> {
    this.viewClosed = true;
    if (this.ns.path === this.core.opts.namespace) await this.core.close();
  }

  private check(key: unknown): CacheError | undefined {
    if (this.viewClosed || this.state.closed) return this.core.closedError(this.ns);
    return this.core.keyError(key, this.ns);
  }

  private run<T>(operation: Operation, key: string | undefined, fn: () => Promise<T>): Promise<T> {
    const error = key === undefined ? this.check('-') : this.check(key);
    if (error !== undefined) return Promise.reject(error);
    const call = () => {
      try {
        return fn();
      } catch (e) {
        return Promise.reject(e);
      }
    };
    if (operationChannel.hasSubscribers) return this.traced(operation, key, call);
    return call();
  }

  private runMany<T>(
    operation: Operation,
    keys: readonly unknown[],
    fn: (ctx: CacheOperationContext | undefined) => Promise<T>,
  ): Promise<T> {
    if (!Array.isArray(keys)) {
      return Promise.reject(new CacheError('E_CACHE_INVALID_OPTION', 'keys must be an array', { field: 'keys' }));
    }
    for (const key of keys) {
      const error = this.check(key);
      if (error !== undefined) return Promise.reject(error);
    }
    if (this.viewClosed || this.state.closed) return Promise.reject(this.core.closedError(this.ns));
    const call = (ctx: CacheOperationContext | undefined) => {
      try {
        return fn(ctx);
      } catch (e) {
        return Promise.reject(e);
      }
    };
    if (operationChannel.hasSubscribers) return this.traced(operation, undefined, call);
    return call(undefined);
  }

  private traced<T>(
    operation: Operation,
    key: string | undefined,
    fn: (ctx: CacheOperationContext) => Promise<T>,
  ): Promise<T> {
    const ctx: CacheOperationContext = { component: this.core.name, operation, namespace: this.ns.path };
    if (key !== undefined) ctx.key = key;
    return operationChannel.tracePromise(() => fn(ctx), ctx);
  }
}
