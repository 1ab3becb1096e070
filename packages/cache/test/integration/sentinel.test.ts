import type { ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  exited,
  freePort,
  type RedisServer,
  spawnServer,
  startRedisServer,
  uniqueName,
  waitFor,
} from '@cryptoscalp/testkit';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CacheManager } from '../../src/index.js';

let master: RedisServer;
let sentinel: ChildProcess | undefined;
let sentinelPort: number;
let dir: string;

beforeAll(async () => {
  master = await startRedisServer();
  sentinelPort = await freePort();
  dir = await mkdtemp(join(tmpdir(), 'cs-sentinel-'));
  const conf = join(dir, 'sentinel.conf');
  await writeFile(
    conf,
    [
      `port ${sentinelPort}`,
      'bind 127.0.0.1',
      `dir ${dir}`,
      `sentinel monitor cachemaster 127.0.0.1 ${master.port} 1`,
      'sentinel down-after-milliseconds cachemaster 5000',
      '',
    ].join('\n'),
  );
  const spawned = spawnServer('redis-server', [conf, '--sentinel']);
  sentinel = spawned.child;
  await waitFor(
    async () => {
      const probe = new Redis({ port: sentinelPort, host: '127.0.0.1', lazyConnect: true, retryStrategy: () => null });
      probe.on('error', () => undefined); // not listening yet
      try {
        await probe.connect();
        const addr = (await probe.call('SENTINEL', 'get-master-addr-by-name', 'cachemaster')) as string[] | null;
        return Array.isArray(addr) && addr[1] === String(master.port);
      } finally {
        probe.disconnect();
      }
    },
    { timeoutMs: 15_000, what: `sentinel on ${sentinelPort}\n${spawned.output()}` },
  );
});

afterAll(async () => {
  if (sentinel !== undefined) {
    sentinel.kill('SIGKILL');
    await exited(sentinel);
  }
  await master?.stop();
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

describe('Redis Sentinel', () => {
  it('resolves the master through Sentinel and caches through it', async () => {
    const ns = uniqueName('cache_sentinel');
    const cache = new CacheManager({
      redis: { sentinels: [{ host: '127.0.0.1', port: sentinelPort }], name: 'cachemaster' },
      namespace: ns,
      bus: { heartbeatMs: 50 },
    });
    const direct = new Redis(master.url);
    try {
      await waitFor(() => cache.stats().bus.state === 'up', { timeoutMs: 15_000, what: 'bus up through sentinel' });
      await cache.set('k', { via: 'sentinel' });
      expect(await direct.exists(`${ns}::k`)).toBe(1);
      expect(await cache.get('k')).toEqual({ via: 'sentinel' });
      expect((await cache.healthCheck()).status).toBe('pass');
      await cache.clear();
      expect(await direct.exists(`${ns}::k`)).toBe(0);
    } finally {
      await cache.close();
      direct.disconnect();
    }
  });
});
