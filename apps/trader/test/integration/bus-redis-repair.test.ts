// A stream that lost its tail (what a Redis primary restarted from its AOF, or a replica promoted before it held the
// last writes, leaves behind), simulated on a disposable redis-server of the test's own: the last entries are deleted
// and the stream's last id set back (XDEL + XSETID), the clients' connections are cut (CLIENT KILL), and the writer
// re-appends what is missing before anything new while a reader checks it gets back the same history. The server is
// stopped by PID in `finally`.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type RedisServer, startRedisServer, uniqueName, waitFor } from '@cryptoscalp/testkit';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisEventLog } from '../../src/bus/redis-event-log.js';
import type { LogRecord } from '../../src/bus/types.js';
import type { TraderError } from '../../src/errors.js';
import { JournalFollower } from '../../src/ha/journal-follower.js';
import type { JournalEntry } from '../../src/journal/journal.js';
import type { TraderRecord } from '../../src/read-model/trader-record.js';

type Rec = { n: number; pad: string };
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

let server: RedisServer;
let admin: Redis;
beforeAll(async () => {
  server = await startRedisServer();
  admin = new Redis(server.url);
});
afterAll(async () => {
  admin?.disconnect();
  await server?.stop();
});

/** Deletes the stream's entries after `keep` and sets its last id back, as a server that never had them. */
async function loseTail(key: string, keep: number): Promise<void> {
  const rows = await admin.xrange(`${key}:log`, `${keep + 1}-0`, '+');
  if (rows.length > 0) await admin.xdel(`${key}:log`, ...rows.map(([id]) => id));
  await admin.call('XSETID', `${key}:log`, `${keep}-0`);
}

/** Cuts every client connection but the admin's: the logs reconnect (as to a promoted replica). */
async function cutConnections(): Promise<void> {
  await admin.client('KILL', 'TYPE', 'normal', 'SKIPME', 'yes');
}

async function rawEntries(key: string): Promise<[string, string[]][]> {
  return (await admin.xrange(`${key}:log`, '-', '+')) as [string, string[]][];
}

describe('RedisEventLog: a stream that lost its tail', () => {
  it('the writer re-appends the lost records (same ids, same fields) before new ones; a tail gets each record once', async () => {
    const key = uniqueName('repair');
    const lines: string[] = [];
    const writer = new RedisEventLog<Rec>({ redis: server.url, key, log: (l) => lines.push(l) });
    const reader = new RedisEventLog<Rec>({ redis: server.url, key });
    const got: LogRecord<Rec>[] = [];
    const diverged: TraderError[] = [];
    try {
      await writer.start();
      await reader.start();
      const tail = reader.tail(
        0,
        (r) => got.push(...r),
        (e) => diverged.push(e),
      );
      for (let n = 1; n <= 100; n++) writer.append({ n, pad: 'x'.repeat(n) });
      await writer.flush();
      await waitFor(() => got.length === 100, { what: '100 records delivered' });
      const before = await rawEntries(key);
      await loseTail(key, 80);
      await cutConnections();
      expect((await rawEntries(key)).length).toBe(80);
      for (let n = 101; n <= 110; n++) writer.append({ n, pad: '' });
      await writer.flush();
      const after = await rawEntries(key);
      // Gapless, no duplicates, and entries 81..100 are byte for byte what the writer had written first.
      expect(after.map(([id]) => id)).toEqual(range(1, 110).map((o) => `${o}-0`));
      expect(after.slice(0, 100)).toEqual(before);
      expect(writer.stats()).toMatchObject({ lost: 20, repairs: 1, repairedEntries: 20, written: 110, fenced: 0 });
      const health = await writer.healthCheck();
      expect(health.status).toBe('warn');
      expect(health.output).toContain('Redis lost 20 acknowledged records (offsets 81..100)');
      expect(lines.join('\n')).toMatch(/re-appending them from memory/);
      expect(lines.join('\n')).toMatch(/re-appended the records Redis had lost, up to offset 100/);
      // The reader reconnected, read its delivered records again (81..100 came back identical) and went on.
      await waitFor(() => got.length >= 110, { what: 'records after the repair' });
      await new Promise((r) => setTimeout(r, 100));
      expect(got.map((r) => r.offset)).toEqual(range(1, 110));
      expect(got.every((r) => r.data.n === r.offset)).toBe(true);
      expect(diverged).toEqual([]);
      expect(reader.stats()).toMatchObject({ gaps: 0, divergences: 0, recheckedEntries: 100 });
      await tail.stop();
    } finally {
      await writer.close().catch(() => undefined);
      await reader.close();
    }
  });

  it('a loss reaching past what the writer keeps stops it: nothing written past the gap, health fail', async () => {
    const key = uniqueName('repair_short');
    const writer = new RedisEventLog<Rec>({ redis: server.url, key, repairWindow: 5, flushTimeoutMs: 1_000 });
    try {
      await writer.start();
      for (let n = 1; n <= 30; n++) writer.append({ n, pad: '' });
      await writer.flush();
      await loseTail(key, 20);
      writer.append({ n: 31, pad: '' });
      await expect(writer.flush()).rejects.toThrow(/no longer holds them all/);
      const health = await writer.healthCheck();
      expect(health.status).toBe('fail');
      expect(health.output).toContain('offsets 21..30');
      expect(health.output).toContain('writes nothing past the gap');
      expect(() => writer.append({ n: 32, pad: '' })).toThrow(/writes nothing past the gap/);
      expect((await rawEntries(key)).map(([id]) => id)).toEqual(range(1, 20).map((o) => `${o}-0`));
      expect(writer.stats()).toMatchObject({ lost: 10, repairedEntries: 0, fenced: 1 });
    } finally {
      await writer.close().catch(() => undefined);
    }
  });

  it('a tail whose delivered records come back different stops and says so (another history under those offsets)', async () => {
    const key = uniqueName('repair_diverge');
    const first = new RedisEventLog<Rec>({ redis: server.url, key });
    const reader = new RedisEventLog<Rec>({ redis: server.url, key });
    const got: LogRecord<Rec>[] = [];
    const diverged: TraderError[] = [];
    let second: RedisEventLog<Rec> | undefined;
    try {
      await first.start();
      await reader.start();
      reader.tail(
        0,
        (r) => got.push(...r),
        (e) => diverged.push(e),
      );
      for (let n = 1; n <= 20; n++) first.append({ n, pad: 'a' });
      await first.flush();
      await first.close();
      await waitFor(() => got.length === 20, { what: '20 records delivered' });
      await loseTail(key, 15);
      // The server the reader comes back to (a promoted replica) ends at 15.
      await cutConnections();
      // A writer that does not hold 16..20 (a new process) writes other records under those offsets.
      second = new RedisEventLog<Rec>({ redis: server.url, key });
      await second.start();
      for (let n = 16; n <= 25; n++) second.append({ n, pad: 'b' });
      await second.flush();
      await waitFor(() => diverged.length === 1, { timeoutMs: 10_000, what: 'the tail to stop' });
      expect(diverged[0]?.code).toBe('E_TRADER_BUS');
      expect(diverged[0]?.message).toContain('entry at offset 16 differs from the one this reader delivered');
      const health = await reader.healthCheck();
      expect(health.status).toBe('fail');
      expect(reader.stats()).toMatchObject({ divergences: 1 });
      await new Promise((r) => setTimeout(r, 200));
      expect(got.map((r) => r.offset)).toEqual(range(1, 20));
    } finally {
      await second?.close().catch(() => undefined);
      await first.close().catch(() => undefined);
      await reader.close();
    }
  });
});

describe('journal follower over a stream that lost its tail', () => {
  const dir = mkdtempSync(join(tmpdir(), 'trader-follow-repair-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const entry = (seq: number): JournalEntry => ({ seq, ts: 1_700_000_000_000 + seq, type: 'note', data: { seq } });

  it('follows on when the writer re-appends what it had read; refuses to lead when the stream ends before it', async () => {
    const key = uniqueName('repair_follow');
    const writer = new RedisEventLog<TraderRecord>({ redis: server.url, key });
    const reader = new RedisEventLog<TraderRecord>({ redis: server.url, key });
    const follower = new JournalFollower(reader, join(dir, 'a', 'journal.jsonl'), { fsync: 'never' });
    try {
      await writer.start();
      await reader.start();
      await follower.start();
      for (let s = 1; s <= 40; s++) {
        writer.append({ k: 'entry', entry: entry(s) });
        writer.append({ k: 'market', ts: s, books: [] });
      }
      await writer.flush();
      await waitFor(() => follower.lastSeq === 40, { what: 'follower at entry 40' });
      await loseTail(key, 50); // entries 26..40 (offsets 51..80) gone
      await cutConnections();
      for (let s = 41; s <= 45; s++) writer.append({ k: 'entry', entry: entry(s) });
      await writer.flush();
      await waitFor(() => follower.lastSeq === 45, { timeoutMs: 10_000, what: 'follower at entry 45' });
      expect(follower.failure).toBeUndefined();
      expect(writer.stats()).toMatchObject({ repairedEntries: 30 });
      // Now a loss nobody repairs (the writer is gone): the standby must not lead on it.
      await writer.close();
      await loseTail(key, 70);
      await expect(follower.finish()).rejects.toThrow(/ends at offset 70, before offset 85/);
    } finally {
      await writer.close().catch(() => undefined);
      await follower.close();
      await reader.close();
    }
  });
});
