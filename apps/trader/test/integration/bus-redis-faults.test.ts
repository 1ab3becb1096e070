// The event log and the command bus against a disposable redis-server that is killed, restarted and frozen under
// a running writer and tail. Each test starts its own server and stops it by PID in `finally`.
import { type RedisServer, startRedisServer, uniqueName, waitFor } from '@cryptoscalp/testkit';
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { RedisCommandBus } from '../../src/bus/redis-command-bus.js';
import { RedisEventLog } from '../../src/bus/redis-event-log.js';
import type { BusHealth, LogRecord } from '../../src/bus/types.js';
import { traderErrorFrom } from '../unit/bus-contract.js';

/** Acknowledged writes are on disk before Redis answers, so they survive SIGKILL. */
const PERSISTENT = ['--appendonly', 'yes', '--appendfsync', 'always'];

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

interface Harness {
  server: RedisServer;
  writer: RedisEventLog<{ n: number }>;
  reader: RedisEventLog<{ n: number }>;
  got: LogRecord<{ n: number }>[];
  /** Appends `count` records whose data `n` is the offset they are expected to get. */
  appendSome(count: number): void;
  appended(): number;
  close(): Promise<void>;
}

async function harness(args: string[], writerOptions: { flushTimeoutMs?: number } = {}): Promise<Harness> {
  const server = await startRedisServer({ args });
  const key = uniqueName('busfault');
  const writer = new RedisEventLog<{ n: number }>({ redis: server.url, key, ...writerOptions });
  const reader = new RedisEventLog<{ n: number }>({ redis: server.url, key });
  const got: LogRecord<{ n: number }>[] = [];
  let appended = 0;
  let tail: { stop(): Promise<void> } | undefined;
  try {
    await writer.start();
    await reader.start();
    tail = reader.tail(0, (records) => got.push(...records));
  } catch (e) {
    await server.stop();
    throw e;
  }
  return {
    server,
    writer,
    reader,
    got,
    appendSome(count) {
      for (let i = 0; i < count; i++) {
        const n = appended + 1;
        expect(writer.append({ n })).toBe(n);
        appended = n;
      }
    },
    appended: () => appended,
    async close() {
      await tail?.stop();
      await writer.close().catch(() => undefined);
      await reader.close();
      await server.stop();
    },
  };
}

/** Appends 5 records every 5 ms until stopped. */
function steadyWriter(h: Harness): { stop(): void } {
  const timer = setInterval(() => h.appendSome(5), 5);
  return { stop: () => clearInterval(timer) };
}

function expectExactlyOnceInOrder(got: LogRecord<{ n: number }>[], last: number): void {
  const offsets = got.map((r) => r.offset);
  expect(offsets.length).toBe(last);
  expect(offsets).toEqual(range(1, last));
  expect(got.every((r) => r.data.n === r.offset)).toBe(true);
}

describe('RedisEventLog under server faults', () => {
  it('Redis killed and restarted (AOF, fsync always) under a running writer and tail: every record delivered once, in order', async () => {
    const h = await harness(PERSISTENT, { flushTimeoutMs: 20_000 });
    // A second writer on another key with a tiny buffer shows the bound while the server is away.
    const small = new RedisEventLog<number>({ redis: h.server.url, key: uniqueName('busfault_small'), maxPending: 3 });
    try {
      await small.start();
      const epoch = h.writer.epoch;
      const load = steadyWriter(h);
      await sleep(400);
      const beforeKill = h.appended();
      expect(beforeKill).toBeGreaterThan(100);
      await h.server.kill();
      await sleep(300);
      // While the server is away: appends go on (buffered), health fails, a full buffer refuses.
      const down: BusHealth = await h.writer.healthCheck();
      expect(down.status).toBe('fail');
      for (let i = 1; i <= 3; i++) small.append(i);
      expect(traderErrorFrom(() => small.append(4)).code).toBe('E_TRADER_BUS');
      await sleep(400);
      await h.server.start();
      await sleep(500);
      load.stop();
      const total = h.appended();
      expect(total).toBeGreaterThan(beforeKill + 100);
      await h.writer.flush();
      await small.flush();
      expect((await small.read(0, 10)).map((r) => r.data)).toEqual([1, 2, 3]);
      await waitFor(() => h.got.length >= total, { timeoutMs: 15_000, what: `all ${total} records delivered` });
      await sleep(100); // a duplicate would arrive now
      expectExactlyOnceInOrder(h.got, total);
      expect(await h.reader.lastOffset()).toBe(total);
      expect(h.writer.epoch).toBe(epoch);
      expect(h.reader.epoch).toBe(epoch);
      const w = h.writer.stats();
      expect(w.writeErrors).toBeGreaterThan(0);
      expect(w).toMatchObject({ written: total, pending: 0, lost: 0, fenced: 0 });
      const r = h.reader.stats();
      expect(r.reconnects).toBeGreaterThan(0);
      expect(r).toMatchObject({ delivered: total, gaps: 0 });
      expect((await h.writer.healthCheck()).status).toBe('pass');
    } finally {
      await small.close().catch(() => undefined);
      await h.close();
    }
  });

  it('Redis frozen (SIGSTOP) past the write timeout: the retried write does not duplicate, the tail reconnects', async () => {
    const h = await harness(PERSISTENT, { flushTimeoutMs: 20_000 });
    try {
      const load = steadyWriter(h);
      await sleep(200);
      h.server.pause();
      // Longer than the 5 s write timeout and the tail's 1 s block + 4 s grace.
      await sleep(6_500);
      h.server.resume();
      await sleep(300);
      load.stop();
      const total = h.appended();
      await h.writer.flush();
      await waitFor(() => h.got.length >= total, { timeoutMs: 15_000, what: `all ${total} records delivered` });
      await sleep(100);
      expectExactlyOnceInOrder(h.got, total);
      const w = h.writer.stats();
      expect(w.writeErrors).toBeGreaterThan(0);
      // The write that timed out was applied when the server woke; its retry found the records and skipped them.
      expect(w.retriedDuplicates).toBeGreaterThan(0);
      expect(w.written).toBe(total);
      expect(h.reader.stats().readErrors).toBeGreaterThan(0);
    } finally {
      h.server.resume();
      await h.close();
    }
  });

  it('without persistence a restart loses the log: counted as lost, new epoch, the tail restarts there without duplicates', async () => {
    const h = await harness([]);
    try {
      h.appendSome(50);
      await h.writer.flush();
      await waitFor(() => h.got.length >= 50, { what: 'first 50 delivered' });
      const epoch = h.writer.epoch;
      await h.server.kill();
      await h.server.start();
      await sleep(300);
      h.appendSome(10); // offsets 51..60: the writer's counter lives in the process, not in Redis
      await h.writer.flush();
      await waitFor(() => h.got.length >= 60, { timeoutMs: 10_000, what: 'records after the restart' });
      await sleep(100);
      expectExactlyOnceInOrder(h.got, 60);
      expect(h.writer.stats()).toMatchObject({ lost: 50, epochChanges: 1 });
      expect(h.writer.epoch).not.toBe(epoch);
      await waitFor(() => h.reader.epoch === h.writer.epoch, { what: 'reader on the new epoch' });
      expect(h.reader.stats()).toMatchObject({ gaps: 1, skipped: 50 });
      // Only 51..60 are in Redis now.
      expect((await h.reader.read(0, 100)).map((r) => r.offset)).toEqual(range(51, 60));
      const health = await h.writer.healthCheck();
      expect(health.status).toBe('warn');
      expect(health.output).toContain('lost 50');
    } finally {
      await h.close();
    }
  });
});

describe('RedisCommandBus under server faults', () => {
  it('serves again after Redis restarts (group recreated), and a send during the outage fails fast with a code', async () => {
    const server = await startRedisServer();
    const key = uniqueName('busfault_cmd');
    const engine = new RedisCommandBus({ redis: server.url, key, origin: 'engine' });
    const gateway = new RedisCommandBus({ redis: server.url, key, origin: 'gw' });
    try {
      engine.serve((c) => c.type);
      await engine.start();
      await gateway.start();
      expect(await gateway.send('before', {}, { timeoutMs: 2_000 })).toMatchObject({ ok: true, result: 'before' });
      await server.kill();
      const during = await gateway.send('during', {}, { timeoutMs: 1_500 }).catch((e: { code: string }) => e.code);
      expect(['E_TRADER_BUS', 'E_TRADER_COMMAND_TIMEOUT']).toContain(during);
      expect((await gateway.healthCheck()).status).toBe('fail');
      await server.start();
      let reply: unknown;
      await waitFor(
        async () => {
          reply = await gateway.send('after', {}, { timeoutMs: 1_000 });
          return true;
        },
        { timeoutMs: 15_000, intervalMs: 100, what: 'a round trip after the restart' },
      );
      expect(reply).toMatchObject({ ok: true, result: 'after' });
      expect(engine.stats().readErrors).toBeGreaterThan(0);
    } finally {
      await gateway.close();
      await engine.close();
      await server.stop();
    }
  });
});

describe('RedisEventLog with waitReplicas', () => {
  it('acknowledges a batch only once a replica holds it, and writes it once when the replica comes', async () => {
    const primary = await startRedisServer();
    let replica: RedisServer | undefined;
    const key = uniqueName('buswait');
    const writer = new RedisEventLog<{ n: number }>({
      redis: primary.url,
      key,
      waitReplicas: 1,
      waitTimeoutMs: 100,
      flushTimeoutMs: 600,
    });
    try {
      await writer.start();
      writer.append({ n: 1 });
      writer.append({ n: 2 });
      // No replica: the records are on the primary but not acknowledged (a failover could lose them).
      await expect(writer.flush()).rejects.toThrow();
      expect(writer.stats().replicationShortfalls).toBeGreaterThan(0);
      expect(writer.stats().written).toBe(0);
      replica = await startRedisServer({ args: ['--replicaof', '127.0.0.1', String(primary.port)] });
      await waitFor(async () => writer.stats().written === 2, { timeoutMs: 20_000 });
      await writer.flush();
      // Each record once, in order, on the primary and on the replica (read as the stream's raw entry ids).
      const ids = async (url: string) => {
        const client = new Redis(url);
        try {
          const rows = await client.xrange(`${key}:log`, '-', '+');
          return rows.map(([id]) => id);
        } finally {
          client.disconnect();
        }
      };
      expect(await ids(primary.url)).toEqual(['1-0', '2-0']);
      await waitFor(async () => (await ids((replica as RedisServer).url)).length === 2, { timeoutMs: 10_000 });
      expect(await ids(replica.url)).toEqual(['1-0', '2-0']);
    } finally {
      await writer.close().catch(() => {});
      await replica?.stop();
      await primary.stop();
    }
  }, 60_000);
});
