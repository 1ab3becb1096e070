import {
  closeSync,
  fdatasyncSync,
  fstatSync,
  ftruncateSync,
  mkdirSync,
  openSync,
  readFileSync,
  writeSync,
} from 'node:fs';
import { dirname } from 'node:path';
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
}

/** What {@link Journal.open} found in an existing file. */
export interface JournalRecovery {
  /** Entries in the file, in order. */
  entries: JournalEntry[];
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
  private dirty = false;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  /** Appends since open. */
  appended = 0;
  /** fsync calls since open. */
  syncs = 0;
  private readonly policy: 'always' | 'interval' | 'never';

  private constructor(
    readonly path: string,
    fd: number,
    lastSeq: number,
    options: JournalOptions,
  ) {
    this.fd = fd;
    this.seq = lastSeq;
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

  /** Opens (creating if needed) the journal at `path`, recovering its entries. */
  static open(path: string, options: JournalOptions = {}): { journal: Journal; recovery: JournalRecovery } {
    mkdirSync(dirname(path), { recursive: true });
    const fd = openSync(path, 'a+');
    try {
      const text = readFileSync(path, 'utf8');
      const { entries, validBytes } = parseJournal(text, path);
      const size = fstatSync(fd).size;
      const truncatedBytes = size - validBytes;
      if (truncatedBytes > 0) {
        ftruncateSync(fd, validBytes);
        fdatasyncSync(fd);
      }
      const lastSeq = entries.length === 0 ? 0 : (entries[entries.length - 1] as JournalEntry).seq;
      return { journal: new Journal(path, fd, lastSeq, options), recovery: { entries, truncatedBytes } };
    } catch (e) {
      closeSync(fd);
      throw isTraderError(e) && e.code === 'E_TRADER_JOURNAL' ? damaged(path, e) : e;
    }
  }

  /** Reads the entries with `seq > afterSeq` from a journal file (catch-up of downstream writers). */
  static read(path: string, afterSeq = 0): JournalEntry[] {
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (cause) {
      if ((cause as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw new TraderError('E_TRADER_JOURNAL', `cannot read ${path}`, { cause });
    }
    return parseJournal(text, path).entries.filter((e) => e.seq > afterSeq);
  }

  /** Sequence number of the last entry. */
  get lastSeq(): number {
    return this.seq;
  }

  /** Appends an entry and returns it; with `fsync: 'always'` it is on disk when this returns. */
  append<T>(type: string, data: T, ts = Date.now()): JournalEntry<T> {
    if (this.closed) throw new TraderError('E_TRADER_JOURNAL', 'journal is closed', { field: 'journal' });
    const entry: JournalEntry<T> = { seq: this.seq + 1, ts, type, data };
    const line = `${JSON.stringify(entry)}\n`;
    try {
      writeSync(this.fd, line);
    } catch (cause) {
      throw new TraderError('E_TRADER_JOURNAL', `cannot append to ${this.path}`, { cause });
    }
    this.seq++;
    this.appended++;
    if (this.policy === 'always') this.fsyncNow();
    else this.dirty = true;
    return entry;
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
