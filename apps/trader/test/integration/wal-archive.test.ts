// The WAL archive check against a real disposable PostgreSQL cluster with archive_mode on: its archive_command
// copies a segment only while a flag file exists, so the test turns archiving off and on and sees the figures the
// PostgresWalArchiving* alerts read follow: archived, failing with segments piling up, caught up again.
import { execFile } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { PoolManager } from '@cryptoscalp/db-pool';
import { freePort, type PostgresCluster, postgresBinDir, startPostgresCluster, waitFor } from '@cryptoscalp/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lsnSegmentNumber, WalArchiveMonitor, walSegmentNumber } from '../../src/persistence/wal-archive.js';

const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), 'trader-wal-archive-'));
const archive = join(dir, 'archive');
const flag = join(dir, 'archiving-works');
let cluster: PostgresCluster | undefined;
const pools: PoolManager[] = [];
const monitors: WalArchiveMonitor[] = [];

beforeAll(async () => {
  mkdirSync(archive);
  // The server runs as the postgres user when the tests run as root.
  chmodSync(dir, 0o777);
  chmodSync(archive, 0o777);
  cluster = await startPostgresCluster({
    initdbArgs: ['--wal-segsize=1'],
    settings: {
      archive_mode: 'on',
      archive_command: `test -f ${flag} && cp %p ${archive}/%f`,
      archive_timeout: 0,
    },
  });
}, 60_000);

afterAll(async () => {
  for (const m of monitors) await m.close();
  for (const p of pools) await p.close();
  await cluster?.stop();
  rmSync(dir, { recursive: true, force: true });
}, 60_000);

function pool(url: string, failoverTimeoutMs?: number): PoolManager {
  const p = new PoolManager({
    name: 'wal-archive-test',
    primary: { connectionString: url },
    ...(failoverTimeoutMs === undefined ? {} : { failover: { timeoutMs: failoverTimeoutMs } }),
  });
  pools.push(p);
  return p;
}

/** Writes a row and switches to a new WAL segment: one more completed segment for the archiver. */
async function completeSegment(db: PoolManager): Promise<void> {
  await db.query('insert into filler (at) values (now())');
  await db.query('select pg_switch_wal()');
}

describe('walSegmentNumber', () => {
  it('reads the segment number of WAL, .backup and .partial names for the segment size, and nothing else', () => {
    const mib16 = 16 * 1024 * 1024;
    expect(walSegmentNumber('000000010000000200000003', mib16)).toBe(2n * 256n + 3n);
    expect(walSegmentNumber('000000010000000200000003', 1024 * 1024)).toBe(2n * 4096n + 3n);
    expect(walSegmentNumber('000000020000000000000028.00000060.backup', mib16)).toBe(0x28n);
    expect(walSegmentNumber('00000002000000000000002A.partial', mib16)).toBe(0x2an);
    expect(walSegmentNumber('00000002.history', mib16)).toBeUndefined();
    expect(walSegmentNumber('000000010000000200000003', 0)).toBeUndefined();
  });

  it('agrees with the LSN a segment holds: X/Y over the segment size', () => {
    const mib16 = 16 * 1024 * 1024;
    expect(lsnSegmentNumber('2/3000000', mib16)).toBe(walSegmentNumber('000000010000000200000003', mib16));
    expect(lsnSegmentNumber('2/3FFFFFF', mib16)).toBe(2n * 256n + 3n);
    expect(lsnSegmentNumber('0/1A2B3C8', 1024 * 1024)).toBe(0x1an);
    expect(lsnSegmentNumber('nonsense', mib16)).toBeUndefined();
  });
});

describe('WalArchiveMonitor against a real primary', () => {
  it('follows archiving that works, fails with segments piling up, and recovers', async () => {
    const db = pool((cluster as PostgresCluster).url);
    await db.query('create table filler (at timestamptz)');
    const monitor = new WalArchiveMonitor({ db, intervalMs: 60_000 });
    monitors.push(monitor);
    const sampled = async () => {
      await monitor.sample();
      return monitor.stats();
    };

    // Nothing archived yet.
    let s = await sampled();
    expect(s).toMatchObject({ enabled: true, failing: false, archived: 0, failures: 0, segmentsPending: 0 });
    expect(s.lastArchivedAgeSeconds).toBe(-1);
    expect(s.timeoutSeconds).toBe(0);
    // Archiving on, a superuser may list pg_wal, and no base backup has been taken: known, none (-1).
    expect(s).toMatchObject({ baseBackupKnown: true, lastBaseBackupAgeSeconds: -1 });

    // Archiving works: one segment archived, nothing waiting.
    writeFileSync(flag, '');
    await completeSegment(db);
    await waitFor(async () => (await sampled()).archived >= 1, { timeoutMs: 15_000, what: 'a segment archived' });
    s = monitor.stats();
    expect(s.failing).toBe(false);
    expect(s.segmentsPending).toBeLessThanOrEqual(1);
    expect(s.lastArchivedAgeSeconds).toBeGreaterThanOrEqual(0);
    expect(s.lastArchivedAgeSeconds).toBeLessThan(15);
    const archivedBefore = s.archived;

    // The archive goes away: every attempt fails and five completed segments wait in pg_wal.
    rmSync(flag);
    for (let i = 0; i < 5; i++) await completeSegment(db);
    await waitFor(async () => (await sampled()).failing, { timeoutMs: 15_000, what: 'archiving seen failing' });
    s = monitor.stats();
    expect(s.failures).toBeGreaterThanOrEqual(1);
    expect(s.archived).toBe(archivedBefore);
    expect(s.segmentsPending).toBe(5);

    // It comes back: the next segment wakes the archiver, which archives the backlog oldest first.
    writeFileSync(flag, '');
    await completeSegment(db);
    await waitFor(
      async () => {
        const t = await sampled();
        return !t.failing && t.segmentsPending <= 1;
      },
      { timeoutMs: 30_000, what: 'archiving caught up' },
    );
    s = monitor.stats();
    expect(s.archived).toBeGreaterThanOrEqual(archivedBefore + 6);
    expect(s.failures).toBeGreaterThanOrEqual(1);
    expect(readdirSync(archive).filter((f) => /^[0-9A-F]{24}$/.test(f)).length).toBeGreaterThanOrEqual(7);
    expect(s.checkErrors).toBe(0);
  }, 90_000);

  it('reads the newest base backup from its history file in pg_wal, and only where the role may list pg_wal', async () => {
    const c = cluster as PostgresCluster;
    const db = pool(c.url);
    const monitor = new WalArchiveMonitor({ db, intervalMs: 60_000 });
    monitors.push(monitor);
    await monitor.sample();
    expect(monitor.stats()).toMatchObject({ baseBackupKnown: true, lastBaseBackupAgeSeconds: -1 });

    // A real base backup (what base-backup.sh runs): the server writes <segment>.<offset>.backup into pg_wal.
    const target = join(dir, 'base');
    const took = Date.now();
    await run(`${await postgresBinDir()}/pg_basebackup`, [
      ...['-h', c.host, '-p', String(c.port), '-U', 'postgres', '-D', target],
      ...['--format=tar', '--wal-method=stream', '--checkpoint=fast', '--no-password'],
    ]);
    await monitor.sample();
    let s = monitor.stats();
    expect(s.baseBackupKnown).toBe(true);
    expect(s.lastBaseBackupAgeSeconds).toBeGreaterThanOrEqual(0);
    expect(s.lastBaseBackupAgeSeconds).toBeLessThanOrEqual((Date.now() - took) / 1000 + 1);
    expect(s.checkErrors).toBe(0);

    // A role without pg_monitor may read pg_stat_archiver but not list pg_wal: unknown, and not an error.
    await c.psql('create role wal_watcher login');
    const watcherUrl = c.url.replace('postgres@', 'wal_watcher@');
    const watcher = new WalArchiveMonitor({ db: pool(watcherUrl), intervalMs: 60_000 });
    monitors.push(watcher);
    await watcher.sample();
    expect(watcher.stats()).toMatchObject({
      enabled: true,
      baseBackupKnown: false,
      lastBaseBackupAgeSeconds: -1,
      checkErrors: 0,
    });
    // Granted pg_monitor (what the runbook asks for), it sees the same backup.
    await c.psql('grant pg_monitor to wal_watcher');
    await watcher.sample();
    s = watcher.stats();
    expect(s.baseBackupKnown).toBe(true);
    expect(s.lastBaseBackupAgeSeconds).toBeGreaterThanOrEqual(0);
    expect(s.checkErrors).toBe(0);
  }, 60_000);

  it('a server that cannot be reached counts a check error, reports it once, and keeps the last figures', async () => {
    const port = await freePort();
    const errors: string[] = [];
    const monitor = new WalArchiveMonitor({
      db: pool(`postgres://postgres@127.0.0.1:${port}/postgres`),
      intervalMs: 1000,
      onError: (e) => errors.push(e.message),
    });
    monitors.push(monitor);
    const started = Date.now();
    await monitor.sample();
    await monitor.sample();
    // Each sample gives up after its own timeout (1 s here), not after db-pool's 30 s failover wait.
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(monitor.stats()).toMatchObject({ enabled: false, failing: false, checkErrors: 2, segmentsPending: 0 });
    expect(errors).toHaveLength(1);
    expect(existsSync(flag)).toBe(true);
  }, 30_000);
});
