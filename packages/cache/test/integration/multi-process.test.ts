import { type ChildProcess, fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { type RedisServer, startRedisServer, uniqueName, waitFor } from '@cryptoscalp/testkit';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CacheStats } from '../../src/index.js';

const script = fileURLToPath(new URL('./fixtures/cache-worker.ts', import.meta.url));
const selectIoredis = fileURLToPath(new URL('./fixtures/select-ioredis.mjs', import.meta.url));

interface Worker {
  child: ChildProcess;
  call<T = unknown>(cmd: string, key?: string, value?: unknown): Promise<T>;
}

async function startWorker(url: string, ns: string, name: string): Promise<Worker> {
  const child = fork(script, [url, ns, name], {
    execArgv: ['--import', 'tsx', '--import', selectIoredis],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: unknown) => void }>();
  let next = 1;
  const ready = new Promise<void>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`worker exited with ${code}`)));
    child.on('message', (m: { id: number; result?: unknown; error?: string }) => {
      if (m.id === 0) return resolve();
      const p = pending.get(m.id);
      pending.delete(m.id);
      if (m.error !== undefined) p?.reject(new Error(m.error));
      else p?.resolve(m.result);
    });
  });
  await ready;
  return {
    child,
    call<T>(cmd: string, key?: string, value?: unknown) {
      const id = next++;
      return new Promise<T>((resolve, reject) => {
        pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
        child.send({ id, cmd, key, value });
      });
    },
  };
}

let server: RedisServer;
const workers: Worker[] = [];

beforeAll(async () => {
  server = await startRedisServer();
});
afterAll(async () => {
  for (const w of workers) {
    await w.call('close').catch(() => undefined);
    w.child.kill('SIGKILL');
  }
  await server.stop();
});

describe('two cache instances in separate processes', () => {
  it('invalidate each other over the bus, and a bus drop cannot leave L1 stale', async () => {
    const ns = uniqueName('cache_mp');
    const [a, b] = await Promise.all([startWorker(server.url, ns, `${ns}_a`), startWorker(server.url, ns, `${ns}_b`)]);
    workers.push(a, b);
    const stats = (w: Worker) => w.call<CacheStats>('stats');
    await waitFor(async () => (await stats(a)).bus.state === 'up' && (await stats(b)).bus.state === 'up', {
      timeoutMs: 30_000,
      what: 'both buses up',
    });

    // 1. plain invalidation
    await a.call('set', 'pos', 1);
    expect(await b.call('get', 'pos')).toBe(1); // L2, fills b's L1
    expect(await b.call('get', 'pos')).toBe(1); // L1
    expect((await stats(b)).l1Hits).toBe(1);
    await a.call('set', 'pos', 2);
    await waitFor(async () => (await b.call('get', 'pos')) === 2, { timeoutMs: 10_000, what: 'b sees 2' });
    const received = (await stats(b)).bus.received;
    expect(received).toBeGreaterThanOrEqual(1);
    expect(await b.call('get', 'pos')).toBe(2);

    // 2. drop b's bus connection, then write while it may be reconnecting
    const epochBefore = (await stats(b)).bus.epoch;
    const admin = new Redis(server.url);
    try {
      const list = (await admin.client('LIST')) as string;
      const subIds = list
        .split('\n')
        .filter((line) => line.includes(`name=${ns}_b `) && / sub=[1-9]/.test(line))
        .map((line) => /id=(\d+)/.exec(line)?.[1]);
      expect(subIds).toHaveLength(1);
      await admin.client('KILL', 'ID', subIds[0] as string);
    } finally {
      admin.disconnect();
    }
    const t0 = Date.now();
    await a.call('set', 'pos', 3);
    const setDone = Date.now();
    let staleReads = 0;
    let lastStaleAt = 0;
    await waitFor(
      async () => {
        const v = await b.call('get', 'pos');
        if (v === 2) {
          staleReads++;
          lastStaleAt = Date.now();
        }
        return v === 3;
      },
      { timeoutMs: 10_000, intervalMs: 5, what: 'b sees 3 after its bus dropped' },
    );
    const after = await stats(b);
    expect(after.bus.drops).toBeGreaterThanOrEqual(1);
    expect(after.bus.epoch).toBeGreaterThan(epochBefore);
    await waitFor(async () => (await stats(b)).bus.state === 'up', { timeoutMs: 10_000, what: 'b bus back' });
    // Once the bus is back, invalidation works again.
    await a.call('set', 'pos', 4);
    await waitFor(async () => (await b.call('get', 'pos')) === 4, { timeoutMs: 10_000, what: 'b sees 4' });
    console.info(
      `[multi-process] bus drop: ${staleReads} stale reads, stale window ${
        staleReads === 0 ? 0 : lastStaleAt - setDone
      } ms after the write (write took ${setDone - t0} ms); heartbeat 100 ms, bound 3 x heartbeat`,
    );
  });
});
