// The recording formats, partitioned by venue, symbol and UTC day:
// - `<dir>/<venue>/<symbol>/<YYYY-MM-DD>.csrb` (written since format version 1 of the binary codec, the default): a
//   sequence of self-contained compressed blocks, one per flush, described in `recording-codec.ts`;
// - `<dir>/<venue>/<symbol>/<YYYY-MM-DD>.jsonl.gz` (the first format, still read, and written with
//   `format: 'jsonl'`): one JSON line per event, each flush one complete gzip member appended to the file (gunzip
//   reads concatenated members as one stream).
// Either way a crash can only leave the last block or member cut short.
import { join } from 'node:path';
import { TraderError } from '../errors.js';
import type { BookSnapshot, MarketEvent, Venue } from '../model/types.js';
import { VENUES } from '../model/types.js';

/** A normalized market event as the data client delivered it. */
export interface RecordedEvent {
  /**
   * Local receive time, epoch milliseconds with microsecond precision (the frame's arrival stamp), non-decreasing in
   * the order the data client delivered: an event the client held back carries the time it was delivered.
   */
  readonly t: number;
  /** The venue's event time, epoch milliseconds (absent for gaps). */
  readonly x?: number;
  readonly ev: MarketEvent;
}

/** A snapshot the data client fetched (Binance's REST depth) and handed to the engine. */
export interface RecordedSnapshot {
  readonly t: number;
  readonly venue: Venue;
  readonly symbol: string;
  readonly snap: BookSnapshot;
  /** The client saw a gap the book cannot see: the snapshot replaces a book that still looks synced. */
  readonly force: boolean;
}

/** One line of a recording. */
export type RecordedLine = RecordedEvent | RecordedSnapshot;

/** True for a {@link RecordedSnapshot}. */
export function isSnapshotLine(line: RecordedLine): line is RecordedSnapshot {
  return 'snap' in line;
}

/** The UTC day (`YYYY-MM-DD`) of an epoch-millisecond time: the file a line goes to. */
export function utcDay(t: number): string {
  return new Date(t).toISOString().slice(0, 10);
}

/** The on-disk format of a recording file: `binary` (`.csrb`) or `jsonl` (`.jsonl.gz`). */
export type RecordingFormat = 'binary' | 'jsonl';

/** The file name extension of each format. */
export const FORMAT_EXTENSIONS: Readonly<Record<RecordingFormat, string>> = { binary: '.csrb', jsonl: '.jsonl.gz' };

/** The file holding `venue`'s `symbol` on `day` in `format`. */
export function recordingPath(
  dir: string,
  venue: Venue,
  symbol: string,
  day: string,
  format: RecordingFormat = 'binary',
): string {
  return join(dir, venue, symbol, `${day}${FORMAT_EXTENSIONS[format]}`);
}

/** The receive time rounded to microseconds: the precision of the arrival stamp, and shorter lines. */
export function receiveTime(epochMs: number): number {
  return Math.round(epochMs * 1000) / 1000;
}

/** Encodes one line (without the newline). */
export function encodeLine(line: RecordedLine): string {
  return JSON.stringify(line);
}

function bad(where: string, why: string): never {
  throw new TraderError('E_TRADER_MALFORMED', `${where}: ${why}`, { field: 'recording' });
}

/** Decodes one line, checking the fields replay relies on; `where` names the file and line in errors. */
export function decodeLine(text: string, where: string): RecordedLine {
  let o: unknown;
  try {
    o = JSON.parse(text);
  } catch {
    return bad(where, 'not JSON');
  }
  return checkLine(o, where);
}

/** Checks a parsed line for the fields replay relies on (throws naming `where`). */
export function checkLine(value: unknown, where: string): RecordedLine {
  const o = value as Record<string, unknown>;
  if (typeof o !== 'object' || o === null || typeof o.t !== 'number' || !Number.isFinite(o.t)) {
    return bad(where, 'no receive time t');
  }
  if ('snap' in o) {
    const s = o.snap as Record<string, unknown> | null;
    if (typeof o.symbol !== 'string' || !VENUES.includes(o.venue as Venue)) bad(where, 'snapshot without venue/symbol');
    if (typeof s !== 'object' || s === null || !Array.isArray(s.bids) || !Array.isArray(s.asks))
      bad(where, 'snapshot without bids/asks');
    return o as unknown as RecordedSnapshot;
  }
  const ev = o.ev as Record<string, unknown> | null;
  if (typeof ev !== 'object' || ev === null || !['book', 'trade', 'gap'].includes(ev.kind as string)) {
    return bad(where, 'no market event ev');
  }
  if (ev.kind !== 'gap' && typeof ev.symbol !== 'string') bad(where, `${String(ev.kind)} event without symbol`);
  return o as unknown as RecordedEvent;
}
