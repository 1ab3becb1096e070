import { describe, expect, it } from 'vitest';
import { redact } from '../../src/app/components/postgres-component.js';
import { loadConfig } from '../../src/config/index.js';
import { createRedisClient, isSentinelUrl, parseSentinelUrl, sentinelOptions } from '../../src/config/redis-url.js';
import { isTraderError, type TraderError } from '../../src/errors.js';

function fails(fn: () => unknown): TraderError {
  try {
    fn();
  } catch (e) {
    expect(isTraderError(e)).toBe(true);
    return e as TraderError;
  }
  throw new Error('expected a TraderError');
}

describe('redis+sentinel:// URLs', () => {
  it('parses the sentinels, the primary name, the database and the credentials', () => {
    expect(isSentinelUrl('redis+sentinel://127.0.0.1:26379/mymaster')).toBe(true);
    expect(isSentinelUrl('redis://127.0.0.1:6379')).toBe(false);
    expect(parseSentinelUrl('redis+sentinel://127.0.0.1:26379,localhost:26380,[::1]:26381/mymaster/3')).toEqual({
      sentinels: [
        { host: '127.0.0.1', port: 26379 },
        { host: 'localhost', port: 26380 },
        { host: '::1', port: 26381 },
      ],
      name: 'mymaster',
      db: 3,
      tls: false,
    });
    expect(parseSentinelUrl('rediss+sentinel://app:p%40ss@h:1/m')).toMatchObject({
      username: 'app',
      password: 'p@ss',
      tls: true,
      db: 0,
    });
    expect(parseSentinelUrl('redis+sentinel://:secret@h:1/m')).toMatchObject({ password: 'secret' });
    expect(parseSentinelUrl('redis+sentinel://:secret@h:1/m').username).toBeUndefined();
  });

  it('refuses malformed URLs with a TraderError naming the field', () => {
    for (const bad of [
      'redis://h:1/m',
      'redis+sentinel://h:1',
      'redis+sentinel://h:1/',
      'redis+sentinel://h/m',
      'redis+sentinel://h:0/m',
      'redis+sentinel://h:70000/m',
      'redis+sentinel://h:1,/m',
      'redis+sentinel://h:1/m/x',
      'redis+sentinel://h:1/m/1/2',
      'redis+sentinel://h:1/bad name',
    ]) {
      const e = fails(() => parseSentinelUrl(bad, 'bus.redisUrl'));
      expect(e.code).toBe('E_TRADER_INVALID_OPTION');
      expect(e.message).toContain('bus.redisUrl');
    }
  });

  it('gives ioredis options that follow the primary through a failover', () => {
    const o = sentinelOptions(parseSentinelUrl('rediss+sentinel://u:p@h:1,h:2/m/2'));
    expect(o).toMatchObject({
      sentinels: [
        { host: 'h', port: 1 },
        { host: 'h', port: 2 },
      ],
      name: 'm',
      role: 'master',
      db: 2,
      username: 'u',
      password: 'p',
      enableTLSForSentinelMode: true,
    });
    expect(typeof o.reconnectOnError === 'function' && o.reconnectOnError(new Error("READONLY You can't write"))).toBe(
      true,
    );
    expect(typeof o.reconnectOnError === 'function' && o.reconnectOnError(new Error('ERR other'))).toBe(false);
    expect(typeof o.sentinelRetryStrategy === 'function' && o.sentinelRetryStrategy(3)).toBe(300);
    expect(typeof o.sentinelRetryStrategy === 'function' && o.sentinelRetryStrategy(30)).toBe(1_000);
  });

  it('creates a lazy client for both forms', () => {
    const plain = createRedisClient('redis://127.0.0.1:1', { lazyConnect: true });
    const sentinel = createRedisClient('redis+sentinel://127.0.0.1:1/m', { lazyConnect: true });
    expect(plain.options.port).toBe(1);
    expect(sentinel.options.name).toBe('m');
    expect(sentinel.options.sentinels).toEqual([{ host: '127.0.0.1', port: 1 }]);
    plain.disconnect();
    sentinel.disconnect();
  });

  it('the configuration accepts it for the cache and the bus, and refuses a broken one naming the field', () => {
    const c = loadConfig({
      env: {
        REDIS_URL: 'redis+sentinel://127.0.0.1:26379,127.0.0.1:26380/mymaster',
        TRADER_BUS_REDIS_URL: 'redis+sentinel://127.0.0.1:26379/mymaster/1',
      },
    });
    expect(c.cache.redisUrl).toBe('redis+sentinel://127.0.0.1:26379,127.0.0.1:26380/mymaster');
    expect(c.bus.redisUrl).toBe('redis+sentinel://127.0.0.1:26379/mymaster/1');
    const e = fails(() => loadConfig({ env: { REDIS_URL: 'redis+sentinel://127.0.0.1/mymaster' } }));
    expect(e.message).toMatch(/cache\.redisUrl.*bad sentinel address/);
    const e2 = fails(() => loadConfig({ env: { TRADER_BUS_REDIS_URL: 'http://127.0.0.1:1' } }));
    expect(e2.message).toMatch(/bus\.redisUrl.*redis\+sentinel/);
  });

  it('redacts the password of a URL with several hosts', () => {
    expect(redact('redis+sentinel://u:secret@h:1,h:2/m')).toBe('redis+sentinel://u:***@h:1,h:2/m');
    expect(redact('redis+sentinel://h:1,h:2/m')).toBe('redis+sentinel://h:1,h:2/m');
  });
});
