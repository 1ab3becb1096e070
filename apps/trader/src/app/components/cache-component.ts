import { CacheManager } from '@cryptoscalp/cache';
import type { RedisOptions } from 'ioredis';
import type { TraderConfig } from '../../config/config-types.js';
import { isSentinelUrl, parseSentinelUrl, sentinelOptions } from '../../config/redis-url.js';
import { TraderError } from '../../errors.js';
import type { Component, ComponentHealth } from '../../kernel/component.js';
import { redact } from './postgres-component.js';

/** The cache's Redis: a URL, or the Sentinels and the primary's name of a `redis+sentinel://` URL. */
function cacheRedis(
  url: string,
): { url: string } | { sentinels: Array<{ host: string; port: number }>; name: string; options: RedisOptions } {
  if (!isSentinelUrl(url)) return { url };
  const target = parseSentinelUrl(url, 'cache.redisUrl');
  const { sentinels: _, name: __, ...options } = sentinelOptions(target);
  return { sentinels: target.sentinels.map((s) => ({ ...s })), name: target.name, options };
}

/** `@cryptoscalp/cache`: in-process L1, in front of Redis when `REDIS_URL` is set. The API caches responses in it. */
export class CacheComponent implements Component {
  readonly name = 'cache';
  readonly critical = true;
  #cache: CacheManager | undefined;

  constructor(private readonly config: TraderConfig) {}

  start(): void {
    const c = this.config.cache;
    this.#cache = new CacheManager({
      name: 'cache',
      namespace: c.prefix,
      ...(c.redisUrl ? { redis: cacheRedis(c.redisUrl) } : {}),
    });
  }

  /** The cache manager. */
  cache(): CacheManager {
    if (this.#cache === undefined) throw new TraderError('E_TRADER_INVALID_OPTION', 'cache is not started');
    return this.#cache;
  }

  /** Where the cache is, password redacted. */
  describe(): string {
    const url = this.config.cache.redisUrl;
    return url ? `L1 + Redis ${redact(url)}` : 'in-process L1 only';
  }

  async healthCheck(signal?: AbortSignal): Promise<ComponentHealth> {
    if (this.#cache === undefined) return { status: 'fail', output: 'not started' };
    return this.#cache.healthCheck(signal);
  }

  async stop(): Promise<void> {
    await this.#cache?.close();
  }
}
