import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PoolManager } from '@cryptoscalp/db-pool';
import { serviceUrls, uniqueName, waitFor } from '@cryptoscalp/testkit';
import { Redis } from 'ioredis';
import { Gauge, Registry } from 'prom-client';
import { afterAll, describe, expect, it } from 'vitest';
import { RedisEventLog } from '../../src/bus/redis-event-log.js';
import { EngineLease } from '../../src/ha/engine-lease.js';
import { StandbyComponent } from '../../src/ha/ha-components.js';
import { JournalFollower } from '../../src/ha/journal-follower.js';
import { Journal, type JournalEntry } from '../../src/journal/journal.js';
import type { TraderRecord } from '../../src/read-model/trader-record.js';

// A standby's journal following the event stream (the local Redis, own keys; temp data dirs).
const prefix = uniqueName('follow');
const dir = mkdtempSync(join(tmpdir(), 'trader-follow-'));
const admin = new Redis(serviceUrls.redis);
let n = 0;

afterAll(async () => {
  const keys = await admin.keys(`${prefix}*`);
  if (keys.length > 0) await admin.del(...keys);
  admin.disconnect();
  rmSync(dir, { recursive: true, force: true });
});

const entry = (seq: number, tag: string): JournalEntry => ({
  seq,
  ts: 1_700_000_000_000 + seq,
  type: 'note',
  data: { tag },
});

/** A stream holding `entries` (with a market record between them, which the follower skips). */
async function stream(entries: JournalEntry[]): Promise<RedisEventLog<TraderRecord>> {
  const log = new RedisEventLog<TraderRecord>({ redis: serviceUrls.redis, key: `${prefix}:${++n}` });
  await log.start();
  for (const e of entries) {
    log.append({ k: 'entry', entry: e });
    log.append({ k: 'market', ts: e.ts, books: [] });
  }
  await log.flush();
  return log;
}

function localJournal(name: string, entries: JournalEntry[]): string {
  const path = join(dir, name, 'journal.jsonl');
  const { journal } = Journal.open(path, { fsync: 'never' });
  for (const e of entries) journal.append(e.type, e.data, e.ts);
  journal.close();
  return path;
}

describe('journal follower', () => {
  it('copies the stream into an empty journal and follows it live', async () => {
    const log = await stream([entry(1, 'a'), entry(2, 'b')]);
    const path = localJournal('empty', []);
    const follower = new JournalFollower(log, path, { fsync: 'never' });
    await follower.start();
    log.append({ k: 'entry', entry: entry(3, 'c') });
    await waitFor(() => follower.lastSeq === 3, { timeoutMs: 5_000, what: 'entry 3 followed' });
    await follower.finish();
    expect(Journal.read(path)).toEqual([entry(1, 'a'), entry(2, 'b'), entry(3, 'c')]);
    await log.close();
  });

  it('cuts an uncommitted local tail, beyond the stream or replaced by the next leader, keeping it aside', async () => {
    const log = await stream([entry(1, 'a'), entry(2, 'b'), entry(3, 'next leader')]);
    const path = localJournal('diverged', [entry(1, 'a'), entry(2, 'b'), entry(3, 'mine'), entry(4, 'mine too')]);
    const follower = new JournalFollower(log, path, { fsync: 'never' });
    await follower.start();
    await follower.finish();
    expect(follower.counts.truncated).toBe(2);
    expect(Journal.read(path)).toEqual([entry(1, 'a'), entry(2, 'b'), entry(3, 'next leader')]);
    expect(readdirSync(join(dir, 'diverged')).some((f) => f.startsWith('journal.jsonl.uncommitted-'))).toBe(true);
    await log.close();

    const shorter = await stream([entry(1, 'a')]);
    const ahead = localJournal('ahead', [entry(1, 'a'), entry(2, 'unpublished')]);
    const f2 = new JournalFollower(shorter, ahead, { fsync: 'never' });
    await f2.start();
    await f2.finish();
    expect(Journal.read(ahead)).toEqual([entry(1, 'a')]);
    await shorter.close();
  });

  it("refuses another stream's journal, and a stream that skips entries", async () => {
    const log = await stream([entry(1, 'theirs')]);
    const path = localJournal('foreign', [entry(1, 'mine')]);
    await expect(new JournalFollower(log, path, { fsync: 'never' }).start()).rejects.toThrow(
      /did not follow this stream/,
    );
    await log.close();
    const gap = await stream([entry(5, 'e')]);
    await expect(new JournalFollower(gap, localJournal('gap', []), { fsync: 'never' }).start()).rejects.toThrow(
      /jumps from entry 0 to 5/,
    );
    await gap.close();
  });

  it("the standby's ha component: gauge 0, follows the stream, health names the role and the followed entry", async () => {
    const schema = uniqueName('trader_standby');
    const db = new PoolManager({ primary: { connectionString: serviceUrls.postgres } });
    try {
      const log = await stream([entry(1, 'a'), entry(2, 'b')]);
      const path = localJournal('standby', []);
      const follower = new JournalFollower(log, path, { fsync: 'never' });
      const lease = new EngineLease({ db, schema, group: 'standby', holder: 'b', ttlMs: 2_000 });
      const active = new Gauge({ name: 'ha_test_standby_active', help: 'test', registers: [new Registry()] });
      active.set(1);
      const standby = new StandbyComponent(lease, follower, active);
      await standby.start();
      expect((await active.get()).values[0]?.value).toBe(0);
      log.append({ k: 'entry', entry: entry(3, 'c') });
      await waitFor(() => follower.lastSeq === 3, { timeoutMs: 5_000, what: 'entry 3 followed' });
      const health = await standby.healthCheck();
      expect(health).toMatchObject({ status: 'pass', observedValue: 3, details: { role: 'standby', followedSeq: 3 } });
      expect(health.output).toMatch(/^standby: journal follows the event stream \(entry 3\)/);
      await standby.stop();
      expect(Journal.read(path).map((e) => e.seq)).toEqual([1, 2, 3]);
      await log.close();
    } finally {
      await db.query(`drop schema if exists ${schema} cascade`);
      await db.close();
    }
  });
});
