import { createHash } from 'node:crypto';
import type { Cluster, Redis } from 'ioredis';

/** The count of hits in the current window of a key, and when that window ends. */
export interface RateLimitHit {
  count: number;
  /** Milliseconds until the window resets. */
  resetMs: number;
}

/** Where rate-limit counters live. */
export interface RateLimitStore {
  /** Counts one hit on `key` in a fixed window of `windowMs`. */
  hit(key: string, windowMs: number): RateLimitHit | Promise<RateLimitHit>;
  /** Releases timers (not the Redis client, which the caller owns). Idempotent. */
  close(): void;
}

/** Fixed-window counters in this process. Expired windows are swept every `windowMs`. */
export class MemoryRateLimitStore implements RateLimitStore {
  readonly #windows = new Map<string, { count: number; resetAt: number }>();
  #sweeper: NodeJS.Timeout | undefined;

  /** @param sweepIntervalMs how often expired windows are removed. */
  constructor(sweepIntervalMs = 10_000) {
    this.#sweeper = setInterval(() => this.#sweep(), sweepIntervalMs);
    this.#sweeper.unref();
  }

  hit(key: string, windowMs: number): RateLimitHit {
    const now = Date.now();
    let w = this.#windows.get(key);
    if (w === undefined || w.resetAt <= now) {
      w = { count: 0, resetAt: now + windowMs };
      this.#windows.set(key, w);
    }
    w.count++;
    return { count: w.count, resetMs: w.resetAt - now };
  }

  /** Keys with a live window. */
  get size(): number {
    return this.#windows.size;
  }

  close(): void {
    if (this.#sweeper !== undefined) clearInterval(this.#sweeper);
    this.#sweeper = undefined;
    this.#windows.clear();
  }

  #sweep(): void {
    const now = Date.now();
    for (const [key, w] of this.#windows) if (w.resetAt <= now) this.#windows.delete(key);
  }
}

/** INCR and, on the first hit of a window, PEXPIRE, atomically; returns the count and the remaining TTL. */
const HIT_SCRIPT = `local c = redis.call('INCR', KEYS[1])
if c == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
local t = redis.call('PTTL', KEYS[1])
if t < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[1]); t = tonumber(ARGV[1]) end
return {c, t}`;

/**
 * Fixed-window counters in Redis, shared by every API instance that uses the same client settings and
 * prefix. One round trip per hit (EVALSHA of a small Lua script; EVAL once when the script is not loaded).
 */
export class RedisRateLimitStore implements RateLimitStore {
  readonly #redis: Redis | Cluster;
  readonly #prefix: string;
  #sha: string | undefined;

  constructor(redis: Redis | Cluster, prefix: string) {
    this.#redis = redis;
    this.#prefix = prefix;
  }

  async hit(key: string, windowMs: number): Promise<RateLimitHit> {
    const k = this.#prefix + key;
    let reply: unknown;
    if (this.#sha !== undefined) {
      try {
        reply = await this.#redis.evalsha(this.#sha, 1, k, windowMs);
      } catch (e) {
        if (!String((e as Error).message).includes('NOSCRIPT')) throw e;
        this.#sha = undefined;
      }
    }
    if (reply === undefined) {
      reply = await this.#redis.eval(HIT_SCRIPT, 1, k, windowMs);
      // Later hits send only the SHA; computing it locally avoids a SCRIPT LOAD round trip.
      this.#sha = SCRIPT_SHA;
    }
    const [count, ttl] = reply as [number, number];
    return { count: Number(count), resetMs: Number(ttl) };
  }

  close(): void {}
}

const SCRIPT_SHA = createHash('sha1').update(HIT_SCRIPT).digest('hex');

/** The verdict for one request. */
export interface RateLimitVerdict {
  allowed: boolean;
  limit: number;
  remaining: number;
  /** Whole seconds until the window resets (the `Retry-After` value). */
  retryAfterSec: number;
}

/**
 * Applies a limit per key through a store. When the store fails (Redis down), it falls back to an
 * in-memory store for that call, so the API keeps limiting per instance instead of failing or opening up.
 */
export class RateLimiter {
  readonly #store: RateLimitStore;
  readonly #fallback: MemoryRateLimitStore | undefined;
  readonly #windowMs: number;
  readonly #timeoutMs: number;
  /** Store failures (errors and timeouts) answered by the in-memory fallback. */
  storeErrors = 0;

  /**
   * @param windowMs fixed window length.
   * @param storeTimeoutMs a store call slower than this (Redis unreachable, commands queued) is answered by the fallback.
   */
  constructor(store: RateLimitStore, windowMs: number, storeTimeoutMs = 250) {
    this.#store = store;
    this.#windowMs = windowMs;
    this.#timeoutMs = storeTimeoutMs;
    this.#fallback = store instanceof MemoryRateLimitStore ? undefined : new MemoryRateLimitStore(windowMs);
  }

  /**
   * Counts a hit on `key` against `limit` per window. Answers synchronously when the store does (in memory),
   * so the hot path allocates no promise.
   */
  check(key: string, limit: number): RateLimitVerdict | Promise<RateLimitVerdict> {
    let pending: RateLimitHit | Promise<RateLimitHit>;
    try {
      pending = this.#store.hit(key, this.#windowMs);
    } catch {
      return this.#verdict(this.#fallbackHit(key), limit);
    }
    if (!(pending instanceof Promise)) return this.#verdict(pending, limit);
    return withTimeout(pending, this.#timeoutMs).then(
      (hit) => this.#verdict(hit, limit),
      () => this.#verdict(this.#fallbackHit(key), limit),
    );
  }

  #fallbackHit(key: string): RateLimitHit {
    this.storeErrors++;
    return (this.#fallback ?? (this.#store as MemoryRateLimitStore)).hit(key, this.#windowMs);
  }

  #verdict(hit: RateLimitHit, limit: number): RateLimitVerdict {
    return {
      allowed: hit.count <= limit,
      limit,
      remaining: Math.max(0, limit - hit.count),
      retryAfterSec: Math.max(1, Math.ceil(hit.resetMs / 1000)),
    };
  }

  close(): void {
    this.#store.close();
    this.#fallback?.close();
  }
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`rate-limit store slower than ${ms} ms`)), ms);
  });
  // The late result (or error) of a timed-out call is dropped, never unhandled.
  p.catch(() => {});
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}
