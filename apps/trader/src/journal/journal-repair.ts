// Finding and cutting the damage in a journal, e.g. after two processes appended to it at once: their entries
// interleave with duplicated sequence numbers and every later start refuses the file. Verification reads bytes, not
// text, so the offsets it reports are the ones `truncate` and `dd` understand.
import {
  closeSync,
  fdatasyncSync,
  fstatSync,
  fsyncSync,
  ftruncateSync,
  openSync,
  readFileSync,
  writeSync,
} from 'node:fs';
import { dirname, resolve } from 'node:path';
import { TraderError } from '../errors.js';
import { fsyncDir } from './journal.js';

/** The first entry of a journal that cannot be trusted, and everything after it with it. */
export interface JournalBreak {
  /** Line number, from 1. */
  line: number;
  /** Offset of the line's first byte in the file: where a repair cuts. */
  byteOffset: number;
  /** The line's sequence number, when it has one. */
  seq?: number;
  /** What is wrong, e.g. `sequence 1587 where 1591 was expected`. */
  reason: string;
}

/** A last line cut short by a crash mid-write; `Journal.open` drops it by itself, so it is not damage. */
export interface JournalTornTail {
  /** Line number, from 1. */
  line: number;
  /** Offset of the line's first byte in the file. */
  byteOffset: number;
  /** Length of the torn line in bytes (with its newline, if it has one). */
  bytes: number;
  /** `unterminated last line` or `unparsable last line`. */
  reason: string;
}

/** What {@link verifyJournal} found. */
export interface JournalVerifyReport {
  /** Absolute path of the journal. */
  path: string;
  /** True when there is no {@link JournalBreak} (a torn tail alone is fine). */
  ok: boolean;
  /** Good entries before the first broken one (all entries when ok): what a repair keeps. */
  entries: number;
  /** Sequence number of the last good entry; 0 when there is none. */
  lastSeq: number;
  /** Size of the file in bytes. */
  bytes: number;
  /** The first broken entry, if any. */
  firstBroken?: JournalBreak;
  /** Lines from the first broken one to the end of the file (what a repair cuts); 0 when ok. */
  brokenLines: number;
  /** A torn last line after the good entries, if any (only looked for when nothing before it is broken). */
  tornTail?: JournalTornTail;
}

/** What {@link repairJournal} did. */
export interface JournalRepairReport {
  /** Absolute path of the journal. */
  path: string;
  /** False when the journal was fine and nothing was touched. */
  changed: boolean;
  /** Copy of the whole file as it was before the cut; undefined when nothing changed. */
  backupPath: string | undefined;
  /** Entries left in the journal. */
  keptEntries: number;
  /** Lines cut off (the broken one and every line after it). */
  cutEntries: number;
  /** Bytes cut off. */
  cutBytes: number;
  /** Where the cut was made; undefined when nothing changed. */
  firstBroken: JournalBreak | undefined;
}

/** Options of {@link repairJournal}. */
export interface JournalRepairOptions {
  /** Clock for the backup's name (epoch milliseconds). @default Date.now */
  now?: () => number;
}

const NEWLINE = 0x0a;

function readJournalFile(path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (cause) {
    throw new TraderError('E_TRADER_JOURNAL', `cannot read ${path}: ${(cause as Error).message}`, {
      field: 'journal',
      cause,
    });
  }
}

/** The identifying string of an entry's payload, e.g. `data.clientOrderId`, if it is a non-empty string. */
function idOf(data: unknown, key: string): string | undefined {
  if (typeof data !== 'object' || data === null) return undefined;
  const id = (data as Record<string, unknown>)[key];
  return typeof id === 'string' && id.length > 0 ? id : undefined;
}

/** Verifies journal bytes; see {@link verifyJournal}. */
export function verifyJournalBytes(buf: Buffer, path = 'journal'): JournalVerifyReport {
  const report: JournalVerifyReport = { path, ok: true, entries: 0, lastSeq: 0, bytes: buf.length, brokenLines: 0 };
  const clientOrderIds = new Map<string, number>();
  const fillIds = new Map<string, number>();
  let offset = 0;
  let line = 0;
  let broken: JournalBreak | undefined;
  while (offset < buf.length) {
    line++;
    const nl = buf.indexOf(NEWLINE, offset);
    const terminated = nl >= 0;
    const end = terminated ? nl : buf.length;
    const next = terminated ? nl + 1 : buf.length;
    const isLast = next >= buf.length;
    const brk = (reason: string, seq?: number): JournalBreak =>
      seq === undefined ? { line, byteOffset: offset, reason } : { line, byteOffset: offset, seq, reason };

    let parsed: unknown;
    let parses = true;
    try {
      parsed = JSON.parse(buf.toString('utf8', offset, end));
    } catch {
      parses = false;
    }
    const rec =
      typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)
        ? (parsed as Record<string, unknown>)
        : undefined;
    // What parseJournal accepts as an entry at all; anything less on the last line is a torn write it cuts itself.
    const accepted = rec !== undefined && typeof rec.seq === 'number' && typeof rec.type === 'string';
    if (!terminated || (isLast && !accepted)) {
      report.tornTail = {
        line,
        byteOffset: offset,
        bytes: next - offset,
        reason: terminated ? 'unparsable last line' : 'unterminated last line',
      };
      break;
    }
    const seq = rec !== undefined && typeof rec.seq === 'number' ? rec.seq : undefined;
    if (!parses) broken = brk('unparsable line');
    else if (rec === undefined) broken = brk('not a JSON object');
    else if (seq === undefined) broken = brk('no numeric "seq"');
    else if (!Number.isSafeInteger(seq) || seq < 1) broken = brk(`"seq" ${seq} is not a positive integer`, seq);
    else if (typeof rec.type !== 'string' || rec.type === '') broken = brk('no "type"', seq);
    else if (typeof rec.ts !== 'number' || !Number.isFinite(rec.ts)) broken = brk('no numeric "ts"', seq);
    // The first entry sets the base, as in parseJournal: the journal itself accepts any starting number.
    else if (report.entries > 0 && seq !== report.lastSeq + 1) {
      broken = brk(`sequence ${seq} where ${report.lastSeq + 1} was expected`, seq);
    } else if (rec.type === 'order.submitted' || rec.type === 'fill') {
      // Two writers on one journal each replay the same history and then mint the same ids: a duplicate id is
      // that damage even where the sequence numbers happen to line up.
      const [ids, key] = rec.type === 'fill' ? [fillIds, 'fillId'] : [clientOrderIds, 'clientOrderId'];
      const id = idOf(rec.data, key);
      const firstLine = id === undefined ? undefined : ids.get(id);
      if (firstLine !== undefined) broken = brk(`duplicate ${key} "${id}" (first on line ${firstLine})`, seq);
      else if (id !== undefined) ids.set(id, line);
    }
    if (broken) break;
    report.entries++;
    report.lastSeq = seq as number;
    offset = next;
  }
  if (broken) {
    report.ok = false;
    report.firstBroken = broken;
    // Count what a cut at the break removes: every line from it on, a final unterminated piece included.
    let lines = 0;
    for (let at = broken.byteOffset; at < buf.length; ) {
      const nl = buf.indexOf(NEWLINE, at);
      lines++;
      at = nl < 0 ? buf.length : nl + 1;
    }
    report.brokenLines = lines;
  }
  return report;
}

/**
 * Checks a journal file without changing it. Broken means: an unparsable line other than the last, a line without
 * `seq`, `type` or `ts`, a sequence number other than the previous one plus one (duplicates, gaps, going
 * backwards), or a duplicate `clientOrderId` among `order.submitted` entries or `fillId` among `fill` entries.
 * A torn last line is reported as `tornTail` and does not make the journal broken: `Journal.open` cuts it.
 * Throws a `TraderError` (`E_TRADER_JOURNAL`) when the file cannot be read.
 */
export function verifyJournal(path: string): JournalVerifyReport {
  const abs = resolve(path);
  return verifyJournalBytes(readJournalFile(abs), abs);
}

/** `2026-05-01T12:00:00.123Z` -> `20260501T120000.123Z`: ISO 8601 basic format, no ':' (not allowed everywhere). */
function fileTimestamp(ms: number): string {
  return new Date(ms).toISOString().replace(/[-:]/g, '');
}

/** Writes `data` to a new file next to `path` named `<path>.broken-<timestamp>[-n]`, never over an existing one. */
function writeBackup(path: string, data: Buffer, now: number): string {
  const base = `${path}.broken-${fileTimestamp(now)}`;
  for (let n = 0; ; n++) {
    const candidate = n === 0 ? base : `${base}-${n}`;
    let fd: number;
    try {
      fd = openSync(candidate, 'wx');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST') continue;
      throw new TraderError('E_TRADER_JOURNAL', `cannot write the backup ${candidate}: ${(e as Error).message}`, {
        field: 'journal',
        cause: e,
      });
    }
    try {
      writeSync(fd, data);
      // The backup must be on disk before the journal is cut, or a crash in between could lose both.
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    fsyncDir(dirname(candidate));
    return candidate;
  }
}

/**
 * Repairs a journal that {@link verifyJournal} finds broken: writes a backup of the whole file to
 * `<path>.broken-<ISO timestamp>` (never overwriting an existing backup), then truncates the journal at the first
 * broken entry and fsyncs it. Everything from that entry on is cut, also good entries written after it: a journal
 * is only trustworthy as an unbroken prefix. A journal that is fine is left untouched (a torn tail included:
 * `Journal.open` cuts that itself). Do not run it while a trader writes to the journal: hold the data dir lock.
 */
export function repairJournal(path: string, options: JournalRepairOptions = {}): JournalRepairReport {
  const abs = resolve(path);
  const buf = readJournalFile(abs);
  const report = verifyJournalBytes(buf, abs);
  const { firstBroken } = report;
  if (firstBroken === undefined) {
    return {
      path: abs,
      changed: false,
      backupPath: undefined,
      keptEntries: report.entries,
      cutEntries: 0,
      cutBytes: 0,
      firstBroken: undefined,
    };
  }
  const fd = openSync(abs, 'r+');
  try {
    // The cut is computed from the bytes read above; if the file has grown since, a writer is still at work and
    // cutting would destroy what it just wrote.
    if (fstatSync(fd).size !== buf.length) {
      throw new TraderError(
        'E_TRADER_JOURNAL',
        `${abs} changed while it was being repaired: is a trader still writing to it? Stop it and try again`,
        { field: 'journal' },
      );
    }
    const backupPath = writeBackup(abs, buf, (options.now ?? Date.now)());
    ftruncateSync(fd, firstBroken.byteOffset);
    fdatasyncSync(fd);
    return {
      path: abs,
      changed: true,
      backupPath,
      keptEntries: report.entries,
      cutEntries: report.brokenLines,
      cutBytes: buf.length - firstBroken.byteOffset,
      firstBroken,
    };
  } finally {
    closeSync(fd);
  }
}
