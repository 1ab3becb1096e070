// One trader per data dir: two processes appending to one journal interleave their sequence numbers and destroy
// it (every later start fails on the first duplicate). The lock is a small JSON file naming its holder, so that a
// lock left behind by a crash can be recognised as stale and taken over without an operator.
import { createHash, randomBytes } from 'node:crypto';
import {
  closeSync,
  fstatSync,
  fsyncSync,
  linkSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { hostname as osHostname } from 'node:os';
import { join, resolve } from 'node:path';
import { TraderError } from '../errors.js';

/** Name of the lock file inside the data dir. */
export const DATA_DIR_LOCK_FILE = 'trader.lock';

/** What the lock file holds: who holds the data dir. */
export interface DataDirLockInfo {
  /** Process id of the holder. */
  pid: number;
  /** When the holder acquired the lock (ISO 8601). */
  startedAt: string;
  /** `os.hostname()` of the holder: a pid means nothing on another machine sharing the volume. */
  hostname: string;
  /**
   * Start time of the holder process in clock ticks since boot (`/proc/<pid>/stat` field 22), or `null` where
   * there is no /proc. A live pid with a different start time is another program that reused the pid.
   */
  startTime: number | null;
}

/** Options of {@link acquireDataDirLock}. */
export interface AcquireDataDirLockOptions {
  /** Clock for `startedAt` (epoch milliseconds). @default Date.now */
  now?: () => number;
  /**
   * Take over a lock held by a process on another host. Only safe when that process is known to be gone: this
   * host cannot check. @default false
   */
  force?: boolean;
}

/** A stale lock that {@link acquireDataDirLock} replaced. */
export interface DataDirLockTakeover {
  /** The previous holder's pid; absent when the file was empty or unparsable (torn by a crash). */
  pid?: number;
  /** Why the previous lock was stale, e.g. `pid 1234 is not running`. */
  reason: string;
}

/** A held data dir lock. */
export interface DataDirLock {
  /** Absolute path of the lock file. */
  readonly path: string;
  /** What this process wrote into the lock file. */
  readonly info: DataDirLockInfo;
  /** Set when a stale lock (dead holder, reused pid, torn file, or another host with `force`) was replaced. */
  readonly takenOver: DataDirLockTakeover | undefined;
  /** Removes the lock file if it still names this process; idempotent. */
  release(): void;
}

/**
 * How a lock file's holder looks from here: `live` (running on this host), `stale` (its pid is gone or now
 * belongs to another program), `other-host` (cannot be checked from here) or `torn` (empty or unparsable).
 */
export type DataDirLockState = 'live' | 'stale' | 'other-host' | 'torn';

/** What {@link readDataDirLock} found. */
export interface DataDirLockStatus {
  /** Absolute path of the lock file. */
  path: string;
  /** See {@link DataDirLockState}. */
  state: DataDirLockState;
  /** The parsed lock file; undefined when torn. */
  holder: DataDirLockInfo | undefined;
  /** One line for an operator, e.g. `pid 1234 is not running`. */
  reason: string;
}

// An unparsable lock file younger than this may be one being written by the non-link fallback of createExclusive.
const TORN_GRACE_MS = 500;
// Upper bound for waiting on another process's takeover of the same stale lock (it takes microseconds).
const ACQUIRE_DEADLINE_MS = 3000;

/** The fields of `/proc/<pid>/stat` the lock needs, or `null` when unreadable (no such process, no /proc). */
function readProcStat(pid: number): { state: string; startTime: number } | null {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  // Field 2 is the command name in parentheses and may itself hold spaces and parentheses: split after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const startTime = Number(fields[19]); // fields[0] is field 3, so field 22 is fields[19]
  return Number.isFinite(startTime) ? { state: fields[0] ?? '?', startTime } : null;
}

/**
 * The start time of process `pid` in clock ticks since boot (`/proc/<pid>/stat` field 22), or `null` when there
 * is no such process or no /proc (macOS, Windows). Together with the pid it names one process run: a pid can be
 * reused, the pair cannot (until the next boot).
 */
export function processStartTime(pid: number): number | null {
  return readProcStat(pid)?.startTime ?? null;
}

/** Whether `pid` exists (possibly as another user's process, which `kill(pid, 0)` reports as EPERM). */
function pidExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    // ESRCH is the only answer that proves absence; anything else errs on the side of "in use".
    return (e as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}

function parseInfo(raw: Buffer): DataDirLockInfo | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw.toString('utf8'));
  } catch {
    return undefined;
  }
  if (typeof parsed !== 'object' || parsed === null) return undefined;
  const p = parsed as Record<string, unknown>;
  // A pid of 0 or below would make kill(pid, 0) address a process group: such a file is garbage, not a holder.
  if (typeof p.pid !== 'number' || !Number.isSafeInteger(p.pid) || p.pid <= 0) return undefined;
  if (typeof p.hostname !== 'string') return undefined;
  return {
    pid: p.pid,
    startedAt: typeof p.startedAt === 'string' ? p.startedAt : '?',
    hostname: p.hostname,
    startTime: typeof p.startTime === 'number' ? p.startTime : null,
  };
}

/** Judges a lock file's holder; see {@link DataDirLockState}. */
function assess(info: DataDirLockInfo | undefined): { state: DataDirLockState; reason: string } {
  if (info === undefined) return { state: 'torn', reason: 'the lock file is empty or unparsable (torn by a crash)' };
  if (info.hostname !== osHostname()) {
    return { state: 'other-host', reason: `pid ${info.pid} on host ${info.hostname} cannot be checked from here` };
  }
  if (!pidExists(info.pid)) return { state: 'stale', reason: `pid ${info.pid} is not running` };
  const stat = readProcStat(info.pid);
  // A zombie has exited and only waits for its parent to collect the status; kill(pid, 0) still succeeds on it.
  if (stat !== null && (stat.state === 'Z' || stat.state === 'X' || stat.state === 'x')) {
    return { state: 'stale', reason: `pid ${info.pid} has exited` };
  }
  if (info.startTime !== null && stat !== null && stat.startTime !== info.startTime) {
    return {
      state: 'stale',
      reason: `pid ${info.pid} now belongs to another process (start time ${stat.startTime}, the lock says ${info.startTime})`,
    };
  }
  // Without a readable /proc entry (another OS, or /proc mounted with hidepid) kill(pid, 0) is all there is.
  return { state: 'live', reason: `pid ${info.pid} is running` };
}

/** A lock file as read at one moment: bytes and inode, so a later read can tell whether it was replaced. */
interface Snapshot {
  raw: Buffer;
  ino: number;
  mtimeMs: number;
  info: DataDirLockInfo | undefined;
}

function snapshot(path: string): Snapshot | undefined {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
  try {
    // Read through one descriptor so the bytes and the inode belong to the same file even if it is renamed over.
    const raw = readFileSync(fd);
    const st = fstatSync(fd);
    return { raw, ino: st.ino, mtimeMs: st.mtimeMs, info: parseInfo(raw) };
  } finally {
    closeSync(fd);
  }
}

function unlinkQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // Already gone, which is all we wanted.
  }
}

/** Writes `content` to a fresh uniquely named file next to `path`, fsynced, and returns its name. */
function writeTemp(path: string, content: string): string {
  const tmp = `${path}.${process.pid}-${randomBytes(4).toString('hex')}.tmp`;
  const fd = openSync(tmp, 'wx');
  try {
    writeSync(fd, content);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  return tmp;
}

/**
 * Creates `path` holding `content` unless it exists; true when created. A hard link of a complete temp file makes
 * the file appear with its content in one step, so nobody ever sees it empty; filesystems without hard links fall
 * back to `open(wx)` + write, whose short empty window the {@link TORN_GRACE_MS} wait covers.
 */
function createExclusive(path: string, content: string): boolean {
  const tmp = writeTemp(path, content);
  try {
    linkSync(tmp, path);
    return true;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') return false;
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP' && code !== 'ENOSYS') throw e;
  } finally {
    unlinkQuietly(tmp);
  }
  let fd: number;
  try {
    fd = openSync(path, 'wx');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw e;
  }
  try {
    writeSync(fd, content);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  return true;
}

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

function describe(info: DataDirLockInfo): string {
  return `pid ${info.pid} (started ${info.startedAt})`;
}

function lockedError(message: string): TraderError {
  return new TraderError('E_TRADER_DATA_DIR_LOCKED', message, { field: 'dataDir' });
}

/**
 * Replaces the stale lock `stale` at `path` with `content`. Renaming over the file is not a compare-and-swap: two
 * processes that both judged the same file stale could each rename and each read back their own content in turn.
 * So the replacement runs under an exclusive marker named after the stale file's inode and bytes: only one process
 * gets the marker for a given stale file, and it re-reads the lock under the marker to make sure it is still that
 * file. A racer that gets the marker after the winner removed it finds the winner's lock instead and backs off.
 */
function takeOver(path: string, stale: Snapshot, content: string): 'won' | 'changed' | 'busy' {
  const key = createHash('sha256').update(String(stale.ino)).update(stale.raw).digest('hex').slice(0, 16);
  const marker = `${path}.takeover-${key}`;
  if (!createExclusive(marker, content)) {
    const holder = snapshot(marker);
    if (holder === undefined) return 'busy';
    const { state } = assess(holder.info);
    const old = Date.now() - holder.mtimeMs > TORN_GRACE_MS;
    if (state === 'stale' || (state === 'torn' && old)) {
      // The marker's creator died inside the few microseconds of the takeover. Removing the marker automatically
      // would bring back the very race it prevents, and this is rare enough to hand to the operator.
      throw lockedError(
        `${path} is stale, but an interrupted takeover left ${marker}${holder.info ? ` (${describe(holder.info)} is gone)` : ''}; make sure no trader is running on this data dir, delete both files, and start again`,
      );
    }
    return 'busy';
  }
  try {
    const current = snapshot(path);
    if (current === undefined || current.ino !== stale.ino || !current.raw.equals(stale.raw)) return 'changed';
    const tmp = writeTemp(path, content);
    try {
      renameSync(tmp, path);
    } catch (e) {
      unlinkQuietly(tmp);
      throw e;
    }
    // Defence in depth: under the marker nobody else may replace the file, so this only fails if someone removed
    // the marker by hand or forced a takeover from another host at this very moment.
    const mine = snapshot(path);
    return mine?.raw.equals(Buffer.from(content)) ? 'won' : 'changed';
  } finally {
    unlinkQuietly(marker);
  }
}

/**
 * Tells who holds the lock of `dataDir` and whether that holder is still there, without changing anything
 * (diagnostics, `trader journal verify`). Undefined when there is no lock file.
 */
export function readDataDirLock(dataDir: string): DataDirLockStatus | undefined {
  const path = join(resolve(dataDir), DATA_DIR_LOCK_FILE);
  const snap = snapshot(path);
  if (snap === undefined) return undefined;
  return { path, holder: snap.info, ...assess(snap.info) };
}

/**
 * Takes the lock of `dataDir` (creating the directory): `<dataDir>/trader.lock`, holding a {@link DataDirLockInfo}
 * for this process. A lock held by a live process on this host, or by any process on another host (unless
 * `force`), throws a `TraderError` `E_TRADER_DATA_DIR_LOCKED` naming the holder. A stale lock (dead holder, pid
 * reused by another program, empty or unparsable file) is taken over, and `takenOver` says from whom. Call
 * {@link DataDirLock.release} on shutdown; after a crash the next start takes the stale lock over.
 */
export function acquireDataDirLock(dataDir: string, options: AcquireDataDirLockOptions = {}): DataDirLock {
  const dir = resolve(dataDir);
  mkdirSync(dir, { recursive: true });
  const path = join(dir, DATA_DIR_LOCK_FILE);
  const info: DataDirLockInfo = {
    pid: process.pid,
    startedAt: new Date((options.now ?? Date.now)()).toISOString(),
    hostname: osHostname(),
    startTime: processStartTime(process.pid),
  };
  const content = `${JSON.stringify(info)}\n`;
  const deadline = Date.now() + ACQUIRE_DEADLINE_MS;
  for (;;) {
    if (createExclusive(path, content)) return heldLock(path, info, undefined);
    const current = snapshot(path);
    if (current === undefined && Date.now() <= deadline) continue; // released between our attempt and the read
    if (current === undefined) throw lockedError(`data dir ${dir}: ${path} keeps appearing and disappearing`);
    const { state, reason } = assess(current.info);
    const holder = current.info;
    if (state === 'live' && holder) {
      const self = holder.pid === process.pid ? ', this very process' : '';
      throw lockedError(
        `data dir ${dir} is in use by pid ${holder.pid} (started ${holder.startedAt}${self}); stop that process first, or use another --data-dir`,
      );
    }
    if (state === 'other-host' && holder && !options.force) {
      throw lockedError(
        `data dir ${dir} is locked by pid ${holder.pid} on host ${holder.hostname} (started ${holder.startedAt}), which this host (${osHostname()}) cannot check; stop that process first, or, if it is certainly gone, delete ${path}`,
      );
    }
    let outcome: 'won' | 'changed' | 'busy' | 'young' = 'young';
    if (state !== 'torn' || Date.now() - current.mtimeMs > TORN_GRACE_MS) outcome = takeOver(path, current, content);
    if (outcome === 'won') {
      const why = state === 'other-host' ? `${reason}; taken over with force` : reason;
      return heldLock(path, info, { ...(holder ? { pid: holder.pid } : {}), reason: why });
    }
    if (Date.now() > deadline) {
      throw lockedError(`data dir ${dir}: could not take over the stale lock ${path} (${reason}): it kept changing`);
    }
    // 'changed' means another process replaced the file: look at the new holder at once. 'busy' (another process
    // is taking over the same stale lock) and 'young' (an empty file maybe being written) need a moment.
    if (outcome !== 'changed') sleepSync(10);
  }
}

function heldLock(path: string, info: DataDirLockInfo, takenOver: DataDirLockTakeover | undefined): DataDirLock {
  let released = false;
  return {
    path,
    info,
    takenOver,
    release(): void {
      if (released) return;
      released = true;
      // Only remove a file that still names us: if another process took the lock over (it judged us dead, or a
      // forced takeover from another host), deleting its file would let a third process in beside it.
      const current = snapshot(path);
      if (current?.info?.pid === info.pid && current.info.hostname === info.hostname) unlinkQuietly(path);
    },
  };
}
