import type { Cluster, Redis } from 'ioredis';
import { CacheError } from '../errors.js';
import type { L2Breaker } from './breaker.js';
import type { Connection, RedisClient } from './connection.js';
import { GetBatcher } from './get-batcher.js';

/**
 * Adds a member to a tag set and extends the set's TTL to at least the member's. One key,
 * declared in KEYS (Dragonfly runs scripts with declared keys only).
 */
const TAG_SCRIPT = `redis.call('SADD', KEYS[1], ARGV[1])
local ttl = redis.call('PTTL', KEYS[1])
if ttl < tonumber(ARGV[2]) then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 1`;

/** Deletes a lease only if it still holds our fencing token. One declared key. */
const RELEASE_SCRIPT = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;

/**
 * The L2 tier: every call goes through the circuit breaker (which enforces the deadline) and
 * fails fast while a once-ready connection is down, so commands never pile up in ioredis'
 * offline queue. Only commands DragonflyDB implements are used: GET, SET PX [NX], MGET,
 * UNLINK, SADD, SMEMBERS, PTTL, PEXPIRE, INCR, SCAN MATCH COUNT, PUBLISH, SUBSCRIBE, PING, EVAL.
 */
export class RedisTier {
  readonly client: RedisClient;
  readonly isCluster: boolean;
  readonly owned: boolean;
  private everReady = false;
  private readonly batcher = new GetBatcher((keys) => this.mget(keys));

  constructor(
    connection: Connection,
    readonly breaker: L2Breaker,
    onError: (error: unknown) => void,
  ) {
    this.client = connection.client;
    this.isCluster = connection.isCluster;
    this.owned = connection.owned;
    if (this.client.status === 'ready') this.everReady = true;
    this.client.on('ready', this.markReady);
    if (this.owned) this.client.on('error', onError);
  }

  private readonly markReady = () => {
    this.everReady = true;
  };

  /** Throws when the connection was ready once and is now down (fail fast instead of queueing). */
  private gate(): void {
    const status = this.client.status;
    if (status === 'ready') return;
    if (this.everReady || status === 'end' || status === 'close') {
      throw new CacheError('E_CACHE_UNAVAILABLE', `Redis connection is ${status}`);
    }
  }

  /** GET one key, batched with the other GETs of this tick into one MGET. */
  get(key: string): Promise<Buffer | null> {
    return this.batcher.get(key);
  }

  /** GET many keys: one MGET standalone, one GET per key in cluster mode (auto-pipelined per node). */
  mget(keys: string[]): Promise<Array<Buffer | null>> {
    return this.breaker.run(() => {
      this.gate();
      if (!this.isCluster) return this.client.mgetBuffer(...keys);
      return Promise.all(keys.map((k) => this.client.getBuffer(k)));
    });
  }

  /** SET with a TTL in ms. */
  set(key: string, value: Buffer, ttlMs: number): Promise<unknown> {
    return this.breaker.run(() => {
      this.gate();
      return this.client.set(key, value, 'PX', ttlMs);
    });
  }

  /** Several SETs in one breaker call (auto-pipelined into one round trip per node). */
  mset(items: Array<{ key: string; value: Buffer; ttlMs: number }>): Promise<unknown> {
    return this.breaker.run(() => {
      this.gate();
      return Promise.all(items.map((i) => this.client.set(i.key, i.value, 'PX', i.ttlMs)));
    });
  }

  /** Adds `member` to each tag set, keeping each set alive at least `ttlMs`. */
  tag(tagKeys: readonly string[], member: string, ttlMs: number): Promise<unknown> {
    return this.breaker.run(() => {
      this.gate();
      return Promise.all(tagKeys.map((k) => this.client.eval(TAG_SCRIPT, 1, k, member, ttlMs)));
    });
  }

  /** UNLINK keys: one command standalone, one per key in cluster mode. Returns how many existed. */
  unlink(keys: string[]): Promise<number> {
    if (keys.length === 0) return Promise.resolve(0);
    return this.breaker.run(async () => {
      this.gate();
      if (!this.isCluster) return await this.client.unlink(...keys);
      const counts = await Promise.all(keys.map((k) => this.client.unlink(k)));
      return counts.reduce((a, b) => a + b, 0);
    });
  }

  /** SMEMBERS of several tag sets. */
  members(tagKeys: readonly string[]): Promise<string[][]> {
    return this.breaker.run(() => {
      this.gate();
      return Promise.all(tagKeys.map((k) => this.client.smembers(k)));
    });
  }

  /** Deletes every key matching `pattern` with SCAN + UNLINK on every master; returns how many. */
  async scanDelete(pattern: string): Promise<number> {
    const nodes: Redis[] = this.isCluster ? (this.client as Cluster).nodes('master') : [this.client as Redis];
    let deleted = 0;
    for (const node of nodes) {
      let cursor = '0';
      do {
        const [next, keys] = await this.breaker.run(() => {
          this.gate();
          return node.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
        });
        cursor = next;
        if (keys.length > 0) {
          deleted += await this.breaker.run(async () => {
            if (!this.isCluster) return await node.unlink(...keys);
            // Keys on one node can still be in different slots: one UNLINK per key, pipelined.
            const results = await Promise.all(keys.map((k) => node.unlink(k)));
            return results.reduce((a, b) => a + b, 0);
          });
        }
      } while (cursor !== '0');
    }
    return deleted;
  }

  /** PUBLISH a bus message. */
  publish(channel: string, message: string): Promise<unknown> {
    return this.breaker.run(() => {
      this.gate();
      return this.client.publish(channel, message);
    });
  }

  /** Tries to take a lease: INCR the fencing counter, then SET NX PX. Returns the token or null. */
  async acquireLease(lease: string, fence: string, ttlMs: number): Promise<number | null> {
    const token = await this.breaker.run(() => {
      this.gate();
      return this.client.incr(fence);
    });
    const ok = await this.breaker.run(() => this.client.set(lease, String(token), 'PX', ttlMs, 'NX'));
    return ok === 'OK' ? token : null;
  }

  /** True when the lease still holds `token` (the fencing check before writing). */
  async holdsLease(lease: string, token: number): Promise<boolean> {
    const current = await this.breaker.run(() => {
      this.gate();
      return this.client.get(lease);
    });
    return current === String(token);
  }

  /** Releases a lease if it still holds `token`. */
  releaseLease(lease: string, token: number): Promise<unknown> {
    return this.breaker.run(() => {
      this.gate();
      return this.client.eval(RELEASE_SCRIPT, 1, lease, String(token));
    });
  }

  /** PING outside the breaker, for health checks. */
  ping(): Promise<string> {
    return this.client.ping();
  }

  /** Removes the listeners this tier added (for instances the user owns). */
  detach(onError: (error: unknown) => void): void {
    this.client.off('ready', this.markReady);
    this.client.off('error', onError);
  }
}
