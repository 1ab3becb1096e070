import { type ChildProcess, spawn } from 'node:child_process';
import { readdirSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { runJournalCommand } from '../../src/cli/journal-command.js';
import { isTraderError } from '../../src/errors.js';
import {
  acquireDataDirLock,
  DATA_DIR_LOCK_FILE,
  type DataDirLockInfo,
  processStartTime,
  readDataDirLock,
} from '../../src/journal/data-dir-lock.js';
import { tempDirs } from '../temp-dir.js';

const appDir = fileURLToPath(new URL('../../', import.meta.url));
const lockModule = pathToFileURL(join(appDir, 'src/journal/data-dir-lock.ts')).href;
const tmp = tempDirs('trader-lock-');

/** What a lock-holder child printed: whether it got the lock, and the error if not. */
interface HolderResult {
  pid: number;
  won: boolean;
  takenOver?: { pid?: number; reason: string } | null;
  code?: string;
  message?: string;
}

/**
 * Starts a separate process that takes the lock of `dataDir` (at `goAt`, so that racers start together), prints
 * the outcome as one JSON line, and then stays alive holding it until it is killed.
 */
function spawnHolder(dataDir: string, goAt = 0): { child: ChildProcess; result: Promise<HolderResult> } {
  const code = `
    import { acquireDataDirLock } from ${JSON.stringify(lockModule)};
    const goAt = Number(process.env.GO_AT);
    while (Date.now() < goAt) {} // busy-wait: a timer would blur the start by milliseconds
    let result;
    try {
      const lock = acquireDataDirLock(process.env.LOCK_DIR);
      result = { pid: process.pid, won: true, takenOver: lock.takenOver ?? null };
    } catch (e) {
      result = { pid: process.pid, won: false, code: e.code, message: e.message };
    }
    console.log(JSON.stringify(result));
    setInterval(() => {}, 60_000);
  `;
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], {
    cwd: appDir,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, LOCK_DIR: dataDir, GO_AT: String(goAt) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stderr?.on('data', (d) => {
    err += String(d);
  });
  const result = new Promise<HolderResult>((resolve, reject) => {
    child.stdout?.on('data', (d) => {
      out += String(d);
      const nl = out.indexOf('\n');
      if (nl >= 0) resolve(JSON.parse(out.slice(0, nl)) as HolderResult);
    });
    child.once('exit', (code) => reject(new Error(`holder exited (${code}) before reporting: ${err}`)));
  });
  return { child, result };
}

/** Kills a child by its pid and waits until it is gone (reaped, so no zombie keeps the pid "alive"). */
async function kill(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  try {
    process.kill(child.pid, 'SIGKILL');
  } catch {
    // Already gone.
  }
  await exited;
}

/** The pid of a process that has just exited: a dead holder. */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', ''], { stdio: 'ignore' });
  await new Promise((resolve) => child.once('exit', resolve));
  return child.pid as number;
}

function writeLock(dir: string, info: Partial<DataDirLockInfo>): void {
  const full = { pid: 1, startedAt: '2026-01-01T00:00:00.000Z', hostname: hostname(), startTime: null, ...info };
  writeFileSync(join(dir, DATA_DIR_LOCK_FILE), JSON.stringify(full));
}

function lockedError(fn: () => unknown): Error & { code?: string } {
  try {
    fn();
  } catch (e) {
    expect(isTraderError(e) && e.code).toBe('E_TRADER_DATA_DIR_LOCKED');
    return e as Error & { code?: string };
  }
  throw new Error('expected E_TRADER_DATA_DIR_LOCKED');
}

describe('data dir lock across processes', () => {
  it('refuses while a live process holds it, and takes it over once that process was killed', async () => {
    const dir = tmp();
    const holder = spawnHolder(dir);
    try {
      const got = await holder.result;
      expect(got).toMatchObject({ pid: holder.child.pid, won: true, takenOver: null });
      const status = readDataDirLock(dir);
      expect(status).toMatchObject({ state: 'live', holder: { pid: got.pid, hostname: hostname() } });
      expect(status?.holder?.startTime).toBe(processStartTime(got.pid));
      expect(status?.holder?.startTime).toEqual(expect.any(Number));

      const refused = lockedError(() => acquireDataDirLock(dir));
      expect(refused.message).toContain(`data dir ${dir} is in use by pid ${got.pid}`);
      expect(refused.message).toContain('stop that process first, or use another --data-dir');
    } finally {
      await kill(holder.child);
    }
    expect(readDataDirLock(dir)).toMatchObject({ state: 'stale', reason: `pid ${holder.child.pid} is not running` });
    const lock = acquireDataDirLock(dir, { now: () => Date.parse('2026-05-01T00:00:00Z') });
    expect(lock.takenOver).toEqual({ pid: holder.child.pid, reason: `pid ${holder.child.pid} is not running` });
    const onDisk = JSON.parse(readFileSync(lock.path, 'utf8')) as DataDirLockInfo;
    expect(onDisk).toEqual({
      pid: process.pid,
      startedAt: '2026-05-01T00:00:00.000Z',
      hostname: hostname(),
      startTime: processStartTime(process.pid),
    });
    expect(lock.info).toEqual(onDisk);
    // The same process cannot hold it twice either (two apps in one process would interleave just the same).
    expect(lockedError(() => acquireDataDirLock(dir)).message).toContain(`pid ${process.pid}`);
    lock.release();
    lock.release();
    expect(readdirSync(dir)).toEqual([]);
  });

  it('treats a live pid whose start time differs as a reused pid, i.e. a stale lock', () => {
    const dir = tmp();
    const ppid = process.ppid;
    const startTime = processStartTime(ppid) as number;
    expect(startTime).toEqual(expect.any(Number));
    writeLock(dir, { pid: ppid, startTime });
    expect(lockedError(() => acquireDataDirLock(dir)).message).toContain(`in use by pid ${ppid}`);

    writeLock(dir, { pid: ppid, startTime: startTime + 1 });
    expect(readDataDirLock(dir)?.state).toBe('stale');
    const lock = acquireDataDirLock(dir);
    expect(lock.takenOver?.pid).toBe(ppid);
    expect(lock.takenOver?.reason).toContain(`pid ${ppid} now belongs to another process`);
    lock.release();
  });

  it('takes over an empty or unparsable lock file (torn by a crash), after a short grace for a fresh one', () => {
    const dir = tmp();
    const path = join(dir, DATA_DIR_LOCK_FILE);
    const past = new Date(Date.now() - 60_000);
    for (const content of ['', '{"pid":12', 'null', '{"pid":-1,"hostname":"x"}']) {
      writeFileSync(path, content);
      utimesSync(path, past, past);
      expect(readDataDirLock(dir)).toMatchObject({ state: 'torn', holder: undefined });
      const lock = acquireDataDirLock(dir);
      expect(lock.takenOver).toEqual({ reason: 'the lock file is empty or unparsable (torn by a crash)' });
      lock.release();
    }
    // A fresh empty file may be one another process is writing right now: it is only taken over after a moment.
    writeFileSync(path, '');
    const started = Date.now();
    const lock = acquireDataDirLock(dir);
    expect(Date.now() - started).toBeGreaterThanOrEqual(400);
    expect(lock.takenOver?.pid).toBeUndefined();
    lock.release();
    expect(readdirSync(dir)).toEqual([]);
  });

  it('lets exactly one of two processes racing to take over the same stale lock win', async () => {
    const dir = tmp();
    const dead = await deadPid();
    for (let round = 0; round < 3; round++) {
      writeLock(dir, { pid: dead, startTime: 1 });
      const goAt = Date.now() + 1500;
      const racers = [spawnHolder(dir, goAt), spawnHolder(dir, goAt)];
      try {
        const results = await Promise.all(racers.map((r) => r.result));
        const winners = results.filter((r) => r.won);
        expect(winners, JSON.stringify(results)).toHaveLength(1);
        const [winner] = winners as [HolderResult];
        const loser = results.find((r) => !r.won) as HolderResult;
        expect(winner.takenOver).toEqual({ pid: dead, reason: `pid ${dead} is not running` });
        expect(loser.code).toBe('E_TRADER_DATA_DIR_LOCKED');
        expect(loser.message).toContain(`in use by pid ${winner.pid}`);
        expect(readDataDirLock(dir)).toMatchObject({ state: 'live', holder: { pid: winner.pid } });
        // No marker or temp file is left behind, only the winner's lock.
        expect(readdirSync(dir)).toEqual([DATA_DIR_LOCK_FILE]);
      } finally {
        for (const r of racers) await kill(r.child);
      }
    }
  });

  it('refuses a lock held on another host, naming it, unless forced', () => {
    const dir = tmp();
    writeLock(dir, { pid: process.pid, hostname: 'trader-box-2', startTime: 5 });
    expect(readDataDirLock(dir)?.state).toBe('other-host');
    const refused = lockedError(() => acquireDataDirLock(dir));
    expect(refused.message).toContain(`locked by pid ${process.pid} on host trader-box-2`);
    expect(refused.message).toContain(`delete ${join(dir, DATA_DIR_LOCK_FILE)}`);
    const lock = acquireDataDirLock(dir, { force: true });
    expect(lock.takenOver?.pid).toBe(process.pid);
    expect(lock.takenOver?.reason).toContain('taken over with force');
    lock.release();
  });

  it('leaves a lock alone on release when another process has taken it over meanwhile', async () => {
    const dir = tmp();
    const lock = acquireDataDirLock(dir);
    const dead = await deadPid();
    writeLock(dir, { pid: dead });
    lock.release();
    expect(JSON.parse(readFileSync(lock.path, 'utf8')).pid).toBe(dead);
  });
});

describe('trader journal repair and the data dir lock', () => {
  it('refuses to cut the journal while a live process holds the data dir, and repairs once it is gone', async () => {
    const dir = tmp();
    const journal = join(dir, 'journal.jsonl');
    const entry = (seq: number) => `${JSON.stringify({ seq, ts: 1, type: 'x', data: {} })}\n`;
    const broken = entry(1) + entry(2) + entry(2) + entry(3);
    writeFileSync(journal, broken);
    const lines: string[] = [];
    const io = { out: (l: string) => lines.push(l), err: (l: string) => lines.push(`ERR ${l}`) };
    const holder = spawnHolder(dir);
    try {
      const got = await holder.result;
      expect(got.won).toBe(true);
      expect(await runJournalCommand(['repair', '--data-dir', dir, '--yes'], io)).toBe(1);
      expect(lines.join('\n')).toContain(`ERR journal repair: refused: data dir ${dir} is in use by pid ${got.pid}`);
      expect(readFileSync(journal, 'utf8')).toBe(broken);
      expect(readdirSync(dir).sort()).toEqual(['journal.jsonl', DATA_DIR_LOCK_FILE]);
      // verify only reads, so it runs, and says who is running there.
      lines.length = 0;
      expect(await runJournalCommand(['verify', '--journal', journal], io)).toBe(1);
      expect(lines.join('\n')).toContain(`note: pid ${got.pid} is running on this data dir`);
    } finally {
      await kill(holder.child);
    }
    lines.length = 0;
    expect(await runJournalCommand(['repair', '--data-dir', dir, '--yes'], io)).toBe(0);
    const output = lines.join('\n');
    expect(output).toContain(`took over a stale lock of ${dir} (pid ${holder.child.pid} is not running)`);
    expect(output).toContain('kept 2 entries, cut 2 lines');
    expect(readFileSync(journal, 'utf8')).toBe(entry(1) + entry(2));
    // The repair released the lock: only the journal and its backup are left.
    const files = readdirSync(dir).sort();
    expect(files).toHaveLength(2);
    expect(files[1]).toMatch(/^journal\.jsonl\.broken-\d{8}T\d{6}\.\d{3}Z$/);
  });
});
