import { performance } from 'node:perf_hooks';
import type { CacheOperationContext } from '../channels.js';
import { CacheError } from '../errors.js';
import type { GetOrSetOptions, Loader } from '../types.js';
import { Flight } from './flight.js';
import type { LeaseCoordinator } from './leases.js';
import type { NamespaceState } from './namespace-state.js';
import { checkRenamedNumber } from './options.js';
import { FAILED, type L1Fallback, NO_HIT, type ReadPath } from './read-path.js';
import type { CoreState } from './state.js';
import { type Opts, TEN_YEARS, type WritePath } from './write-path.js';

/**
 * `getOrSet`: the L1 fast path, else one in-process load per key (single-flight) that reads
 * Redis, takes a lease if asked, calls the loader and writes the value; callers wait with the
 * soft timeout (serve stale) and the hard timeout (reject).
 */
export class SingleFlight {
  constructor(
    private readonly s: CoreState,
    private readonly reads: ReadPath,
    private readonly writes: WritePath,
    private readonly leases: LeaseCoordinator,
  ) {}

  /** `getOrSet`: L1 fast path, else join or start the key's single flight. */
  getOrSet(
    ns: NamespaceState,
    key: string,
    loader: Loader<unknown>,
    options: GetOrSetOptions | undefined,
    ctx: CacheOperationContext | undefined,
  ): Promise<unknown> {
    const hit = this.reads.l1Hit(ns, key, ctx);
    if (hit !== NO_HIT) return Promise.resolve(hit);
    const opts = this.s.opts;
    let soft: number;
    let hard: number;
    try {
      soft = checkRenamedNumber(options as Opts, 'timeoutMs', 'timeout', opts.timeout, { max: TEN_YEARS });
      hard = checkRenamedNumber(options as Opts, 'hardTimeoutMs', 'hardTimeout', opts.hardTimeout, {
        max: TEN_YEARS,
      });
      this.writes.ttlOf(options);
    } catch (error) {
      return Promise.reject(error);
    }
    // An expired entry still in grace is served stale; a fresh entry unverified after a bus drop
    // is only a fallback for when Redis and the loader fail.
    const fallback = this.reads.l1Fallback(ns, key);
    if (ns.part !== undefined) this.s.l1Misses++;
    const stale = fallback !== undefined && !fallback.fresh ? { value: fallback.value } : undefined;
    let flight = ns.flights.get(key);
    if (flight === undefined) {
      flight = new Flight();
      ns.flights.set(key, flight);
      void this.run(ns, key, flight, loader, options, stale?.value, fallback);
    }
    return this.await(flight, stale, fallback, soft, hard, key, ns, ctx);
  }

  private await(
    flight: Flight,
    stale: { value: unknown } | undefined,
    fallback: { value: unknown } | undefined,
    soft: number,
    hard: number,
    key: string,
    ns: NamespaceState,
    ctx: CacheOperationContext | undefined,
  ): Promise<unknown> {
    const s = this.s;
    const settled = (value: unknown, tier: 'l1' | 'l2' | 'loader', hit: boolean) => {
      if (ctx !== undefined) {
        ctx.tier = tier;
        ctx.hit = hit;
      }
      return value;
    };
    const serveStale = (st: { value: unknown }): Promise<unknown> => {
      if (soft <= 0) {
        s.staleServed++;
        return Promise.resolve(settled(st.value, 'l1', true));
      }
      return new Promise((resolve) => {
        const timer = setTimeout(() => {
          s.staleServed++;
          resolve(settled(st.value, 'l1', true));
        }, soft);
        flight.promise.then(
          (value) => {
            clearTimeout(timer);
            resolve(settled(value, flight.tier, value !== undefined));
          },
          () => {
            clearTimeout(timer);
            s.staleServed++;
            resolve(settled(st.value, 'l1', true));
          },
        );
      });
    };
    if (stale !== undefined) return serveStale(stale);
    return new Promise((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      let done = false;
      const onStale = (st: { value: unknown }) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        serveStale(st).then(resolve, reject);
      };
      if (hard > 0) {
        timer = setTimeout(() => {
          if (done) return;
          done = true;
          flight.offStale(onStale);
          s.errors.timeout++;
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
            s.staleServed++;
            resolve(settled(fallback.value, 'l1', true));
          } else {
            reject(error);
          }
        },
      );
    });
  }

  private async run(
    ns: NamespaceState,
    key: string,
    flight: Flight,
    loader: Loader<unknown>,
    options: GetOrSetOptions | undefined,
    initialStale: unknown,
    fallback: L1Fallback | undefined,
  ): Promise<void> {
    const s = this.s;
    let lease: { token: number } | undefined;
    try {
      let staleValue = initialStale;
      let l2Ok = false;
      if (s.tier !== undefined) {
        const epoch = s.writeEpoch;
        const seq = s.invalidationSeq;
        const rec = await this.reads.readL2(ns, key, 'getOrSet');
        if (rec !== FAILED) {
          l2Ok = true;
          if (rec !== null) {
            this.reads.fillL1(ns, key, rec, epoch, seq);
            if (rec.freshUntil > Date.now()) {
              s.l2Hits++;
              flight.tier = 'l2';
              flight.resolve(rec.value);
              return;
            }
            if (rec.staleUntil > Date.now()) {
              staleValue = rec.value;
              flight.setStale(rec.value);
            }
          }
          s.l2Misses++;
        } else if (fallback?.fresh === true) {
          // Redis is unavailable and L1 holds a value within its TTL (unverified only because the
          // bus is down): serve it rather than sending every warm key to the loader during an outage.
          s.l1Hits++;
          flight.tier = 'l1';
          flight.resolve(fallback.value);
          return;
        }
        if (options?.lease === true && l2Ok) {
          const outcome = await this.leases.leaseOrWait(ns, key);
          if (outcome !== undefined && 'value' in outcome) {
            flight.tier = 'l2';
            flight.resolve(outcome.value);
            return;
          }
          lease = outcome;
        }
      }
      s.loaderCalls++;
      const t0 = performance.now();
      let value: unknown;
      try {
        value = await loader({ key, stale: staleValue, signal: s.abort.signal });
      } catch (error) {
        s.report('loader', 'getOrSet', error);
        throw new CacheError('E_CACHE_LOADER', `Loader failed for key ${key.slice(0, 64)}`, {
          cause: error,
          key,
          namespace: ns.path,
          operation: 'getOrSet',
        });
      } finally {
        s.loaderLatency.record(performance.now() - t0);
      }
      flight.tier = 'loader';
      if (value !== undefined && !s.closed) {
        // Fencing: a holder whose lease expired (someone else took over) keeps its value out of Redis.
        const writeL2 = lease === undefined || (await this.leases.holds(ns, key, lease.token));
        await this.writes.set(ns, key, value, options, 'getOrSet', writeL2);
      }
      flight.resolve(value);
    } catch (error) {
      flight.reject(error);
    } finally {
      if (ns.flights.get(key) === flight) ns.flights.delete(key);
      if (lease !== undefined) void this.leases.release(ns, key, lease.token);
    }
  }
}
