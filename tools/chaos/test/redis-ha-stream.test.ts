// The trader's event stream through a real Sentinel failover: a primary and a replica (AOF everysec), three
// redis-sentinel processes, an engine's stream writer and a standby's journal follower, all on their own ports and
// temp dirs. The primary is SIGKILLed (a) with the replica behind, so the Sentinels promote a replica that lacks the
// last acknowledged records, and (b) with an AOF older than its last writes restarted before the Sentinels fail over,
// so the replica resyncs from it and loses them too (WAIT had acknowledged them). Either way the writer must re-append
// the lost records: the stream ends equal to what it appended, gapless, no duplicates, and the follower is healthy.
// Every process is stopped by PID in `finally` (RedisHa.close).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitFor } from '@cryptoscalp/testkit';
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { RedisEventLog } from '../../../apps/trader/src/bus/redis-event-log.js';
import { createRedisClient } from '../../../apps/trader/src/config/redis-url.js';
import { JournalFollower } from '../../../apps/trader/src/ha/journal-follower.js';
import { Journal, type JournalEntry } from '../../../apps/trader/src/journal/journal.js';
import type { TraderRecord } from '../../../apps/trader/src/read-model/trader-record.js';
import { RedisHa } from '../src/redis-ha.js';

const KEY = 'ha-stream:events';

/** One engine's stream writer and one standby's follower on the Sentinel URL, and what the writer appended. */
async function parties(ha: RedisHa, dir: string, waitReplicas: number) {
  const clients: Redis[] = [];
  const client = () => {
    const c = createRedisClient(ha.url, { maxRetriesPerRequest: null });
    c.on('error', () => undefined);
    clients.push(c);
    return c;
  };
  const lines: string[] = [];
  const writer = new RedisEventLog<TraderRecord>({
    redis: client(),
    key: KEY,
    waitReplicas,
    flushTimeoutMs: 60_000,
    log: (l) => lines.push(l),
  });
  const reader = new RedisEventLog<TraderRecord>({ redis: client(), key: KEY });
  const follower = new JournalFollower(reader, join(dir, 'standby', 'journal.jsonl'), { fsync: 'never' });
  const appended: TraderRecord[] = [];
  let seq = 0;
  await writer.start();
  await reader.start();
  await follower.start();
  return {
    writer,
    follower,
    lines,
    appended,
    /** Appends `count` journal entries, each followed by a market record of `pad` bytes (the replication volume). */
    append(count: number, pad: number) {
      for (let i = 0; i < count; i++) {
        seq++;
        const entry: JournalEntry = { seq, ts: 1_700_000_000_000 + seq, type: 'note', data: { seq } };
        for (const r of [
          { k: 'entry', entry },
          { k: 'market', ts: seq, books: [{ symbol: 'x'.repeat(pad) }] },
        ] as TraderRecord[]) {
          expect(writer.append(r)).toBe(appended.length + 1);
          appended.push(r);
        }
      }
    },
    get seq() {
      return seq;
    },
    async close() {
      await follower.close();
      await writer.close().catch(() => undefined);
      await reader.close();
      for (const c of clients) c.disconnect();
    },
  };
}

/** The stream as the primary holds it now: ids and decoded data, read through the Sentinels. */
async function streamNow(ha: RedisHa): Promise<{ ids: string[]; data: unknown[] }> {
  const c = createRedisClient(ha.url, { maxRetriesPerRequest: 2 });
  c.on('error', () => undefined);
  try {
    const rows = (await c.xrange(`${KEY}:log`, '-', '+')) as [string, string[]][];
    return { ids: rows.map(([id]) => id), data: rows.map(([, f]) => JSON.parse(f[f.indexOf('d') + 1] as string)) };
  } finally {
    c.disconnect();
  }
}

/** What the standby's journal holds, and the checks every scenario ends with. */
async function expectRecovered(ha: RedisHa, p: Awaited<ReturnType<typeof parties>>, dir: string): Promise<void> {
  const stream = await streamNow(ha);
  expect(stream.ids).toEqual(p.appended.map((_, i) => `${i + 1}-0`));
  expect(stream.data).toEqual(p.appended);
  await waitFor(() => p.follower.lastSeq === p.seq, { timeoutMs: 30_000, what: `follower at entry ${p.seq}` });
  expect(p.follower.failure).toBeUndefined();
  await p.follower.finish();
  const journal = Journal.read(join(dir, 'standby', 'journal.jsonl'));
  expect(journal.map((e) => e.seq)).toEqual(Array.from({ length: p.seq }, (_, i) => i + 1));
  expect(journal.map((e) => e.data)).toEqual(p.appended.filter((r) => r.k === 'entry').map((r) => r.entry.data));
}

describe('event stream through a Redis failover (real Sentinels)', () => {
  it('(a) the replica is promoted without the last acknowledged records: the writer re-appends them', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ha-stream-a-'));
    const ha = await RedisHa.start({ name: 'stream-a', downAfterMs: 1_000 });
    let p: Awaited<ReturnType<typeof parties>> | undefined;
    try {
      p = await parties(ha, dir, 0);
      p.append(50, 10);
      await p.writer.flush();
      const primary = await ha.primary();
      const replica = ha.servers.find((s) => s !== primary);
      // The replica's first sync may still be under way (it holds nothing until then): wait until it holds these.
      const admin = new Redis((primary as (typeof ha.servers)[number]).url);
      try {
        expect(await admin.wait(1, 30_000)).toBe(1);
      } finally {
        admin.disconnect();
      }
      // The replica stops reading: what the primary acknowledges now piles up in its output buffer to the replica,
      // more than the sockets hold, and is gone with it.
      replica?.pause();
      p.append(3_000, 8_000);
      await p.writer.flush();
      const acknowledged = p.appended.length;
      const t0 = Date.now();
      await primary?.kill();
      replica?.resume();
      await waitFor(async () => (await ha.primary())?.port === replica?.port && (await ha.primaryServes()), {
        timeoutMs: 60_000,
        intervalMs: 200,
        what: 'the Sentinels to promote the replica',
      });
      const failoverMs = Date.now() - t0;
      p.append(20, 10);
      await p.writer.flush();
      const stats = p.writer.stats();
      console.log(
        `REDIS_HA_STREAM (a) failover after ${failoverMs} ms; ${acknowledged} acknowledged, lost ${stats.lost}, re-appended ${stats.repairedEntries} (load ${(await import('node:os')).loadavg()[0]?.toFixed(1)})`,
      );
      // Not every run loses records (the replica may have read them all before the kill), but this one should.
      expect(stats.lost).toBeGreaterThan(0);
      expect(stats.repairedEntries).toBe(stats.lost);
      expect(p.lines.join('\n')).toMatch(/re-appending them from memory/);
      await expectRecovered(ha, p, dir);
    } catch (e) {
      console.log(ha.output());
      throw e;
    } finally {
      await p?.close();
      await ha.close();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 180_000);

  it('(b) the primary comes back from an AOF without its last writes before any failover: WAIT is not enough, the writer re-appends', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ha-stream-b-'));
    // The Sentinels would fail over only after 30 s: the primary is back long before.
    const ha = await RedisHa.start({ name: 'stream-b', downAfterMs: 30_000, failoverTimeoutMs: 60_000 });
    let p: Awaited<ReturnType<typeof parties>> | undefined;
    try {
      p = await parties(ha, dir, 1);
      p.append(100, 10);
      await p.writer.flush();
      const primary = await ha.primary();
      if (primary === undefined) throw new Error('no primary');
      const admin = new Redis(primary.url);
      const dataDir = ((await admin.config('GET', 'dir')) as string[])[1] as string;
      admin.disconnect();
      // The AOF as it was at this point: what a restart finds when the last second never reached the disk.
      execFileSync('cp', ['-a', join(dataDir, 'appendonlydir'), join(dir, 'aof-before')]);
      p.append(100, 10);
      await p.writer.flush(); // WAIT 1: the replica held these too
      const acknowledged = p.appended.length;
      await primary.kill();
      execFileSync('rm', ['-rf', join(dataDir, 'appendonlydir')]);
      execFileSync('cp', ['-a', join(dir, 'aof-before'), join(dataDir, 'appendonlydir')]);
      await primary.start();
      p.append(10, 10);
      await p.writer.flush();
      expect((await ha.primary())?.port).toBe(primary.port);
      const stats = p.writer.stats();
      console.log(
        `REDIS_HA_STREAM (b) ${acknowledged} acknowledged (WAIT 1), lost ${stats.lost}, re-appended ${stats.repairedEntries}`,
      );
      expect(stats.lost).toBe(200);
      expect(stats.repairedEntries).toBe(200);
      await expectRecovered(ha, p, dir);
      // The replica resynced from the restarted primary and holds the repaired stream too.
      const replica = ha.servers.find((s) => s !== primary) as (typeof ha.servers)[number];
      const r = new Redis(replica.url);
      try {
        await waitFor(async () => (await r.xlen(`${KEY}:log`)) === p?.appended.length, {
          timeoutMs: 20_000,
          what: 'the replica to hold the repaired stream',
        });
      } finally {
        r.disconnect();
      }
    } catch (e) {
      console.log(ha.output());
      throw e;
    } finally {
      await p?.close();
      await ha.close();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 180_000);
});
