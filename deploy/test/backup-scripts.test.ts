// The backup scripts' own rules, on real files and programs: archive-wal.sh's no-overwrite rules (the PostgreSQL
// manual's), the command lines of every script, journal-backup.sh's cut of a line still being written, and the
// Kubernetes CronJob rendered by the real `kubectl kustomize` and checked against the kubernetes-models schemas.
import { execFile, execFileSync } from 'node:child_process';
import { appendFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { Journal } from '../../apps/trader/src/journal/journal.js';

const backupDir = fileURLToPath(new URL('../backup/', import.meta.url));
const tmp = mkdtempSync(join(tmpdir(), 'backup-scripts-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

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
  it('copies the complete entries of a journal whose last line is still being written, verified', async () => {
    const journalPath = join(tmp, 'data', 'journal.jsonl');
    const { journal } = Journal.open(journalPath, { fsync: 'never' });
    for (let i = 0; i < 20; i++) journal.append('test.event', { i });
    journal.close();
    appendFileSync(journalPath, '{"seq":21,"ts":1,"type":"te');

    const r = await run('journal-backup.sh', ['--data-dir', join(tmp, 'data'), '--dest', join(tmp, 'copies')]);
    expect(r.code, r.stderr).toBe(0);
    const [copy, stats] = r.stdout.trim().split('\n') as [string, string];
    expect(stats).toMatch(/^entries=20 last_seq=20 bytes=\d+$/);
    expect(r.stderr).toMatch(/cut a line still being written/);
    expect(Journal.read(copy)).toEqual(Journal.read(journalPath));
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
