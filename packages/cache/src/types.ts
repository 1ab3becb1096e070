import type { BreakerState } from '@cryptoscalp/contracts';
import type { Cluster, ClusterOptions, Redis, RedisOptions } from 'ioredis';

/** The typed event hook of the suite (`onX(listener)` returns `{ dispose() }`); see `@cryptoscalp/contracts`. */
export type { HealthCheckResult, Hook, HookDisposable, HookListener } from '@cryptoscalp/contracts';

/** Pluggable value serializer (e.g. msgpack). Buffers bypass it and are stored as raw bytes. */
export interface Serializer {
  /** Encodes a value. Throw to reject a value; the error is wrapped in `E_CACHE_SERIALIZE`. */
  serialize(value: unknown): Buffer | Uint8Array | string;
  /** Decodes what {@link Serializer.serialize} produced. */
  deserialize(data: Buffer): unknown;
}

/** Connect to one Redis or DragonflyDB server by URL. */
export interface RedisUrlSettings {
  /** `redis://[user:pass@]host:port[/db]` or `rediss://...`. */
  url: string;
  /** Extra ioredis options, merged over the cache's connection defaults (`enableAutoPipelining` stays on). */
  options?: RedisOptions;
}

/** Connect through Redis Sentinel. */
export interface RedisSentinelSettings {
  /** Sentinel addresses. */
  sentinels: Array<{ host: string; port: number }>;
  /** Name of the monitored master group. */
  name: string;
  /** Extra ioredis options (e.g. `password`, `sentinelPassword`), merged over the cache's connection defaults. */
  options?: RedisOptions;
}

/** Connect to a Redis Cluster. */
export interface RedisClusterSettings {
  /** Startup nodes. */
  cluster: Array<{ host: string; port: number }>;
  /** Extra ioredis Cluster options; `redisOptions` are merged over the cache's connection defaults. */
  options?: ClusterOptions;
}

/**
 * Where L2 lives: connection settings (the manager owns and closes the connections), or an
 * existing ioredis `Redis`/`Cluster` instance (the manager never closes it; it only
 * `duplicate()`s it for the pub/sub bus and closes that duplicate).
 */
export type RedisSettings = RedisUrlSettings | RedisSentinelSettings | RedisClusterSettings | Redis | Cluster;

/** In-process tier settings. */
export interface L1Options {
  /** Maximum number of entries across all namespaces. @default 100000 */
  maxEntries?: number;
  /** Maximum total bytes (serialized size of values plus key length); 0 means no byte limit. @default 0 */
  maxBytes?: number;
  /** Eviction policy: `lru` (least recently used) or `lfu` (O(1) frequency lists, ties broken by recency). @default 'lru' */
  policy?: 'lru' | 'lfu';
  /** How often the background sweep looks for expired entries. @default 1000 */
  sweepIntervalMs?: number;
  /** How many entries one sweep looks at (the sweep resumes where it stopped). @default 2000 */
  sweepBatch?: number;
}

/** Circuit breaker (opossum) around every Redis call. */
export interface BreakerOptions {
  /** Error percentage in the rolling window that opens the breaker. @default 50 */
  errorThresholdPercentage?: number;
  /** Time the breaker stays open before a half-open trial call. @default 2000 */
  resetTimeoutMs?: number;
  /** Minimum calls in the window before the breaker may open. @default 5 */
  volumeThreshold?: number;
  /** Length of the rolling statistics window. @default 10000 */
  rollingWindowMs?: number;
}

/** Cross-instance L1 invalidation bus (Redis pub/sub on its own connection). */
export interface BusOptions {
  /**
   * Heartbeat period. The bus counts as up only while the instance's own heartbeat comes back
   * within `3 * heartbeatMs`; this bounds how long a silently dropped bus can leave L1 stale. @default 500
   */
  heartbeatMs?: number;
  /** Pub/sub channel; instances that should invalidate each other must use the same one. @default '<namespace>:#bus' */
  channel?: string;
}

/** Optional compression of serialized values above a size threshold (node:zlib deflate-raw). */
export interface CompressionOptions {
  /** Values whose serialized size is at least this many bytes are compressed. @default 4096 */
  thresholdBytes?: number;
  /** @deprecated Use `thresholdBytes`; this name is removed in the next major version. */
  threshold?: number;
  /** zlib level 1 (fast) to 9 (small). @default 1 */
  level?: number;
}

/** Cross-process stampede protection: a Redis lease per key with a fencing token. */
export interface LeaseOptions {
  /** Lease lifetime; a holder that dies frees the key after this long. @default 5000 */
  ttlMs?: number;
  /** How long a waiter waits for the holder before loading itself. @default 10000 */
  waitTimeoutMs?: number;
}

/** Options of {@link CacheManager}. Every field is optional; see `DEFAULT_OPTIONS`. */
export interface CacheManagerOptions {
  /** Component name in stats, health and events. @default 'cache' */
  name?: string;
  /** L2 connection or instance; omit for an L1-only cache. @default undefined */
  redis?: RedisSettings;
  /** Root namespace: every Redis key starts with it. Letters, digits, `_`, `-`, `.`. @default 'cache' */
  namespace?: string;
  /** L1 settings, or `false` to disable L1 (every read goes to Redis). @default { maxEntries: 100000, policy: 'lru' } */
  l1?: L1Options | false;
  /** Default time to live of an entry in ms. @default 60000 */
  ttlMs?: number;
  /** Default grace period in ms after `ttlMs` during which a stale value may be served. 0 disables grace. @default 0 */
  graceMs?: number;
  /**
   * Default soft timeout of `getOrSet` loaders in ms: when a stale value exists, wait at most this
   * long for a fresh one before serving the stale value (the refresh continues in the background). @default 0
   */
  timeoutMs?: number;
  /** Default hard timeout of `getOrSet` loaders in ms (no stale value): reject with `E_CACHE_TIMEOUT`. 0 disables it. @default 0 */
  hardTimeoutMs?: number;
  /** Deadline of every Redis call in ms (enforced by the circuit breaker). @default 500 */
  commandTimeoutMs?: number;
  /** @deprecated Use `ttlMs`; this name is removed in the next major version. */
  ttl?: number;
  /** @deprecated Use `graceMs`; this name is removed in the next major version. */
  grace?: number;
  /** @deprecated Use `timeoutMs`; this name is removed in the next major version. */
  timeout?: number;
  /** @deprecated Use `hardTimeoutMs`; this name is removed in the next major version. */
  hardTimeout?: number;
  /** @deprecated Use `commandTimeoutMs`; this name is removed in the next major version. */
  commandTimeout?: number;
  /** Serve from L1/loader and write to L1 only when Redis fails, instead of rejecting. @default true */
  failOpen?: boolean;
  /** Value serializer. @default JSON (throws on cycles, BigInt, functions, symbols) */
  serializer?: Serializer;
  /** Compression of large values, or `false`. @default false */
  compression?: CompressionOptions | false;
  /** Circuit breaker settings. */
  breaker?: BreakerOptions;
  /** Invalidation bus settings, or `false` to run without one (single instance). @default {} (on when `redis` is set) */
  bus?: BusOptions | false;
  /** Lease settings for `getOrSet(..., { lease: true })`. */
  lease?: LeaseOptions;
  /** Longest accepted key, in UTF-16 code units. @default 1024 */
  maxKeyLength?: number;
  /** PING round trip above which `healthCheck` reports `warn`. @default 100 */
  healthWarnLatencyMs?: number;
}

/** Options of `set` and `mset` entries. */
export interface SetOptions {
  /** Time to live in ms. @default the manager's `ttlMs` */
  ttlMs?: number;
  /** Grace period in ms after `ttlMs`. @default the manager's `graceMs` */
  graceMs?: number;
  /** @deprecated Use `ttlMs`; this name is removed in the next major version. */
  ttl?: number;
  /** @deprecated Use `graceMs`; this name is removed in the next major version. */
  grace?: number;
  /** Tags for `invalidateTags`. @default [] */
  tags?: readonly string[];
}

/** One entry of `mset`. */
export interface MsetEntry<T = unknown> extends SetOptions {
  key: string;
  value: T;
}

/** What a loader receives. */
export interface LoaderContext<T> {
  /** The key being loaded (without namespace). */
  key: string;
  /** The stale value, when a grace value exists. */
  stale: T | undefined;
  /** Aborted when the manager closes. */
  signal: AbortSignal;
}

/** Loads the value of a missing key. Returning `undefined` caches nothing. */
export type Loader<T> = (context: LoaderContext<T>) => Promise<T> | T;

/** Options of `getOrSet`. */
export interface GetOrSetOptions extends SetOptions {
  /** Soft timeout in ms (see `CacheManagerOptions.timeoutMs`). @default the manager's `timeoutMs` */
  timeoutMs?: number;
  /** Hard timeout in ms (see `CacheManagerOptions.hardTimeoutMs`). @default the manager's `hardTimeoutMs` */
  hardTimeoutMs?: number;
  /** @deprecated Use `timeoutMs`; this name is removed in the next major version. */
  timeout?: number;
  /** @deprecated Use `hardTimeoutMs`; this name is removed in the next major version. */
  hardTimeout?: number;
  /** Run the loader once across processes through a Redis lease. @default false */
  lease?: boolean;
}

/** Latency percentiles of one tier in milliseconds (HDR-like log buckets, sampled). */
export interface LatencySummary {
  count: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

/** The snapshot returned by `stats()`. All counters are cumulative since construction. */
export type CacheStats = {
  /** The manager's `name`. */
  name: string;
  /** Hits answered by L1. */
  l1Hits: number;
  /** Reads that L1 could not answer (absent, expired, or unverified after a bus drop). */
  l1Misses: number;
  /** Hits answered by Redis. */
  l2Hits: number;
  /** Redis reads that found nothing usable. */
  l2Misses: number;
  /** Loader calls made by `getOrSet`. */
  loaderCalls: number;
  /** Stale (grace) values served. */
  staleServed: number;
  /** L1 entries evicted for space. */
  evictions: number;
  /** L1 entries removed by the sweep or on read because they expired. */
  expirations: number;
  /** L1 size. */
  l1Entries: number;
  /** L1 bytes (estimated from serialized sizes). */
  l1Bytes: number;
  /** Errors by kind (`l2`, `loader`, `serialize`, `bus`, `timeout`, `listener`: a hook listener threw). */
  errors: { l2: number; loader: number; serialize: number; bus: number; timeout: number; listener: number };
  /** Circuit breaker state: `closed`, `open`, `half-open`, or `none` without L2. */
  breaker: BreakerState | 'none';
  /** Bus state and message counts. */
  bus: { state: 'up' | 'down' | 'off'; published: number; received: number; drops: number; epoch: number };
  /** Latency per tier (`l1` is sampled 1 in 64 hits). */
  latency: { l1: LatencySummary; l2: LatencySummary; loader: LatencySummary };
};
