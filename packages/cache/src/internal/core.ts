import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { breakerChannel, busChannel, type CacheOperationContext, errorChannel } from '../channels.js';
import { CacheError, isCacheError } from '../errors.js';
import { jsonSerializer } from '../serializer.js';
import type { CacheStats, GetOrSetOptions, HealthCheckResult, Loader, MsetEntry, SetOptions } from '../types.js';
import { type BreakerState, L2Breaker } from './breaker.js';
import { type BusMessage, InvalidationBus } from './bus.js';
import { Codec, type DecodedRecord, type EncodedValue } from './codec.js';
import { closeClient, connect, duplicateClient } from './connection.js';
import { Flight } from './flight.js';
import { dataKey, dataPattern, fenceKey, leaseKey, tagKey, tagPattern } from './keys.js';
import { L1Store } from './l1-store.js';
import { LatencyHistogram } from './latency-histogram.js';
import type { NamespaceState } from './namespace-state.js';
import { checkRenamedNumber, type ResolvedOptions } from './options.js';

/** Per-call options read by name (`ttlMs` or its deprecated alias `ttl`, ...). */
type Opts = Record<string, unknown> | undefined;

import { RedisTier } from './redis-tier.js';

/** L2 could not answer (breaker open, error, deadline) and fail-open lets the caller carry on. */
const FAILED: unique symbol = Symbol('l2-failed');
type L2Read = DecodedRecord | null | typeof FAILED;

const TEN_YEARS = 10 * 365 * 24 * 3600 * 1000;

/**
 * The state every namespace view of one manager shares: L1 store, Redis tier, breaker, bus,
 * counters. The public `CacheManager` validates and traces; this class does the work.
 */
export class CacheCore {
  readonly id = randomUUID();
  readonly name: string;
  readonly store: L1Store | undefined;
  readonly tier: RedisTier | undefined;
  readonly bus: InvalidationBus | undefined;
  readonly codec: Codec;
  readonly namespaces = new Map<string, NamespaceState>();
  /** Epoch stamped on new L1 entries. */
  writeEpoch = 0;
  /** Epoch L1 trusts; NaN (matches nothing) while the bus is down. */
  validEpoch = 0;
  /** Bumped on every invalidation, so a Redis read racing an invalidation does not refill L1. */
  invalidationSeq = 0;
  closed = false;
  ops = 0;
  l1Hits = 0;
  l1Misses = 0;
  l2Hits = 0;
  l2Misses = 0;
  loaderCalls = 0;
  staleServed = 0;
  readonly errors = { l2: 0, loader: 0, serialize: 0, bus: 0, timeout: 0 };
  readonly l1Latency = new LatencyHistogram();
  readonly l2Latency = new LatencyHistogram();
  readonly loaderLatency = new LatencyHistogram();
  private readonly abort = new AbortController();
  private readonly sweepTimer: NodeJS.Timeout | undefined;
  private closing: Promise<void> | undefined;
  private readonly onClientError = (error: unknown) => this.report('l2', 'connection', error);

  constructor(readonly opts: ResolvedOptions) {
    this.name = opts.name;
    this.codec = new Codec(opts.serializer ?? jsonSerializer, opts.compression);
    if (opts.l1 !== false) {
      this.store = new L1Store(opts.l1);
      const { sweepIntervalMs, sweepBatch } = opts.l1;
      this.sweepTimer = setInterval(() => this.store?.sweep(Date.now(), sweepBatch), sweepIntervalMs);
      this.sweepTimer.unref();
    }
    if (opts.redis !== undefined) {
      const breaker = new L2Breaker({
        timeoutMs: opts.commandTimeout,
        ...opts.breaker,
        onStateChange: (state) => this.onBreaker(state),
      });
      const connection = connect(opts.redis, opts.commandTimeout, opts.name);
      this.tier = new RedisTier(connection, breaker, this.onClientError);
      if (opts.bus !== false && this.store !== undefined) {
        this.writeEpoch = 1;
        this.validEpoch = Number.NaN;
        const sub = duplicateClient(connection);
        this.bus = new InvalidationBus(connection.client, sub, opts.bus.channel, this.id, opts.bus.heartbeatMs, {
          message: (message) => this.onBusMessage(message),
          up: () => this.onBusState('up'),
          down: () => this.onBusState('down'),
          error: (error) => this.report('bus', 'bus', error),
        });
      }
    }
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

  // ---------------------------------------------------------------- reads

  /** The whole `get`: L1 fast path (no async function, no allocation but the resolved promise), else {@link getMiss}. */
  get(ns: NamespaceState, key: string, ctx: CacheOperationContext | undefined): Promise<unknown> {
    const sample = (++this.ops & 63) === 0;
    const t0 = sample ? performance.now() : 0;
    const part = ns.part;
    if (part !== undefined) {
      const entry = part.map.get(key);
      if (entry !== undefined && entry.epoch === this.validEpoch && entry.freshUntil > Date.now()) {
        (this.store as L1Store).touch(entry);
        this.l1Hits++;
        if (sample) this.l1Latency.record(performance.now() - t0);
        if (ctx !== undefined) {
          ctx.tier = 'l1';
          ctx.hit = true;
        }
        return Promise.resolve(entry.value);
      }
    }
    return this.getMiss(ns, key, ctx);
  }

  private async getMiss(ns: NamespaceState, key: string, ctx: CacheOperationContext | undefined): Promise<unknown> {
    const fallback = this.l1Fallback(ns, key);
    if (ns.part !== undefined) this.l1Misses++;
    if (ctx !== undefined) ctx.hit = false;
    if (this.tier === undefined) return undefined;
    const epoch = this.writeEpoch;
    const seq = this.invalidationSeq;
    const rec = await this.readL2(ns, key, 'get');
    if (rec === FAILED) return this.serveFallback(fallback, ctx);
    if (rec === null) {
      this.l2Misses++;
      if (fallback !== undefined && ns.part !== undefined) this.store?.delete(ns.part, key);
      return undefined;
    }
    this.fillL1(ns, key, rec, epoch, seq);
    if (rec.freshUntil > Date.now()) {
      this.l2Hits++;
      if (ctx !== undefined) {
        ctx.tier = 'l2';
        ctx.hit = true;
      }
      return rec.value;
    }
    this.l2Misses++;
    return undefined;
  }

  /** An L1 entry that may be served if Redis fails: within grace, or fresh but unverified. */
  private l1Fallback(ns: NamespaceState, key: string): { value: unknown; fresh: boolean } | undefined {
    const part = ns.part;
    if (part === undefined) return undefined;
    const entry = part.map.get(key);
    if (entry === undefined) return undefined;
    const now = Date.now();
    if (entry.staleUntil <= now) {
      this.store?.expire(entry);
      return undefined;
    }
    return { value: entry.value, fresh: entry.freshUntil > now };
  }

  private serveFallback(
    fallback: { value: unknown; fresh: boolean } | undefined,
    ctx: CacheOperationContext | undefined,
  ): unknown {
    if (fallback === undefined) return undefined;
    if (!fallback.fresh) this.staleServed++;
    this.l1Hits++;
    if (ctx !== undefined) {
      ctx.tier = 'l1';
      ctx.hit = true;
    }
    return fallback.value;
  }

  private async readL2(ns: NamespaceState, key: string, operation: string): Promise<L2Read> {
    const tier = this.tier as RedisTier;
    if (tier.breaker.isOpen) {
      if (!this.opts.failOpen)
        throw new CacheError('E_CACHE_UNAVAILABLE', 'Redis circuit breaker is open', { key, operation });
      return FAILED;
    }
    const t0 = performance.now();
    let raw: Buffer | null;
    try {
      raw = await tier.get(dataKey(ns.path, key));
    } catch (error) {
      this.l2Failure(operation, error, key, ns);
      return FAILED;
    }
    this.l2Latency.record(performance.now() - t0);
    if (raw === null) return null;
    try {
      return this.codec.decode(raw);
    } catch (error) {
      this.report('serialize', operation, error);
      return null;
    }
  }

  private fillL1(ns: NamespaceState, key: string, rec: DecodedRecord, epoch: number, seq: number): void {
    if (ns.part === undefined || this.store === undefined || seq !== this.invalidationSeq) return;
    if (rec.staleUntil <= Date.now()) return;
    this.store.set(ns.part, key, rec.value, rec.freshUntil, rec.staleUntil, rec.size, rec.tags, epoch);
  }

  /** Counts an L2 failure; rethrows it (as a CacheError) unless fail-open. */
  private l2Failure(operation: string, error: unknown, key?: string, ns?: NamespaceState): void {
    const timeout = isCacheError(error) && error.code === 'E_CACHE_TIMEOUT';
    this.report(timeout ? 'timeout' : 'l2', operation, error);
    if (this.opts.failOpen) return;
    if (isCacheError(error)) throw error;
    throw new CacheError('E_CACHE_UNAVAILABLE', 'Redis failed', { cause: error, key, namespace: ns?.path, operation });
  }

  /** `mget`: L1 first, then one L2 round trip for the rest. */
  async mget(ns: NamespaceState, keys: readonly string[], ctx: CacheOperationContext | undefined): Promise<unknown[]> {
    const results: unknown[] = new Array(keys.length).fill(undefined);
    const missing: number[] = [];
    const now = Date.now();
    for (let i = 0; i < keys.length; i++) {
      const entry = ns.part?.map.get(keys[i] as string);
      if (entry !== undefined && entry.epoch === this.validEpoch && entry.freshUntil > now) {
        this.store?.touch(entry);
        this.l1Hits++;
        results[i] = entry.value;
      } else {
        if (ns.part !== undefined) this.l1Misses++;
        missing.push(i);
      }
    }
    if (ctx !== undefined) {
      ctx.tier = missing.length === 0 ? 'l1' : 'l2';
      ctx.hit = missing.length === 0;
    }
    if (missing.length === 0 || this.tier === undefined) return results;
    const epoch = this.writeEpoch;
    const seq = this.invalidationSeq;
    let raws: Array<Buffer | null> | undefined;
    if (this.tier.breaker.isOpen) {
      this.l2Failure('mget', new CacheError('E_CACHE_UNAVAILABLE', 'Redis circuit breaker is open'));
    } else {
      const t0 = performance.now();
      try {
        raws = await this.tier.mget(missing.map((i) => dataKey(ns.path, keys[i] as string)));
        this.l2Latency.record(performance.now() - t0);
      } catch (error) {
        this.l2Failure('mget', error, undefined, ns);
      }
    }
    for (let j = 0; j < missing.length; j++) {
      const i = missing[j] as number;
      const key = keys[i] as string;
      if (raws === undefined) {
        results[i] = this.serveFallback(this.l1Fallback(ns, key), undefined);
        continue;
      }
      const raw = raws[j];
      let rec: DecodedRecord | null = null;
      if (raw !== null && raw !== undefined) {
        try {
          rec = this.codec.decode(raw);
        } catch (error) {
          this.report('serialize', 'mget', error);
        }
      }
      if (rec === null) {
        this.l2Misses++;
        continue;
      }
      this.fillL1(ns, key, rec, epoch, seq);
      if (rec.freshUntil > Date.now()) {
        this.l2Hits++;
        results[i] = rec.value;
      } else {
        this.l2Misses++;
      }
    }
    return results;
  }

  // ---------------------------------------------------------------- writes

  private ttlOf(options: SetOptions | undefined): { ttl: number; grace: number } {
    return {
      ttl: checkRenamedNumber(options as Opts, 'ttlMs', 'ttl', this.opts.ttl, { min: 1, max: TEN_YEARS }),
      grace: checkRenamedNumber(options as Opts, 'graceMs', 'grace', this.opts.grace, { max: TEN_YEARS }),
    };
  }

  private checkTags(tags: unknown): readonly string[] | undefined {
    if (tags === undefined) return undefined;
    if (!Array.isArray(tags) || tags.some((t) => typeof t !== 'string' || t.length === 0 || t.length > 256)) {
      throw new CacheError('E_CACHE_INVALID_OPTION', 'tags must be an array of non-empty strings (<= 256 chars)', {
        field: 'tags',
      });
    }
    return tags.length === 0 ? undefined : (tags as string[]);
  }

  private encode(value: unknown, operation: string, key: string, ns: NamespaceState): EncodedValue {
    if (value === undefined) {
      throw new CacheError(
        'E_CACHE_UNDEFINED_VALUE',
        'undefined cannot be stored (get returns undefined on a miss); use null',
        {
          key,
          namespace: ns.path,
          operation,
        },
      );
    }
    try {
      return this.codec.encode(value);
    } catch (error) {
      this.errors.serialize++;
      if (isCacheError(error)) {
        throw new CacheError(error.code, error.message, {
          cause: error.cause ?? error,
          key,
          namespace: ns.path,
          operation,
        });
      }
      throw error;
    }
  }

  /** `set` (and the write of `getOrSet`): L1, then Redis, then the bus. */
  async set(
    ns: NamespaceState,
    key: string,
    value: unknown,
    options: SetOptions | undefined,
    operation = 'set',
    writeL2 = true,
  ): Promise<void> {
    const { ttl, grace } = this.ttlOf(options);
    const tags = this.checkTags(options?.tags);
    const encoded = this.encode(value, operation, key, ns);
    // Only right after start: written once the bus is subscribed, the L1 entry is valid at once and
    // stays correct (an invalidation published before the subscription was for an older write).
    const starting = this.bus?.starting;
    if (starting !== undefined) await starting;
    const freshUntil = Date.now() + ttl;
    const staleUntil = freshUntil + grace;
    if (ns.part !== undefined) {
      this.store?.set(ns.part, key, value, freshUntil, staleUntil, encoded.payload.length, tags, this.writeEpoch);
    }
    if (this.tier === undefined || !writeL2) return;
    if (this.tier.breaker.isOpen) {
      this.l2Failure(operation, new CacheError('E_CACHE_UNAVAILABLE', 'Redis circuit breaker is open'), key, ns);
      return;
    }
    const redisKey = dataKey(ns.path, key);
    try {
      await this.tier.set(redisKey, this.codec.envelope(encoded, freshUntil, staleUntil, tags), ttl + grace);
      if (tags !== undefined) {
        await this.tier.tag(
          tags.map((t) => tagKey(ns.path, t)),
          redisKey,
          ttl + grace,
        );
      }
      await this.publish({ n: ns.path, k: [key] });
    } catch (error) {
      this.l2Failure(operation, error, key, ns);
    }
  }

  /** `mset`: encodes everything first (all or nothing), then L1, then one pipelined L2 write. */
  async mset(ns: NamespaceState, entries: ReadonlyArray<MsetEntry>): Promise<void> {
    const prepared = entries.map((e) => {
      const { ttl, grace } = this.ttlOf(e);
      const tags = this.checkTags(e.tags);
      const encoded = this.encode(e.value, 'mset', e.key, ns);
      const freshUntil = Date.now() + ttl;
      return { e, ttl, grace, tags, encoded, freshUntil, staleUntil: freshUntil + grace };
    });
    for (const p of prepared) {
      if (ns.part !== undefined) {
        this.store?.set(
          ns.part,
          p.e.key,
          p.e.value,
          p.freshUntil,
          p.staleUntil,
          p.encoded.payload.length,
          p.tags,
          this.writeEpoch,
        );
      }
    }
    if (this.tier === undefined || prepared.length === 0) return;
    if (this.tier.breaker.isOpen) {
      this.l2Failure('mset', new CacheError('E_CACHE_UNAVAILABLE', 'Redis circuit breaker is open'), undefined, ns);
      return;
    }
    try {
      await this.tier.mset(
        prepared.map((p) => ({
          key: dataKey(ns.path, p.e.key),
          value: this.codec.envelope(p.encoded, p.freshUntil, p.staleUntil, p.tags),
          ttlMs: p.ttl + p.grace,
        })),
      );
      const tagged = prepared.filter((p) => p.tags !== undefined);
      await Promise.all(
        tagged.map((p) =>
          this.tier?.tag(
            (p.tags as string[]).map((t) => tagKey(ns.path, t)),
            dataKey(ns.path, p.e.key),
            p.ttl + p.grace,
          ),
        ),
      );
      await this.publish({ n: ns.path, k: prepared.map((p) => p.e.key) });
    } catch (error) {
      this.l2Failure('mset', error, undefined, ns);
    }
  }

  /** `delete` / `deleteMany`. Resolves with how many keys existed in L1 or L2. */
  async delete(ns: NamespaceState, keys: readonly string[], operation: string): Promise<number> {
    this.invalidationSeq++;
    let l1 = 0;
    if (ns.part !== undefined) for (const key of keys) if (this.store?.delete(ns.part, key)) l1++;
    if (this.tier === undefined || keys.length === 0) return l1;
    if (this.tier.breaker.isOpen) {
      this.l2Failure(operation, new CacheError('E_CACHE_UNAVAILABLE', 'Redis circuit breaker is open'), undefined, ns);
      return l1;
    }
    try {
      const l2 = await this.tier.unlink(keys.map((k) => dataKey(ns.path, k)));
      await this.publish({ n: ns.path, k: [...keys] });
      return Math.max(l1, l2);
    } catch (error) {
      this.l2Failure(operation, error, undefined, ns);
      return l1;
    }
  }

  /** Deletes every entry carrying one of `tags`, here and (through the bus) everywhere. */
  async invalidateTags(ns: NamespaceState, tags: readonly string[]): Promise<number> {
    const checked = this.checkTags(tags) ?? [];
    this.invalidationSeq++;
    const removed = ns.part !== undefined ? (this.store?.deleteTagged(ns.part, new Set(checked)) ?? 0) : 0;
    if (this.tier === undefined || checked.length === 0) return removed;
    if (this.tier.breaker.isOpen) {
      this.l2Failure(
        'invalidateTags',
        new CacheError('E_CACHE_UNAVAILABLE', 'Redis circuit breaker is open'),
        undefined,
        ns,
      );
      return removed;
    }
    try {
      const tagKeys = checked.map((t) => tagKey(ns.path, t));
      const members = await this.tier.members(tagKeys);
      const keys = [...new Set(members.flat())];
      const l2 = await this.tier.unlink([...keys, ...tagKeys]);
      await this.publish({ n: ns.path, g: [...checked] });
      return Math.max(removed, l2 - tagKeys.length, 0);
    } catch (error) {
      this.l2Failure('invalidateTags', error, undefined, ns);
      return removed;
    }
  }

  /** Removes every key of one namespace (not its children): L1 partition, SCAN+UNLINK in Redis, bus. */
  async clear(ns: NamespaceState): Promise<void> {
    this.invalidationSeq++;
    if (ns.part !== undefined) this.store?.clearPartition(ns.part);
    if (this.tier === undefined) return;
    try {
      await this.tier.scanDelete(dataPattern(ns.path));
      await this.tier.scanDelete(tagPattern(ns.path));
      await this.publish({ n: ns.path, c: 1 });
    } catch (error) {
      this.l2Failure('clear', error, undefined, ns);
    }
  }

  private async publish(message: BusMessage): Promise<void> {
    if (this.bus === undefined || this.tier === undefined) return;
    await this.tier.publish(this.opts.bus === false ? '' : this.opts.bus.channel, this.bus.encode(message));
    this.bus.published++;
  }

  // ---------------------------------------------------------------- getOrSet

  /** `getOrSet`: L1 fast path, else join or start the key's single flight. */
  getOrSet(
    ns: NamespaceState,
    key: string,
    loader: Loader<unknown>,
    options: GetOrSetOptions | undefined,
    ctx: CacheOperationContext | undefined,
  ): Promise<unknown> {
    const part = ns.part;
    if (part !== undefined) {
      const entry = part.map.get(key);
      if (entry !== undefined && entry.epoch === this.validEpoch && entry.freshUntil > Date.now()) {
        (this.store as L1Store).touch(entry);
        this.l1Hits++;
        if (ctx !== undefined) {
          ctx.tier = 'l1';
          ctx.hit = true;
        }
        return Promise.resolve(entry.value);
      }
    }
    let soft: number;
    let hard: number;
    try {
      soft = checkRenamedNumber(options as Opts, 'timeoutMs', 'timeout', this.opts.timeout, { max: TEN_YEARS });
      hard = checkRenamedNumber(options as Opts, 'hardTimeoutMs', 'hardTimeout', this.opts.hardTimeout, {
        max: TEN_YEARS,
      });
      this.ttlOf(options);
    } catch (error) {
      return Promise.reject(error);
    }
    // An expired entry still in grace is served stale; a fresh entry unverified after a bus drop
    // is only a fallback for when Redis and the loader fail.
    const fallback = this.l1Fallback(ns, key);
    if (part !== undefined) this.l1Misses++;
    const stale = fallback !== undefined && !fallback.fresh ? { value: fallback.value } : undefined;
    let flight = ns.flights.get(key);
    if (flight === undefined) {
      flight = new Flight();
      ns.flights.set(key, flight);
      void this.runFlight(ns, key, flight, loader, options, stale?.value, fallback);
    }
    return this.awaitFlight(flight, stale, fallback, soft, hard, key, ns, ctx);
  }

  private awaitFlight(
    flight: Flight,
    stale: { value: unknown } | undefined,
    fallback: { value: unknown } | undefined,
    soft: number,
    hard: number,
    key: string,
    ns: NamespaceState,
    ctx: CacheOperationContext | undefined,
  ): Promise<unknown> {
    const settled = (value: unknown, tier: 'l1' | 'l2' | 'loader', hit: boolean) => {
      if (ctx !== undefined) {
        ctx.tier = tier;
        ctx.hit = hit;
      }
      return value;
    };
    const serveStale = (s: { value: unknown }): Promise<unknown> => {
      if (soft <= 0) {
        this.staleServed++;
        return Promise.resolve(settled(s.value, 'l1', true));
      }
      return new Promise((resolve) => {
        const timer = setTimeout(() => {
          this.staleServed++;
          resolve(settled(s.value, 'l1', true));
        }, soft);
        flight.promise.then(
          (value) => {
            clearTimeout(timer);
            resolve(settled(value, flight.tier, value !== undefined));
          },
          () => {
            clearTimeout(timer);
            this.staleServed++;
            resolve(settled(s.value, 'l1', true));
          },
        );
      });
    };
    if (stale !== undefined) return serveStale(stale);
    return new Promise((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      let done = false;
      const onStale = (s: { value: unknown }) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        serveStale(s).then(resolve, reject);
      };
      if (hard > 0) {
        timer = setTimeout(() => {
          if (done) return;
          done = true;
          flight.offStale(onStale);
          this.errors.timeout++;
          reject(
            new CacheError('E_CACHE_TIMEOUT', `getOrSet loader exceeded the hard timeout of ${hard} ms`, {
              key,
              namespace: ns.path,
              operation: 'getOrSet',
              timeoutMs: hard,
            }),
          );
        }, hard);
      }
      flight.onStale(onStale);
      flight.promise.then(
        (value) => {
          if (done) return;
          done = true;
          clearTimeout(timer);
          flight.offStale(onStale);
          resolve(settled(value, flight.tier, value !== undefined));
        },
        (error: unknown) => {
          if (done) return;
          done = true;
          clearTimeout(timer);
          flight.offStale(onStale);
          if (fallback !== undefined) {
            this.staleServed++;
            resolve(settled(fallback.value, 'l1', true));
          } else {
            reject(error);
          }
        },
      );
    });
  }

  private async runFlight(
    ns: NamespaceState,
    key: string,
    flight: Flight,
    loader: Loader<unknown>,
    options: GetOrSetOptions | undefined,
    initialStale: unknown,
    fallback: { value: unknown; fresh: boolean } | undefined,
  ): Promise<void> {
    let lease: { token: number } | undefined;
    try {
      let staleValue = initialStale;
      let l2Ok = false;
      if (this.tier !== undefined) {
        const epoch = this.writeEpoch;
        const seq = this.invalidationSeq;
        const rec = await this.readL2(ns, key, 'getOrSet');
        if (rec !== FAILED) {
          l2Ok = true;
          if (rec !== null) {
            this.fillL1(ns, key, rec, epoch, seq);
            if (rec.freshUntil > Date.now()) {
              this.l2Hits++;
              flight.tier = 'l2';
              flight.resolve(rec.value);
              return;
            }
            if (rec.staleUntil > Date.now()) {
              staleValue = rec.value;
              flight.setStale(rec.value);
            }
          }
          this.l2Misses++;
        } else if (fallback?.fresh === true) {
          // Redis is unavailable and L1 holds a value within its TTL (unverified only because the
          // bus is down): serve it rather than sending every warm key to the loader during an outage.
          this.l1Hits++;
          flight.tier = 'l1';
          flight.resolve(fallback.value);
          return;
        }
        if (options?.lease === true && l2Ok) {
          const outcome = await this.leaseOrWait(ns, key);
          if (outcome !== undefined && 'value' in outcome) {
            flight.tier = 'l2';
            flight.resolve(outcome.value);
            return;
          }
          lease = outcome;
        }
      }
      this.loaderCalls++;
      const t0 = performance.now();
      let value: unknown;
      try {
        value = await loader({ key, stale: staleValue, signal: this.abort.signal });
      } catch (error) {
        this.report('loader', 'getOrSet', error);
        throw new CacheError('E_CACHE_LOADER', `Loader failed for key ${key.slice(0, 64)}`, {
          cause: error,
          key,
          namespace: ns.path,
          operation: 'getOrSet',
        });
      } finally {
        this.loaderLatency.record(performance.now() - t0);
      }
      flight.tier = 'loader';
      if (value !== undefined && !this.closed) {
        let writeL2 = true;
        // Fencing: a holder whose lease expired (someone else took over) keeps its value out of Redis.
        if (lease !== undefined && this.tier !== undefined) {
          writeL2 = await this.tier.holdsLease(leaseKey(ns.path, key), lease.token).catch(() => false);
        }
        await this.set(ns, key, value, options, 'getOrSet', writeL2);
      }
      flight.resolve(value);
    } catch (error) {
      flight.reject(error);
    } finally {
      if (ns.flights.get(key) === flight) ns.flights.delete(key);
      if (lease !== undefined) void this.releaseLease(ns, key, lease.token);
    }
  }

  private async releaseLease(ns: NamespaceState, key: string, token: number): Promise<void> {
    try {
      await this.tier?.releaseLease(leaseKey(ns.path, key), token);
      await this.publish({ n: ns.path, l: key });
    } catch (error) {
      this.report('l2', 'lease', error);
    }
  }

  /**
   * Takes the key's lease, or waits for its holder: woken by the holder's bus message (or,
   * without a bus, a backoff timer), then reads L2. Returns the lease, the value another
   * process loaded, or undefined to load without a lease (Redis failing or wait timed out).
   */
  private async leaseOrWait(
    ns: NamespaceState,
    key: string,
  ): Promise<{ token: number } | { value: unknown } | undefined> {
    const tier = this.tier as RedisTier;
    const { ttlMs, waitTimeoutMs } = this.opts.lease;
    const deadline = Date.now() + waitTimeoutMs;
    let backoff = 20;
    for (;;) {
      let token: number | null;
      try {
        token = await tier.acquireLease(leaseKey(ns.path, key), fenceKey(ns.path), ttlMs);
      } catch (error) {
        this.report('l2', 'lease', error);
        return undefined;
      }
      if (token !== null) return { token };
      const remaining = deadline - Date.now();
      if (remaining <= 0) return undefined;
      const wait = this.waitForRelease(ns, key, Math.min(remaining, this.bus?.state === 'up' ? ttlMs : backoff));
      backoff = Math.min(backoff * 2, 1_000);
      // The holder may have finished between our SET NX and registering the waiter.
      const epoch = this.writeEpoch;
      const seq = this.invalidationSeq;
      let rec: L2Read = await this.readL2(ns, key, 'getOrSet').catch((): L2Read => FAILED);
      if (rec === null || rec === FAILED || rec.freshUntil <= Date.now()) {
        await wait;
        rec = await this.readL2(ns, key, 'getOrSet').catch((): L2Read => FAILED);
      } else {
        wait.cancel();
      }
      if (rec !== null && rec !== FAILED && rec.freshUntil > Date.now()) {
        this.fillL1(ns, key, rec, epoch, seq);
        return { value: rec.value };
      }
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

  // ---------------------------------------------------------------- bus, breaker, errors

  private onBusMessage(message: BusMessage): void {
    this.invalidationSeq++;
    const ns = this.namespaces.get(message.n);
    if (ns === undefined) return;
    if (message.l !== undefined) {
      const waiters = ns.leaseWaiters.get(message.l);
      if (waiters !== undefined) for (const wake of [...waiters]) wake();
      return;
    }
    const part = ns.part;
    if (part === undefined || this.store === undefined) return;
    if (message.c === 1) this.store.clearPartition(part);
    if (message.k !== undefined) for (const key of message.k) this.store.delete(part, key);
    if (message.g !== undefined) this.store.deleteTagged(part, new Set(message.g));
  }

  private onBusState(state: 'up' | 'down'): void {
    this.writeEpoch++;
    this.validEpoch = state === 'up' ? this.writeEpoch : Number.NaN;
    this.invalidationSeq++;
    if (busChannel.hasSubscribers) busChannel.publish({ component: this.name, state, epoch: this.writeEpoch });
  }

  private onBreaker(state: BreakerState): void {
    if (breakerChannel.hasSubscribers) breakerChannel.publish({ component: this.name, state });
    // Recover without waiting for traffic: the half-open trial call is a PING of our own.
    if (state === 'half-open' && !this.closed && this.tier !== undefined) {
      const tier = this.tier;
      setImmediate(() => {
        if (this.closed || tier.breaker.state !== 'half-open') return;
        tier.breaker.run(() => tier.ping()).catch((error: unknown) => this.report('l2', 'probe', error));
      });
    }
  }

  /** Counts an error and publishes it on the error channel. Never throws. */
  report(kind: keyof CacheCore['errors'], operation: string, error: unknown): void {
    this.errors[kind]++;
    if (errorChannel.hasSubscribers) errorChannel.publish({ component: this.name, kind, operation, error });
  }

  // ---------------------------------------------------------------- stats, health, close

  stats(): CacheStats {
    return {
      name: this.name,
      l1Hits: this.l1Hits,
      l1Misses: this.l1Misses,
      l2Hits: this.l2Hits,
      l2Misses: this.l2Misses,
      loaderCalls: this.loaderCalls,
      staleServed: this.staleServed,
      evictions: this.store?.evictions ?? 0,
      expirations: this.store?.expirations ?? 0,
      l1Entries: this.store?.size ?? 0,
      l1Bytes: this.store?.bytes ?? 0,
      errors: { ...this.errors },
      breaker: this.tier === undefined ? 'none' : this.tier.breaker.state,
      bus: {
        state: this.bus === undefined ? 'off' : this.bus.state,
        published: this.bus?.published ?? 0,
        received: this.bus?.received ?? 0,
        drops: this.bus?.drops ?? 0,
        epoch: this.writeEpoch,
      },
      latency: {
        l1: this.l1Latency.summary(),
        l2: this.l2Latency.summary(),
        loader: this.loaderLatency.summary(),
      },
    };
  }

  async healthCheck(signal: AbortSignal | undefined): Promise<HealthCheckResult> {
    const time = new Date().toISOString();
    const details: Record<string, unknown> = {
      breaker: this.tier === undefined ? 'none' : this.tier.breaker.state,
      bus: this.bus === undefined ? 'off' : this.bus.state,
      l1Entries: this.store?.size ?? 0,
    };
    if (this.closed) return { status: 'fail', output: 'closed', time, details };
    if (this.tier === undefined) return { status: 'pass', output: 'L1 only (no Redis configured)', time, details };
    const timeoutMs = Math.max(this.opts.commandTimeout, 1);
    const t0 = performance.now();
    let timer: NodeJS.Timeout | undefined;
    let onAbort: (() => void) | undefined;
    try {
      await Promise.race([
        this.tier.ping(),
        new Promise((_, reject) => {
          timer = setTimeout(() => reject(new Error(`PING timed out after ${timeoutMs} ms`)), timeoutMs);
          if (signal !== undefined) {
            onAbort = () => reject(new Error('health check aborted'));
            if (signal.aborted) onAbort();
            else signal.addEventListener('abort', onAbort, { once: true });
          }
        }),
      ]);
    } catch (error) {
      return { status: 'fail', output: `Redis PING failed: ${(error as Error).message}`, time, details };
    } finally {
      clearTimeout(timer);
      if (onAbort !== undefined) signal?.removeEventListener('abort', onAbort);
    }
    const ms = Math.round((performance.now() - t0) * 1000) / 1000;
    const base = { observedValue: ms, observedUnit: 'ms', time, details };
    const breaker = this.tier.breaker.state;
    if (breaker === 'open') return { status: 'fail', output: 'circuit breaker open', ...base };
    if (breaker === 'half-open') return { status: 'warn', output: 'circuit breaker half-open', ...base };
    if (ms > this.opts.healthWarnLatencyMs) return { status: 'warn', output: `slow PING (${ms} ms)`, ...base };
    if (this.bus !== undefined && this.bus.state === 'down') {
      return { status: 'warn', output: 'invalidation bus down (L1 bypassed)', ...base };
    }
    return { status: 'pass', ...base };
  }

  /** Closes timers, the bus, the breaker and the connections the manager owns. Idempotent. */
  close(): Promise<void> {
    if (this.closing !== undefined) return this.closing;
    this.closed = true;
    this.closing = (async () => {
      clearInterval(this.sweepTimer);
      this.abort.abort();
      for (const ns of this.namespaces.values()) {
        for (const waiters of ns.leaseWaiters.values()) for (const wake of [...waiters]) wake();
      }
      this.bus?.close();
      const tier = this.tier;
      if (tier !== undefined) {
        tier.breaker.shutdown();
        if (tier.owned) await closeClient(tier.client);
        else tier.detach(this.onClientError);
      }
    })();
    return this.closing;
  }
}
