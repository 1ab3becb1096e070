import diagnostics from 'node:diagnostics_channel';
import { type RedisServer, startRedisServer, uniqueName, waitFor } from '@cryptoscalp/testkit';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  BREAKER_CHANNEL,
  BUS_CHANNEL,
  type CacheBreakerEvent,
  type CacheBusEvent,
  CacheManager,
  ERROR_CHANNEL,
} from '../../src/index.js';

let server: RedisServer;

beforeAll(async () => {
  server = await startRedisServer();
});
afterAll(async () => {
  await server.stop();
});

function make(ns: string): CacheManager {
  return new CacheManager({
    redis: { url: server.url },
    namespace: ns,
    commandTimeoutMs: 200,
    breaker: { resetTimeoutMs: 300, volumeThreshold: 3, errorThresholdPercentage: 50 },
    bus: { heartbeatMs: 50 },
    ttlMs: 60_000,
  });
}

describe('fail-open against a Redis that dies', () => {
  it('keeps answering with no caller error while Redis is killed and restarted, then recovers by itself', async () => {
    const ns = uniqueName('cache_kill');
    const cache = make(ns);
    const breakerEvents: string[] = [];
    const busEvents: string[] = [];
    let errorEvents = 0;
    const onBreaker = (e: unknown) => breakerEvents.push((e as CacheBreakerEvent).state);
    const onBus = (e: unknown) => busEvents.push((e as CacheBusEvent).state);
    const onError = () => {
      errorEvents++;
    };
    diagnostics.subscribe(BREAKER_CHANNEL, onBreaker);
    diagnostics.subscribe(BUS_CHANNEL, onBus);
    diagnostics.subscribe(ERROR_CHANNEL, onError);
    try {
      await waitFor(() => cache.stats().bus.state === 'up', { what: 'bus up' });
      for (let i = 0; i < 50; i++) await cache.set(`k${i}`, i);

      const errors: unknown[] = [];
      let wrong = 0;
      let ops = 0;
      let stop = false;
      const worker = async (w: number) => {
        let i = w;
        while (!stop) {
          const k = i % 50;
          try {
            const v = await cache.getOrSet(`k${k}`, () => k);
            if (v !== k) wrong++;
            if (i % 7 === 0) await cache.set(`k${k}`, k);
            if (i % 11 === 0) {
              const g = await cache.get(`k${k}`);
              if (g !== undefined && g !== k) wrong++;
            }
          } catch (error) {
            errors.push(error);
          }
          ops++;
          i += 16;
          await new Promise((r) => setImmediate(r));
        }
      };
      const load = Promise.all(Array.from({ length: 16 }, (_, w) => worker(w)));

      await waitFor(() => ops > 200, { what: 'load running' });
      await server.kill();
      await waitFor(() => cache.stats().breaker === 'open', { timeoutMs: 15_000, what: 'breaker open' });
      const opsAtOpen = ops;
      const loaderCallsAtOpen = cache.stats().loaderCalls;
      await waitFor(() => ops > opsAtOpen + 500, { timeoutMs: 15_000, what: 'load served while Redis is down' });
      const down = cache.stats();
      // warm keys are answered from L1 during the outage, not sent to the loader
      expect(down.loaderCalls).toBe(loaderCallsAtOpen);
      expect(down.errors.l2 + down.errors.timeout).toBeGreaterThan(0);
      expect(down.bus.state).toBe('down');
      expect((await cache.healthCheck()).status).toBe('fail');

      const restartedAt = Date.now();
      await server.start();
      await waitFor(() => cache.stats().breaker === 'closed' && cache.stats().bus.state === 'up', {
        timeoutMs: 20_000,
        what: 'recovery',
      });
      const recoveryMs = Date.now() - restartedAt;
      // Writes reach Redis again.
      const admin = new Redis(server.url);
      try {
        await waitFor(async () => (await admin.exists(`${ns}::k0`, `${ns}::k7`, `${ns}::k14`)) > 0, {
          timeoutMs: 10_000,
          what: 'writes reaching the restarted Redis',
        });
      } finally {
        admin.disconnect();
      }
      stop = true;
      await load;
      expect(errors).toEqual([]);
      expect(wrong).toBe(0);
      const after = cache.stats();
      expect(after.l1Hits).toBeGreaterThan(0);
      expect(after.bus.drops).toBeGreaterThanOrEqual(1);
      expect((await cache.healthCheck()).status).toMatch(/pass|warn/);
      expect(breakerEvents).toContain('open');
      expect(breakerEvents.at(-1)).toBe('closed');
      expect(busEvents).toContain('down');
      expect(busEvents.at(-1)).toBe('up');
      expect(errorEvents).toBeGreaterThan(0);
      console.info(`[fail-open] recovery after restart: ${recoveryMs} ms, ops ${ops}`);
    } finally {
      diagnostics.unsubscribe(BREAKER_CHANNEL, onBreaker);
      diagnostics.unsubscribe(BUS_CHANNEL, onBus);
      diagnostics.unsubscribe(ERROR_CHANNEL, onError);
      await cache.close();
    }
  });

  it('a frozen Redis (SIGSTOP) costs at most the deadline per call, opens the breaker, and L1 keeps serving', async () => {
    const ns = uniqueName('cache_pause');
    const cache = make(ns);
    try {
      await waitFor(() => cache.stats().bus.state === 'up', { what: 'bus up' });
      await cache.set('p', 'v');
      server.pause();
      try {
        const results = await Promise.all(Array.from({ length: 20 }, () => cache.get('p')));
        // the bus notices the missing heartbeat; until then L1 answers directly, after that as fallback
        expect(results.every((r) => r === 'v')).toBe(true);
        for (let i = 0; i < 10; i++) await cache.set(`w${i}`, i); // deadline-bound, no throw
        await waitFor(() => cache.stats().breaker === 'open', { timeoutMs: 15_000, what: 'breaker open on timeouts' });
        expect(cache.stats().errors.timeout).toBeGreaterThan(0);
        expect(await cache.get('p')).toBe('v');
        expect(await cache.get('w3')).toBe(3);
        expect(await cache.getOrSet('fresh', () => 'from-loader')).toBe('from-loader');
      } finally {
        server.resume();
      }
      await waitFor(async () => (await cache.healthCheck()).status === 'pass', {
        timeoutMs: 20_000,
        what: 'healthy again',
      });
    } finally {
      await cache.close();
    }
  });

  it('healthCheck warns on a slow PING and fails when it misses the deadline', async () => {
    const slow = await startRedisServer({ args: ['--enable-debug-command', 'yes'] });
    const cache = new CacheManager({
      redis: { url: slow.url },
      namespace: uniqueName('cache_slow'),
      commandTimeoutMs: 1_000,
      healthWarnLatencyMs: 50,
      bus: false,
    });
    const admin = new Redis(slow.url);
    try {
      await waitFor(async () => (await cache.healthCheck()).status === 'pass', { what: 'healthy' });
      expect(await admin.ping()).toBe('PONG');
      // Block the server, then PING: retried because the two connections race to the server.
      const during = async (seconds: string) => {
        const sleeping = admin.call('DEBUG', 'SLEEP', seconds);
        await new Promise((r) => setTimeout(r, 20)); // let DEBUG SLEEP reach the server first
        const result = await cache.healthCheck();
        await sleeping;
        return result;
      };
      let warn = await during('0.3');
      await waitFor(
        async () => {
          if (warn.status === 'warn') return true;
          warn = await during('0.3');
          return warn.status === 'warn';
        },
        { timeoutMs: 20_000, what: 'warn on slow PING' },
      );
      expect(warn.observedValue).toBeGreaterThan(50);
      expect(warn.output).toMatch(/slow PING/);
      let fail = await during('1.5');
      await waitFor(
        async () => {
          if (fail.status === 'fail') return true;
          fail = await during('1.5');
          return fail.status === 'fail';
        },
        { timeoutMs: 20_000, what: 'fail on PING deadline' },
      );
      expect(fail.output).toMatch(/timed out/);
      expect(fail.output).not.toContain(slow.url);
    } finally {
      admin.disconnect();
      await cache.close();
      await slow.stop();
    }
  });
});
