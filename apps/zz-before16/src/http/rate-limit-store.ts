import { createRequire } from 'node:module';
import type { FastifyRateLimitStore } from '@fastify/rate-limit';
import type { Cluster, Redis } from 'ioredis';

/** A store's answer for one hit: hits in the key's current window and the window's remaining milliseconds. */
export interface RateLimitHit {
  current: number;
  ttl: number;
}

/** The callback store contract of `@fastify/rate-limit` (its `LocalStore` and `RedisStore` implement it). */
export interface CallbackStore {
  incr(key: string, cb: (error: Error | null, result?: RateLimitHit) => void, timeWindow: number, max: number): void;
}

type LocalStoreCtor = new (continueExceeding: boolean, exponentialBackoff: boolean, cache?: number) => CallbackStore;
type RedisStoreCtor = new (
  continueExceeding: boolean,
  exponentialBackoff: boolean,
  redis: Redis | Cluster,
  key?: string,
) => CallbackStore;

// The library's own stores (fixed windows: an LRU map in memory; INCR + PEXPIRE in one Lua script in Redis). They are
// not part of its typed entry point, so they are loaded by path; the package has no `exports` map that forbids it.
const require = createRequire(import.meta.url);
const LocalStore = require('@fastify/rate-limit/store/LocalStore.js') as LocalStoreCtor;
const RedisStore = require('@fastify/rate-limit/store/RedisStore.js') as RedisStoreCtor;

/** Options of {@link ApiRateLimitStore}. */
export interface ApiRateLimitStoreOptions {
  /** Counters shared across instances; absent keeps them in this process. */
  redis?: Redis | Cluster;
  /** Redis key prefix. */
  prefix?: string;
  /** A shared-store call slower than this is answered by the in-memory fallback. @default 250 */
  timeoutMs?: number;
  /** Keys kept in memory (LRU). @default 100000 */
  memoryKeys?: number;
  /** A primary store to use instead of Redis (tests). */
  primary?: CallbackStore;
}

/**
 * The rate-limit store given to `@fastify/rate-limit`: the library's `RedisStore` when a Redis client is given (so
 * every gateway instance counts against the same keys), its `LocalStore` otherwise. When Redis fails or is slower
 * than `timeoutMs`, that hit is counted by a local store instead, so an outage neither opens the gates nor turns
 * requests into 500s (the library alone offers only one of those: `skipOnError` or an error). Keys carry their
 * scope (`ip:...`, `tok:...`), so the per-route `child()` stores share this one.
 */
export class ApiRateLimitStore implements FastifyRateLimitStore {
  readonly #primary: CallbackStore;
  readonly #fallback: CallbackStore | undefined;
  readonly #timeoutMs: number;
  /** Shared-store failures (errors and timeouts) answered by the in-memory fallback. */
  errors = 0;

  constructor(options: ApiRateLimitStoreOptions = {}) {
    const memoryKeys = options.memoryKeys ?? 100_000;
    const shared =
      options.primary ??
      (options.redis === undefined ? undefined : new RedisStore(false, false, options.redis, options.prefix ?? ''));
    this.#primary = shared ?? new LocalStore(false, false, memoryKeys);
    this.#fallback = shared === undefined ? undefined : new LocalStore(false, false, memoryKeys);
    this.#timeoutMs = options.timeoutMs ?? 250;
  }

  /** True when the counters are shared (Redis). */
  get shared(): boolean {
    return this.#fallback !== undefined;
  }

  incr(key: string, cb: (error: Error | null, result?: RateLimitHit) => void, timeWindow: number, max: number): void {
    const fallback = this.#fallback;
    if (fallback === undefined) {
      this.#primary.incr(key, cb, timeWindow, max);
      return;
    }
    let settled = false;
    const degrade = () => {
      this.errors++;
      fallback.incr(key, cb, timeWindow, max);
    };
    const timer = setTimeout(() => {
      if (settled) return;
      settled = true;
      degrade();
    }, this.#timeoutMs);
    try {
      this.#primary.incr(
        key,
        (error, result) => {
          // A late answer after the timeout is dropped: the fallback has counted that hit.
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          if (error !== null || result === undefined) degrade();
          else cb(null, result);
        },
        timeWindow,
        max,
      );
    } catch {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      degrade();
    }
  }

  /** Counts one hit on `key` (promise form, for checks outside the library's hook: tokens, stream upgrades). */
  hit(key: string, timeWindow: number, max: number): Promise<RateLimitHit> {
    return new Promise((resolve, reject) => {
      this.incr(
        key,
        (error, result) => (error !== null || result === undefined ? reject(error) : resolve(result)),
        timeWindow,
        max,
      );
    });
  }

  /** Per-route stores share this one: keys already carry their scope. */
  child(): FastifyRateLimitStore {
    return this;
  }
}
