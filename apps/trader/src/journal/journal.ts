import {
  closeSync,
  fdatasyncSync,
  fstatSync,
  fsyncSync,
  ftruncateSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  renameSync,
  rmSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { isTraderError, TraderError } from '../errors.js';

/** One journaled state change. */
export interface JournalEntry<T = unknown> {
  /** 1, 2, 3, ... without holes. */
  seq: number;
  /** Wall-clock epoch milliseconds when written. */
  ts: number;
  type: string;
  data: T;
}

/** Options of {@link Journal.open}. */
export interface JournalOptions {
  /** When to fsync: after every append, on an interval, or never (the OS decides). @default 'interval' */
  fsync?: 'always' | 'interval' | 'never';
  /** Interval for `fsync: 'interval'`. @default 100 */
  fsyncIntervalMs?: number;
  /**
   * {@link Journal.rotationDue} turns true once the current segment holds this many bytes; the owner then calls
   * {@link Journal.rotate} and appends a snapshot. 0: never. @default 0
   */
  segmentBytes?: number;
  /**
   * Archived segments kept by {@link Journal.prune}: older ones are deleted once `durableSeq` covers them. 0: keep
   * all. @default 0
   */
  retainSegments?: number;
  /** The highest sequence durable elsewhere (PostgreSQL); segments past it are never deleted. @default () => 0 */
  durableSeq?: () => number;
}

/** The entry type that begins a segment with the state of everything before it (see {@link Journal.rotate}). */
export const SNAPSHOT_ENTRY = 'journal.snapshot';

/** An archived segment of a journal: `<path>.<first seq>-<last seq>`, both zero-padded to 12 digits. */
export interface JournalSegment {
  path: string;
  firstSeq: number;
  lastSeq: number;
}

const pad = (n: number) => String(n).padStart(12, '0');

/** The archived segments of the journal at `path`, oldest first (the current segment, `path` itself, not included). */
export function listSegments(path: string): JournalSegment[] {
  const dir = dirname(path);
  const prefix = `${basename(path)}.`;
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
  const out: JournalSegment[] = [];
  for (const name of names) {
    if (!name.startsWith(prefix)) continue;
    const m = /^(\d{12})-(\d{12})$/.exec(name.slice(prefix.length));
    if (m === null) continue;
    out.push({ path: join(dir, name), firstSeq: Number(m[1]), lastSeq: Number(m[2]) });
  }
  return out.sort((a, b) => a.firstSeq - b.firstSeq);
}

/** fsync of a directory (a rename or a new file in it is durable); a no-op where the platform cannot. */
export function fsyncDir(dir: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(dir, 'r');
    fsyncSync(fd);
  } catch {
    // Not every platform can fsync a directory.
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

function readText(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code === 'ENOENT') return '';
    throw new TraderError('E_TRADER_JOURNAL', `cannot read ${path}`, { cause });
  }
}

/** The first line of a file (without reading the rest of a large segment); '' when there is none. */
function firstLine(path: string): string {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code === 'ENOENT') return '';
    throw new TraderError('E_TRADER_JOURNAL', `cannot read ${path}`, { cause });
  }
  try {
    const chunks: Buffer[] = [];
    for (let pos = 0; ; ) {
      const buf = Buffer.alloc(65_536);
      const n = readSync(fd, buf, 0, buf.length, pos);
      if (n === 0) break;
      const nl = buf.subarray(0, n).indexOf(10);
      chunks.push(buf.subarray(0, nl < 0 ? n : nl));
      if (nl >= 0) break;
      pos += n;
    }
    return Buffer.concat(chunks).toString('utf8');
  } finally {
    closeSync(fd);
  }
}

/**
 * The entries a start replays: from the last segment that begins with a snapshot entry to the end (the current
 * segment's entries are given). Without rotation, or before the first, that is the whole journal.
 */
function replayFrom(current: JournalEntry[], segments: readonly JournalSegment[]): JournalEntry[] {
  let entries = current;
  for (let i = segments.length - 1; i >= 0 && entries[0]?.type !== SNAPSHOT_ENTRY; i--) {
    const seg = segments[i] as JournalSegment;
    const older = parseJournal(readText(seg.path), seg.path).entries;
    const first = entries[0];
    const last = older[older.length - 1];
    if (first !== undefined && last !== undefined && last.seq + 1 !== first.seq)
      throw new TraderError(
        'E_TRADER_JOURNAL',
        `${seg.path}: ends at entry ${last.seq}, the next segment begins at ${first.seq}`,
        { field: 'journal' },
      );
    entries = older.concat(entries);
  }
  return entries;
}

/** What {@link Journal.open} found in an existing file. */
export interface JournalRecovery {
  /**
   * Entries to replay, in order: from the last snapshot entry on (segmented journal), else every entry. The first
   * may be a {@link SNAPSHOT_ENTRY}.
   */
  entries: JournalEntry[];
  /** Archived segments beside the current one (not replayed when a later segment begins with a snapshot). */
  segments: number;
  /** Bytes of a torn last line cut off (0 when the file ended cleanly). */
  truncatedBytes: number;
}

/** Parses journal text; a torn (unterminated or unparsable) last line is reported, any other bad line throws. */
export function parseJournal(text: string, path = 'journal'): { entries: JournalEntry[]; validBytes: number } {
  const entries: JournalEntry[] = [];
  let offset = 0;
  let validBytes = 0;
  while (offset < text.length) {
    const nl = text.indexOf('\n', offset);
    const last = nl < 0;
    const line = text.slice(offset, last ? text.length : nl);
    const next = last ? text.length : nl + 1;
    let entry: JournalEntry | undefined;
    try {
      const parsed = JSON.parse(line) as JournalEntry;
      if (typeof parsed.seq === 'number' && typeof parsed.type === 'string') entry = parsed;
    } catch {
      entry = undefined;
    }
    if (entry === undefined || last) {
      // Only the final line may be torn: a crash mid-write leaves it unterminated or cut.
      const isFinal = last || next >= text.length;
      if (isFinal && (entry === undefined || last)) break;
      // validBytes, not offset: offset counts UTF-16 code units, the operator's tools (and journal verify) count bytes.
      throw new TraderError('E_TRADER_JOURNAL', `${path}: corrupt line ${entries.length + 1} at byte ${validBytes}`, {
        field: 'journal',
      });
    }
    const expected = entries.length === 0 ? entry.seq : (entries[entries.length - 1] as JournalEntry).seq + 1;
    if (entry.seq !== expected) {
      throw new TraderError(
        'E_TRADER_JOURNAL',
        `${path}: sequence ${entry.seq} where ${expected} was expected (line ${entries.length + 1}, byte ${validBytes})`,
        { field: 'journal' },
      );
    }
    entries.push(entry);
    offset = next;
    validBytes += Buffer.byteLength(line) + 1;
  }
  return { entries, validBytes };
}

/** `<seq>@<ISO time> (<type>)` of an entry: how a journal is told apart from another (see {@link Journal.origin}). */
export function originOf(entry: JournalEntry | undefined): string | undefined {
  return entry === undefined ? undefined : `${entry.seq}@${new Date(entry.ts).toISOString()} (${entry.type})`;
}

/**
 * Cuts a (segmented) journal after the entry `keepSeq`, keeping the cut lines in `<path>.uncommitted-<time>`; an
 * archived segment that holds `keepSeq` becomes the current one again. Returns the number of entries cut. The
 * journal must be closed.
 */
export function cutJournalAfter(path: string, keepSeq: number, now = Date.now()): number {
  const cutLines: Buffer[] = [];
  let cut = 0;
  const countLines = (b: Buffer) => {
    for (const x of b) if (x === 10) cut++;
  };
  for (;;) {
    const current = parseJournal(readText(path), path).entries;
    const first = current[0]?.seq;
    const seg = listSegments(path).at(-1);
    if (first !== undefined && first <= keepSeq + 1) break;
    if (first === undefined && (seg === undefined || seg.lastSeq <= keepSeq)) break;
    // The whole current segment is beyond keepSeq: set it aside and continue in the archived one before it.
    const whole = Buffer.from(readText(path));
    cutLines.unshift(whole);
    countLines(whole);
    if (seg === undefined) {
      writeFileSync(path, '');
      break;
    }
    renameSync(seg.path, path);
  }
  const text = readFileSync(path);
  let bytes = 0;
  const entries = parseJournal(text.toString('utf8'), path).entries;
  for (const e of entries) {
    if (e.seq > keepSeq) break;
    bytes = text.indexOf(10, bytes) + 1;
  }
  const tail = text.subarray(bytes);
  countLines(tail);
  cutLines.unshift(tail);
  const all = Buffer.concat(cutLines);
  if (all.length > 0) writeFileSync(`${path}.uncommitted-${now}`, all);
  const fd = openSync(path, 'r+');
  try {
    ftruncateSync(fd, bytes);
    fdatasyncSync(fd);
  } finally {
    closeSync(fd);
  }
  fsyncDir(dirname(path));
  return cut;
}

/** Why the last append failed, and since when appends fail (cleared by the next successful append). */
export interface JournalFailure {
  /** Epoch ms of the first failed append of this run of failures. */
  since: number;
  /** The error, e.g. `ENOSPC: no space left on device, write`. */
  reason: string;
  /** The errno code when there is one (`ENOSPC`, `EIO`, ...). */
  errno: string | undefined;
}

/**
 * True for the error {@link Journal.append} throws when the file refused the entry (disk full, I/O error). The
 * journal is left at its last complete entry, so the same append can be retried.
 */
export function isJournalWriteError(e: unknown): boolean {
  return isTraderError(e) && e.code === 'E_TRADER_JOURNAL' && e.field === 'journal.append';
}

/**
 * The error `Journal.open` throws for a journal it cannot replay. This is what a failed start prints, so it says
 * how to get out: verify shows the first broken entry, repair cuts the journal there and keeps a backup.
 */
function damaged(path: string, e: TraderError): TraderError {
  return new TraderError(
    'E_TRADER_JOURNAL',
    `${e.message}. The journal is damaged (two processes writing to it at once do this): run \`trader journal verify --journal ${path}\` to see the first broken entry, then \`trader journal repair --journal ${path}\` to cut the journal there (it keeps a backup of the whole file)`,
    { field: 'journal', cause: e },
  );
}

/**
 * An append-only journal: one JSON line per state-changing event with a gapless sequence number, written
 * synchronously (so an event is on its way to disk before it is applied), fsynced per policy. Opening an
 * existing file returns its entries for replay and cuts off a torn last line.
 */
export class Journal {
  private fd: number;
  private seq: number;
  /** Bytes of complete entries: a failed append truncates the file back to this. */
  private size: number;
  private failed: JournalFailure | undefined;
  private dirty = false;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  /** Appends since open. */
  appended = 0;
  /** fsync calls since open. */
  syncs = 0;
  /** Segments rotated since open; archived segments deleted by {@link prune} since open. */
  rotations = 0;
  pruned = 0;
  private readonly policy: 'always' | 'interval' | 'never';
  private readonly segmentBytes: number;
  private readonly retainSegments: number;
  /** Sequence of the current segment's first entry (undefined while it is empty). */
  private firstSeq: number | undefined;
  /** Bytes of the current segment's snapshot entry: not counted towards `segmentBytes` (a big state never rotates every entry). */
  private headBytes = 0;
  /** The highest sequence durable elsewhere (PostgreSQL): segments past it are kept. Settable once wired. */
  durableSeq: () => number;

  private constructor(
    readonly path: string,
    fd: number,
    lastSeq: number,
    size: number,
    firstSeq: number | undefined,
    options: JournalOptions,
  ) {
    this.fd = fd;
    this.seq = lastSeq;
    this.size = size;
    this.firstSeq = firstSeq;
    this.segmentBytes = options.segmentBytes ?? 0;
    this.retainSegments = options.retainSegments ?? 0;
    this.durableSeq = options.durableSeq ?? (() => 0);
    if (!Number.isSafeInteger(this.segmentBytes) || this.segmentBytes < 0)
      throw new TraderError('E_TRADER_INVALID_OPTION', 'segmentBytes must be an integer >= 0', {
        field: 'segmentBytes',
      });
    if (!Number.isSafeInteger(this.retainSegments) || this.retainSegments < 0)
      throw new TraderError('E_TRADER_INVALID_OPTION', 'retainSegments must be an integer >= 0', {
        field: 'retainSegments',
      });
    this.policy = options.fsync ?? 'interval';
    if (!['always', 'interval', 'never'].includes(this.policy)) {
      throw new TraderError('E_TRADER_INVALID_OPTION', `fsync must be always, interval or never`, { field: 'fsync' });
    }
    if (this.policy === 'interval') {
      const ms = options.fsyncIntervalMs ?? 100;
      this.timer = setInterval(() => this.sync(), ms);
      this.timer.unref();
    }
  }

  /**
   * Opens (creating if needed) the journal at `path`, recovering the entries a start replays: the current segment
   * from its snapshot entry on, or, when it does not begin with one (a journal from before rotation, a crash between
   * a rotation and its snapshot), the archived segments back to the last one that does (or the first). A single-file
   * journal from before segments is simply the first segment.
   */
  static open(path: string, options: JournalOptions = {}): { journal: Journal; recovery: JournalRecovery } {
    mkdirSync(dirname(path), { recursive: true });
    const fd = openSync(path, 'a+');
    try {
      const text = readFileSync(path, 'utf8');
      const { entries, validBytes } = parseJournal(text, path);
      const size = fstatSync(fd).size;
      const truncatedBytes = size - validBytes;
      if (truncatedBytes > 0) {
        // Shrinking a file needs no free space: this works on a full disk too.
        ftruncateSync(fd, validBytes);
        fdatasyncSync(fd);
      }
      const segments = listSegments(path);
      const replay = replayFrom(entries, segments);
      const lastSeq =
        entries.length > 0 ? (entries[entries.length - 1] as JournalEntry).seq : (segments.at(-1)?.lastSeq ?? 0);
      const journal = new Journal(path, fd, lastSeq, validBytes, entries[0]?.seq, options);
      if (entries[0]?.type === SNAPSHOT_ENTRY) journal.headBytes = Buffer.byteLength(`${JSON.stringify(entries[0])}\n`);
      return { journal, recovery: { entries: replay, truncatedBytes, segments: segments.length } };
    } catch (e) {
      closeSync(fd);
      throw isTraderError(e) && e.code === 'E_TRADER_JOURNAL' ? damaged(path, e) : e;
    }
  }

  /**
   * Reads the entries with `seq > afterSeq` (catch-up of downstream writers), across the archived segments still
   * kept and the current one.
   */
  static read(path: string, afterSeq = 0): JournalEntry[] {
    const out: JournalEntry[] = [];
    for (const seg of listSegments(path)) {
      if (seg.lastSeq <= afterSeq) continue;
      for (const e of parseJournal(readText(seg.path), seg.path).entries) if (e.seq > afterSeq) out.push(e);
    }
    for (const e of parseJournal(readText(path), path).entries) if (e.seq > afterSeq) out.push(e);
    return out;
  }

  /**
   * The journal's identity: {@link originOf} its very first entry, also once the segment holding it was
   * deleted (snapshot entries carry it on). Undefined for an empty journal.
   */
  static origin(path: string): string | undefined {
    const first = listSegments(path)[0]?.path ?? path;
    const entry = parseJournal(`${firstLine(first)}\n`, first).entries[0];
    if (entry === undefined) return undefined;
    if (entry.type === SNAPSHOT_ENTRY) {
      const origin = (entry.data as { origin?: unknown }).origin;
      if (typeof origin === 'string') return origin;
    }
    return originOf(entry);
  }

  /** True once the current segment holds `segmentBytes` (and at least one entry): time to {@link rotate}. */
  get rotationDue(): boolean {
    return this.segmentBytes > 0 && this.size - this.headBytes >= this.segmentBytes && !this.closed;
  }

  /**
   * Starts a new segment: the current file is synced and renamed to `<path>.<first>-<last>`, and an empty one takes
   * its place. The caller appends the snapshot entry next (the first entry of the new segment); a crash before it
   * is harmless, {@link open} then replays from the archived segments. Then archived segments beyond
   * `retainSegments` and durable elsewhere are deleted ({@link prune}). Does nothing for an empty segment.
   * @throws TraderError `E_TRADER_JOURNAL` (field `journal.rotate`) when the file cannot be renamed or reopened;
   * appends then go on to the segment they went to before.
   */
  rotate(): boolean {
    if (this.closed || this.firstSeq === undefined) return false;
    const archived = `${this.path}.${pad(this.firstSeq)}-${pad(this.seq)}`;
    try {
      this.fsyncNow();
      renameSync(this.path, archived);
    } catch (cause) {
      throw new TraderError('E_TRADER_JOURNAL', `cannot rotate ${this.path}: ${(cause as Error).message}`, {
        field: 'journal.rotate',
        cause,
      });
    }
    let fd: number;
    try {
      fd = openSync(this.path, 'a+');
    } catch (cause) {
      // Back to the segment appends went to: nothing was lost, the rotation comes again later.
      renameSync(archived, this.path);
      throw new TraderError('E_TRADER_JOURNAL', `cannot start a segment at ${this.path}: ${(cause as Error).message}`, {
        field: 'journal.rotate',
        cause,
      });
    }
    closeSync(this.fd);
    this.fd = fd;
    fsyncDir(dirname(this.path));
    this.size = 0;
    this.headBytes = 0;
    this.firstSeq = undefined;
    this.rotations++;
    this.prune();
    return true;
  }

  /**
   * Deletes the oldest archived segments beyond `retainSegments` whose entries are all durable elsewhere
   * (`durableSeq`). Returns how many were deleted.
   */
  prune(): number {
    if (this.retainSegments === 0) return 0;
    const segments = listSegments(this.path);
    const durable = this.durableSeq();
    let n = 0;
    for (const seg of segments.slice(0, Math.max(0, segments.length - this.retainSegments))) {
      if (seg.lastSeq > durable) break;
      rmSync(seg.path, { force: true });
      n++;
    }
    this.pruned += n;
    return n;
  }

  /** Bytes in the current segment (its snapshot entry included). */
  get segmentSize(): number {
    return this.size;
  }

  /** Sequence number of the last entry. */
  get lastSeq(): number {
    return this.seq;
  }

  /** Why appends fail right now (disk full, I/O error), or `undefined` when the last append succeeded. */
  get failure(): JournalFailure | undefined {
    return this.failed;
  }

  /**
   * Appends an entry and returns it; with `fsync: 'always'` it is on disk when this returns. When the file refuses
   * the entry (ENOSPC, EIO, a short write) the bytes written are cut off again, so the file still ends with the last
   * complete entry, and the error is thrown ({@link isJournalWriteError}); the same append may be retried later.
   */
  append<T>(type: string, data: T, ts = Date.now()): JournalEntry<T> {
    if (this.closed) throw new TraderError('E_TRADER_JOURNAL', 'journal is closed', { field: 'journal' });
    const entry: JournalEntry<T> = { seq: this.seq + 1, ts, type, data };
    const bytes = Buffer.from(`${JSON.stringify(entry)}\n`);
    try {
      // A short write is retried for the rest, which then fails with the real reason (ENOSPC on a full disk).
      for (let off = 0; off < bytes.length; ) {
        const n = writeSync(this.fd, bytes, off);
        if (n === 0) throw Object.assign(new Error(`short write: ${off} of ${bytes.length} bytes`), { code: 'EIO' });
        off += n;
      }
      if (this.policy === 'always') this.fsyncNow();
    } catch (cause) {
      this.cutBack(cause as NodeJS.ErrnoException);
      throw new TraderError('E_TRADER_JOURNAL', `cannot append to ${this.path}: ${(cause as Error).message}`, {
        field: 'journal.append',
        cause,
      });
    }
    this.size += bytes.length;
    this.failed = undefined;
    this.seq++;
    if (this.firstSeq === undefined) {
      this.firstSeq = this.seq;
      if (type === SNAPSHOT_ENTRY) this.headBytes = bytes.length;
    }
    this.appended++;
    if (this.policy !== 'always') this.dirty = true;
    return entry;
  }

  /** Removes what a failed append left (a torn line) and remembers the failure. */
  private cutBack(cause: NodeJS.ErrnoException): void {
    this.failed ??= { since: Date.now(), reason: cause.message, errno: cause.code };
    this.failed.reason = cause.message;
    this.failed.errno = cause.code;
    try {
      if (fstatSync(this.fd).size !== this.size) ftruncateSync(this.fd, this.size);
    } catch {
      // The next open cuts a torn last line anyway; the failure is already being reported.
    }
  }

  private fsyncNow(): void {
    fdatasyncSync(this.fd);
    this.syncs++;
    this.dirty = false;
  }

  /** Flushes to disk if anything is unsynced. */
  sync(): void {
    if (this.closed || !this.dirty) return;
    try {
      this.fsyncNow();
    } catch {
      // A failing fsync on the timer is retried on the next tick; append reports write errors.
    }
  }

  /** Syncs and closes; idempotent. */
  close(): void {
    if (this.closed) return;
    if (this.timer) clearInterval(this.timer);
    if (this.dirty) this.fsyncNow();
    this.closed = true;
    closeSync(this.fd);
  }
}
