// The backup scripts' own rules, on real files and programs: archive-wal.sh's no-overwrite rules (the PostgreSQL
// manual's), the command lines of every script, journal-backup.sh's cut of a line still being written and its copies
// of a rotated journal (segments linked, kept N, restored), retention.sh's choice of what to keep, restore-pitr.sh
// stopping the server of a failed restore, and the Kubernetes CronJob rendered by the real `kubectl kustomize` and
// checked against the kubernetes-models schemas.
import { execFile, execFileSync } from 'node:child_process';
import {
  appendFileSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { freePort, startPostgresCluster, waitFor } from '@cryptoscalp/testkit';
import { afterAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { Journal, listSegments, SNAPSHOT_ENTRY } from '../../apps/trader/src/journal/journal.js';

const backupDir = fileURLToPath(new URL('../backup/', import.meta.url));
const tmp = mkdtempSync(join(tmpdir(), 'backup-scripts-'));
const fixtures: string[] = [];
afterAll(() => {
  for (const dir of [tmp, ...fixtures]) rmSync(dir, { recursive: true, force: true });
});

/** A file's text, or '' when it does not exist. */
function readFileSafe(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

/** Runs a script; resolves its exit code and output instead of throwing on a non-zero exit. */
function run(script: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(join(backupDir, script), args, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === 'number' ? error.code : -1;
      resolve({ code, stdout, stderr });
    });
  });
}

describe('archive-wal.sh', () => {
  const archive = join(tmp, 'archive');
  const pgWal = join(tmp, 'pg_wal');
  mkdirSync(archive);
  mkdirSync(pgWal);
  const segment = '000000010000000000000003';
  const src = join(pgWal, segment);
  writeFileSync(src, 'segment contents');

  it('archives a segment, succeeds again for identical contents, refuses different contents', async () => {
    expect((await run('archive-wal.sh', [src, segment, archive])).code).toBe(0);
    expect(readFileSync(join(archive, segment), 'utf8')).toBe('segment contents');

    const again = await run('archive-wal.sh', [src, segment, archive]);
    expect(again.code).toBe(0);
    expect(again.stderr).toMatch(/already archived with identical contents/);

    const other = join(tmp, 'other');
    writeFileSync(other, 'other contents');
    const refused = await run('archive-wal.sh', [other, segment, archive]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/refusing to overwrite/);
    expect(readFileSync(join(archive, segment), 'utf8')).toBe('segment contents');
    expect(readdirSync(archive)).toEqual([segment]); // no temporary file left behind
  });

  it('fails (so PostgreSQL retries) without the archive directory or the source, and rejects foreign names', async () => {
    expect((await run('archive-wal.sh', [src, segment, join(tmp, 'missing')])).code).toBe(1);
    expect((await run('archive-wal.sh', [join(pgWal, 'nope'), segment, archive])).code).toBe(1);
    const traversal = await run('archive-wal.sh', [src, '../escaped', archive]);
    expect(traversal.code).toBe(2);
    expect(traversal.stderr).toMatch(/WAL_NAME/);
    expect((await run('archive-wal.sh', [src, '00000002.history', archive])).code).toBe(0);
  });
});

describe('command lines', () => {
  const scripts = ['base-backup.sh', 'restore-pitr.sh', 'retention.sh', 'journal-backup.sh'];

  it.each(scripts)('%s rejects an unknown option with exit 2, naming it', async (script) => {
    const r = await run(script, ['--frobnicate']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/unknown option --frobnicate/);
    expect(r.stderr).toMatch(/^usage:/m);
  });

  it('names the missing or malformed field', async () => {
    expect(
      (await run('restore-pitr.sh', ['--backup', tmp, '--wal-archive', tmp, '--pgdata', join(tmp, 'x')])).stderr,
    ).toMatch(/one of --target-time or --latest is required/);
    expect((await run('retention.sh', ['--backups', tmp, '--wal-archive', tmp, '--keep', '0'])).stderr).toMatch(
      /--keep must be a number >= 1, got 0/,
    );
    expect((await run('base-backup.sh', ['--dest', tmp, '--port', 'eighty'])).stderr).toMatch(
      /--port must be a number, got eighty/,
    );
  });
});

describe('journal-backup.sh', () => {
  /** The copy's directory and its `entries= first_seq= last_seq= segments= bytes=` line, as numbers. */
  function parseCopy(stdout: string) {
    const [dir, stats] = stdout.trim().split('\n') as [string, string];
    const m = /^entries=(\d+) first_seq=(\d+) last_seq=(\d+) segments=(\d+) bytes=(\d+)$/.exec(stats);
    expect(m, stats).not.toBeNull();
    const [entries, firstSeq, lastSeq, segments, bytes] = (m as RegExpExecArray).slice(1).map(Number) as [
      number,
      number,
      number,
      number,
      number,
    ];
    return { dir, entries, firstSeq, lastSeq, segments, bytes };
  }

  it('copies the complete entries of a journal whose last line is still being written, verified', async () => {
    const journalPath = join(tmp, 'data', 'journal.jsonl');
    const { journal } = Journal.open(journalPath, { fsync: 'never' });
    for (let i = 0; i < 20; i++) journal.append('test.event', { i });
    journal.close();
    appendFileSync(journalPath, '{"seq":21,"ts":1,"type":"te');

    const r = await run('journal-backup.sh', ['--data-dir', join(tmp, 'data'), '--dest', join(tmp, 'copies')]);
    expect(r.code, r.stderr).toBe(0);
    const copy = parseCopy(r.stdout);
    expect(copy).toMatchObject({ entries: 20, firstSeq: 1, lastSeq: 20, segments: 0 });
    expect(r.stderr).toMatch(/cut a line still being written/);
    expect(readdirSync(copy.dir)).toEqual(['journal.jsonl']);
    expect(Journal.read(join(copy.dir, 'journal.jsonl'))).toEqual(Journal.read(journalPath));
  });

  it('copies a rotated journal with its archived segments, links unchanged ones, keeps N, and restores', async () => {
    const dataDir = join(tmp, 'rotated');
    const journalPath = join(dataDir, 'journal.jsonl');
    const dest = join(tmp, 'rotated-copies');
    // What the engine does: once a segment is full, rotate and begin the new one with a snapshot entry.
    const write = (n: number) => {
      const { journal } = Journal.open(journalPath, { fsync: 'never', segmentBytes: 4096 });
      for (let i = 0; i < n; i++) {
        journal.append('test.event', { i, pad: 'x'.repeat(100) });
        if (journal.rotationDue && journal.rotate()) journal.append(SNAPSHOT_ENTRY, { origin: 'test' });
      }
      journal.close();
    };
    const backup = async () => {
      const r = await run('journal-backup.sh', ['--journal', journalPath, '--dest', dest, '--gzip', '--keep', '2']);
      expect(r.code, r.stderr).toBe(0);
      return parseCopy(r.stdout);
    };

    write(60);
    const first = await backup();
    const segments = listSegments(journalPath);
    expect(segments.length).toBeGreaterThanOrEqual(2);
    expect(first).toMatchObject({ firstSeq: 1, lastSeq: Journal.read(journalPath).length, segments: segments.length });
    expect(first.entries).toBe(first.lastSeq);

    write(40);
    const second = await backup();
    // An archived segment never changes: the second copy links the first copy's file instead of copying it again.
    for (const seg of segments) {
      const name = `${seg.path.split('/').pop()}.gz`;
      expect(statSync(join(second.dir, name)).ino).toBe(statSync(join(first.dir, name)).ino);
    }
    expect(second.segments).toBeGreaterThan(first.segments);

    write(10);
    const third = await backup();
    expect(readdirSync(dest).sort()).toEqual([second.dir, third.dir].map((d) => d.split('/').pop()).sort());

    // Restore: the copy's files, uncompressed, into a fresh data dir are the journal as it was.
    const restored = join(tmp, 'rotated-restored');
    mkdirSync(restored);
    for (const name of readdirSync(third.dir)) {
      writeFileSync(join(restored, name.replace(/\.gz$/, '')), gunzipSync(readFileSync(join(third.dir, name))));
    }
    const original = Journal.read(journalPath);
    expect(Journal.read(join(restored, 'journal.jsonl'))).toEqual(original);
    expect(third).toMatchObject({ firstSeq: 1, lastSeq: original.length, entries: original.length });
    const reopened = Journal.open(join(restored, 'journal.jsonl'));
    expect(reopened.journal.lastSeq).toBe(original.length);
    expect(reopened.recovery.entries[0]?.type).toBe(SNAPSHOT_ENTRY); // a start replays the last segment only
    reopened.journal.close();
  });

  it('refuses segments that do not follow each other, keeping nothing', async () => {
    const dataDir = join(tmp, 'gap');
    mkdirSync(dataDir);
    const line = (seq: number) => `${JSON.stringify({ seq, ts: 1, type: 'test.event', data: {} })}\n`;
    writeFileSync(join(dataDir, 'journal.jsonl.000000000001-000000000003'), [1, 2, 3].map(line).join(''));
    writeFileSync(join(dataDir, 'journal.jsonl'), [7, 8].map(line).join(''));
    const dest = join(tmp, 'gap-copies');
    const r = await run('journal-backup.sh', ['--data-dir', dataDir, '--dest', dest]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/do not follow each other: the current segment begins at entry 7 after 3/);
    expect(readdirSync(dest)).toEqual([]);

    // Consecutive by name, but an archived segment is damaged: the trader's verify rejects the copy.
    writeFileSync(join(dataDir, 'journal.jsonl.000000000004-000000000006'), `${line(4)}not json\n${line(6)}`);
    const damaged = await run('journal-backup.sh', ['--data-dir', dataDir, '--dest', dest]);
    expect(damaged.code).toBe(1);
    expect(damaged.stderr).toMatch(/journal verify rejected the copy of entries 1\.\.the end/);
    expect(readdirSync(dest)).toEqual([]);
  });
});

describe('retention.sh', () => {
  const day = 86_400_000;
  /** Base backups started 10 days, 5 days, 1 day and 1 hour ago (their first WAL segments 2, 4, 6, 8), a WAL
   * archive holding segments 1..9 with the backups' history files and a timeline history file, and two directories
   * left by failed backups (one two days old). Owned by the database's OS user, as the scripts run as it when root. */
  function fixture(name: string) {
    // Beside tmp, not in it: the database's OS user must reach it, and mkdtemp makes tmp private to its owner.
    const root = mkdtempSync(join(tmpdir(), `backup-${name}-`));
    fixtures.push(root);
    const backups = join(root, 'base');
    const archive = join(root, 'wal');
    mkdirSync(backups, { recursive: true });
    mkdirSync(archive);
    const seg = (n: number) => `00000001000000000000000${n}`;
    const stamps = [10 * day, 5 * day, day, day / 24].map((ago) =>
      new Date(Date.now() - ago)
        .toISOString()
        .replace(/[-:]/g, '')
        .replace(/\.\d{3}Z$/, 'Z'),
    );
    stamps.forEach((stamp, i) => {
      mkdirSync(join(backups, stamp));
      writeFileSync(join(backups, stamp, 'backup.info'), `label=l${i}\nstart_wal=${seg(2 * i + 2)}\n`);
      writeFileSync(join(archive, `${seg(2 * i + 2)}.00000028.backup`), 'history');
    });
    for (let n = 1; n <= 9; n++) writeFileSync(join(archive, seg(n)), 'wal');
    writeFileSync(join(archive, '00000002.history'), 'timeline');
    mkdirSync(join(backups, '.partial-old'));
    mkdirSync(join(backups, '.partial-new'));
    const twoDaysAgo = new Date(Date.now() - 2 * day);
    utimesSync(join(backups, '.partial-old'), twoDaysAgo, twoDaysAgo);
    if (process.getuid?.() === 0) execFileSync('chown', ['-R', 'postgres:postgres', root]);
    return { backups, archive, stamps, seg };
  }
  const ls = (dir: string) => readdirSync(dir).sort();

  it('--dry-run deletes nothing and says what it would delete', async () => {
    const f = fixture('retention-dry');
    const before = [ls(f.backups), ls(f.archive)];
    const r = await run('retention.sh', [
      '--backups',
      f.backups,
      '--wal-archive',
      f.archive,
      '--keep',
      '1',
      '--dry-run',
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect([ls(f.backups), ls(f.archive)]).toEqual(before);
    expect(r.stderr).toMatch(new RegExp(`would delete .*${f.stamps[0]}`));
    expect(r.stderr).toMatch(new RegExp(`would delete .*${f.seg(7)}`));
  });

  it('keeps every backup of the recovery window and the newest before it, and the WAL they need', async () => {
    const f = fixture('retention-window');
    const r = await run('retention.sh', [
      ...['--backups', f.backups, '--wal-archive', f.archive, '--keep', '1', '--recovery-window-days', '3'],
    ]);
    expect(r.code, r.stderr).toBe(0);
    // 1 day and 1 hour old are in the window; 5 days old is the newest before its start: restores to 3 days ago.
    expect(ls(f.backups)).toEqual([...f.stamps.slice(1), '.partial-new'].sort());
    expect(ls(f.archive)).toEqual(
      [
        ...[4, 5, 6, 7, 8, 9].map(f.seg),
        ...[4, 6, 8].map((n) => `${f.seg(n)}.00000028.backup`),
        '00000002.history',
      ].sort(),
    );
  });

  it('--keep N keeps the newest N backups and the WAL from the oldest kept one on', async () => {
    const f = fixture('retention-keep');
    const r = await run('retention.sh', ['--backups', f.backups, '--wal-archive', f.archive, '--keep', '2']);
    expect(r.code, r.stderr).toBe(0);
    expect(ls(f.backups)).toEqual([...f.stamps.slice(2), '.partial-new'].sort());
    expect(ls(f.archive)).toEqual(
      [...[6, 7, 8, 9].map(f.seg), ...[6, 8].map((n) => `${f.seg(n)}.00000028.backup`), '00000002.history'].sort(),
    );
  });
});

describe('restore-pitr.sh', () => {
  it('stops the server it started when recovery does not end in time, and exits 1', async () => {
    // Beside tmp, owned by the database's OS user: the scripts and the servers run as it when the test is root.
    const root = mkdtempSync(join(tmpdir(), 'backup-restore-'));
    fixtures.push(root);
    const archive = join(root, 'wal');
    mkdirSync(archive);
    if (process.getuid?.() === 0) execFileSync('chown', ['-R', 'postgres:postgres', root]);
    const pgdata = join(root, 'restored');
    const primary = await startPostgresCluster({
      settings: { archive_mode: 'on', archive_command: `${join(backupDir, 'archive-wal.sh')} "%p" "%f" ${archive}` },
    });
    try {
      await primary.psql('create table t (x int)');
      const base = ['--dest', join(root, 'base'), '--host', '127.0.0.1', '--port', String(primary.port)];
      const backed = await run('base-backup.sh', [...base, '--user', 'postgres']);
      expect(backed.code, backed.stderr).toBe(0);
      // A target after the backup with a commit after it in the archive: recovery reaches it, and then pauses there
      // (recovery_target_action = pause) instead of promoting, so the script's wait for the promotion times out.
      const target = await primary.psql('select clock_timestamp()');
      await primary.psql('insert into t values (1)');
      const segment = await primary.psql('select pg_walfile_name(pg_current_wal_lsn())');
      await primary.psql('select pg_switch_wal()');
      await waitFor(() => readdirSync(archive).includes(segment), { timeoutMs: 60_000, what: `${segment} archived` });

      const r = await run('restore-pitr.sh', [
        ...['--backup', backed.stdout.trim(), '--wal-archive', archive, '--target-time', target, '--pgdata', pgdata],
        ...['--port', String(await freePort()), '--listen', '127.0.0.1', '--set', 'recovery_target_action=pause'],
        ...['--timeout', '15'],
      ]);
      expect(r.code, r.stderr).toBe(1);
      // Under load pg_ctl's own wait may end first ("did not start"): the server is stopped all the same.
      expect(r.stderr).toMatch(/recovery did not finish in 15s|the server did not start/);
      expect(r.stderr).toMatch(/stopping the server of the failed restore/);
      expect(readdirSync(pgdata)).not.toContain('postmaster.pid');
    } finally {
      // Had the script left its server running, stop it by the pid in its postmaster.pid.
      const pid = Number(readFileSafe(join(pgdata, 'postmaster.pid')).split('\n')[0]);
      if (Number.isInteger(pid) && pid > 0 && readFileSafe(`/proc/${pid}/cmdline`).includes(pgdata)) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
      await primary.stop();
    }
  });
});

describe('kubernetes CronJob (kubectl kustomize deploy/backup)', () => {
  // biome-ignore lint/suspicious/noExplicitAny: rendered manifests are untyped YAML; each check names what it reads.
  type Obj = Record<string, any>;
  const objects = parseAllDocuments(
    execFileSync('kubectl', ['kustomize', backupDir], { encoding: 'utf8', maxBuffer: 16 * 1024 * 1024 }),
  ).map((d) => d.toJS() as Obj);
  type Model = new (data: Obj) => { validate(): void };
  // A module name computed at run time: the bundler leaves the import to Node.
  const modelModule = (apiVersion: string) => `kubernetes-models/${apiVersion}`;

  it('renders valid objects whose CronJob runs the packed scripts as a non-root user', async () => {
    for (const obj of objects) {
      const mod = (await import(modelModule(obj.apiVersion))) as Record<string, Model>;
      new (mod[obj.kind] as Model)(obj).validate();
    }
    const cron = objects.find((o) => o.kind === 'CronJob') as Obj;
    const pod = cron.spec.jobTemplate.spec.template.spec;
    expect(pod.securityContext.runAsNonRoot).toBe(true);
    const scripts = objects.find(
      (o) => o.kind === 'ConfigMap' && o.metadata.name.startsWith('postgres-backup-scripts'),
    );
    expect(pod.volumes.find((v: Obj) => v.name === 'scripts').configMap.name).toBe(scripts?.metadata.name);
    const command = pod.containers[0].args.join(' ') as string;
    for (const used of command.match(/[a-z-]+\.sh/g) ?? []) expect(Object.keys(scripts?.data ?? {})).toContain(used);
    expect(scripts?.data['base-backup.sh']).toBe(readFileSync(join(backupDir, 'base-backup.sh'), 'utf8'));
  });
});
