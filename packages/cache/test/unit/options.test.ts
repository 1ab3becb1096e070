import { describe, expect, it } from 'vitest';
import { CacheManager, DEFAULT_OPTIONS, isCacheError, isCacheErrorCode } from '../../src/index.js';
import { resolveOptions } from '../../src/internal/options.js';

function fieldOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (error) {
    expect(isCacheErrorCode(error, 'E_CACHE_INVALID_OPTION')).toBe(true);
    return (error as { field?: string }).field;
  }
  throw new Error('expected a throw');
}

describe('options validation', () => {
  it('applies the documented defaults', () => {
    const o = resolveOptions(undefined);
    expect(o.name).toBe('cache');
    expect(o.namespace).toBe(DEFAULT_OPTIONS.namespace);
    expect(o.l1).toEqual({
      maxEntries: 100_000,
      maxBytes: 0,
      policy: 'lru',
      sweepIntervalMs: 1_000,
      sweepBatch: 2_000,
    });
    expect(o.ttl).toBe(60_000);
    expect(o.failOpen).toBe(true);
    expect(o.compression).toBe(false);
    expect(o.bus).toBe(false); // no redis, no bus
    expect(o.maxKeyLength).toBe(1_024);
  });

  it.each([
    [{ l1: { maxEntries: 0 } }, 'l1.maxEntries'],
    [{ l1: { maxEntries: 1.5 } }, 'l1.maxEntries'],
    [{ l1: { maxBytes: -1 } }, 'l1.maxBytes'],
    [{ l1: { policy: 'fifo' } }, 'l1.policy'],
    [{ l1: 'yes' }, 'l1'],
    [{ l1: false }, 'l1'],
    [{ ttlMs: 0 }, 'ttlMs'],
    [{ ttlMs: 'x' }, 'ttlMs'],
    [{ graceMs: -5 }, 'graceMs'],
    [{ timeoutMs: Number.NaN }, 'timeoutMs'],
    [{ hardTimeoutMs: -1 }, 'hardTimeoutMs'],
    [{ commandTimeoutMs: 0 }, 'commandTimeoutMs'],
    // The deprecated names still validate, and the error names the key the caller used.
    [{ ttl: 0 }, 'ttl'],
    [{ commandTimeout: 0 }, 'commandTimeout'],
    [{ compression: { threshold: -1 } }, 'compression.threshold'],
    // Both names of one option at once.
    [{ ttl: 10, ttlMs: 10 }, 'ttl'],
    [{ compression: { threshold: 10, thresholdBytes: 10 } }, 'compression.threshold'],
    [{ failOpen: 'no' }, 'failOpen'],
    [{ namespace: 'a:b' }, 'namespace'],
    [{ namespace: '' }, 'namespace'],
    [{ name: '' }, 'name'],
    [{ serializer: { serialize: 1 } }, 'serializer'],
    [{ compression: { thresholdBytes: -1 } }, 'compression.thresholdBytes'],
    [{ compression: { level: 12 } }, 'compression.level'],
    [{ breaker: { errorThresholdPercentage: 0 } }, 'breaker.errorThresholdPercentage'],
    [{ breaker: 5 }, 'breaker'],
    [{ redis: 'redis://x' }, 'redis'],
    [{ redis: { url: 'http://x' } }, 'redis.url'],
    [{ redis: { url: 5 } }, 'redis.url'],
    [{ redis: { sentinels: [], name: 'm' } }, 'redis.sentinels'],
    [{ redis: { sentinels: [{ host: 'h', port: 1 }] } }, 'redis.name'],
    [{ redis: { cluster: [{ host: 'h' }] } }, 'redis.cluster'],
    [{ redis: { foo: 1 } }, 'redis'],
    [{ redis: { url: 'redis://127.0.0.1:1', options: 3 } }, 'redis.options'],
    [{ redis: { url: 'redis://127.0.0.1:1' }, bus: { heartbeatMs: 1 } }, 'bus.heartbeatMs'],
    [{ redis: { url: 'redis://127.0.0.1:1' }, bus: { channel: '' } }, 'bus.channel'],
    [{ lease: { ttlMs: 1 } }, 'lease.ttlMs'],
    [{ maxKeyLength: 0 }, 'maxKeyLength'],
    [{ healthWarnLatencyMs: 0 }, 'healthWarnLatencyMs'],
    // Unknown keys: a misspelt option must not silently keep its default.
    [{ ttll: 1_000 }, 'ttll'],
    [{ l1: { maxEntrys: 10 } }, 'l1.maxEntrys'],
    [{ compression: { treshold: 10 } }, 'compression.treshold'],
    [{ breaker: { resetTimeout: 10 } }, 'breaker.resetTimeout'],
    [{ lease: { ttl: 10 } }, 'lease.ttl'],
    [{ redis: { url: 'redis://127.0.0.1:1' }, bus: { heartbeat: 10 } }, 'bus.heartbeat'],
    [{ redis: { url: 'redis://127.0.0.1:1', option: {} } }, 'redis.option'],
    [{ redis: { cluster: [{ host: 'h', port: 1 }], nodes: [] } }, 'redis.nodes'],
  ])('rejects %j naming %s', (options, field) => {
    expect(fieldOf(() => new CacheManager(options as never))).toBe(field);
  });

  it('rejects a non-object', () => {
    expect(fieldOf(() => new CacheManager(42 as never))).toBe('options');
  });

  it('accepts settings objects and ioredis-like instances without connecting during validation', () => {
    const fake = { getBuffer() {}, duplicate() {} };
    expect(resolveOptions({ redis: fake as never }).redis).toBe(fake);
    const o = resolveOptions({ redis: { sentinels: [{ host: '127.0.0.1', port: 26379 }], name: 'm' } });
    expect(o.bus).toEqual({ heartbeatMs: 500, channel: 'cache:#bus' });
    expect(resolveOptions({ redis: { cluster: [{ host: '127.0.0.1', port: 7000 }] }, bus: false }).bus).toBe(false);
    expect(resolveOptions({ l1: { policy: 'lfu' }, compression: {} }).compression).toEqual({
      threshold: 4096,
      level: 1,
    });
  });

  it('takes the deprecated names as aliases and reports each once as a DeprecationWarning', async () => {
    const warnings: Error[] = [];
    const onWarning = (w: Error) => warnings.push(w);
    process.on('warning', onWarning);
    try {
      const o = resolveOptions({ ttl: 1234, grace: 5, timeout: 6, hardTimeout: 7, commandTimeout: 8 });
      expect(o).toMatchObject({ ttl: 1234, grace: 5, timeout: 6, hardTimeout: 7, commandTimeout: 8 });
      resolveOptions({ ttl: 99 });
      await new Promise((r) => setImmediate(r));
      const ttlWarnings = warnings.filter(
        (w) =>
          (w as Error & { code?: string }).code === 'CRYPTOSCALP_CACHE_DEPRECATED_OPTION' && / ttl is/.test(w.message),
      );
      expect(ttlWarnings).toHaveLength(1);
      expect(ttlWarnings[0]?.name).toBe('DeprecationWarning');
      expect(ttlWarnings[0]?.message).toContain('use ttlMs');
    } finally {
      process.off('warning', onWarning);
    }
  });

  it('errors carry code, field, name and a brand that survives copies', () => {
    try {
      new CacheManager({ ttlMs: -1 });
    } catch (error) {
      expect(isCacheError(error)).toBe(true);
      expect((error as Error).name).toBe('CacheError');
      expect((error as Error).message).toContain('ttl');
      const branded = { [Symbol.for('cryptoscalp.cache.error')]: true };
      expect(isCacheError(branded)).toBe(true);
    }
    expect(isCacheError(null)).toBe(false);
    expect(isCacheError(new Error('x'))).toBe(false);
  });
});
