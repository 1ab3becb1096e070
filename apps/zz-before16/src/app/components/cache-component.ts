import { CacheManager } from '@cryptoscalp/cache';
import type { TraderConfig } from '../../config/config-types.js';
import { TraderError } from '../../errors.js';
import type { Component, ComponentHealth } from '../../kernel/component.js';
import { redact } from './postgres-component.js';

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
      ...(c.redisUrl ? { redis: { url: c.redisUrl } } : {}),
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
