import { createReadStream, existsSync, readdirSync, statSync } from 'node:fs';
import { type FileHandle, open } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { StringDecoder } from 'node:string_decoder';
import { promisify } from 'node:util';
import { createGunzip, inflate } from 'node:zlib';
import { TraderError } from '../errors.js';
import { VENUES } from '../model/types.js';
import { BLOCK_HEADER_BYTES, BlockDecoder, readBlockHeader } from './recording-codec.js';
import { checkLine, decodeLine, FORMAT_EXTENSIONS, type RecordedLine } from './recording-format.js';

const inflateAsync = promisify(inflate);
/** Lines decoded at a time from a binary block. */
const DECODE_BATCH = 1024;

/** A recording file whose tail was cut (a crash mid-flush): the complete lines before it were read. */
export interface TruncatedFile {
  path: string;
  /** Bytes of decompressed text after the last complete line, dropped. */
  droppedBytes: number;
}

/** What {@link replayRecording} read. */
export interface RecordingReadReport {
  /** Files read, relative to the recording's directory, in merge order. */
  files: string[];
  /** Lines delivered (inside the time window). */
  lines: number;
  /** Lines outside the time window, skipped. */
  skipped: number;
  /** Receive time of the first and last line delivered (NaN when none). */
  firstT: number;
  lastT: number;
  /** Files with a cut tail. */
  truncated: TruncatedFile[];
}

/** Options of {@link replayRecording}. */
export interface ReplayRecordingOptions {
  /** Only lines received at or after this epoch-ms time. */
  from?: number;
  /** Only lines received before this epoch-ms time. */
  to?: number;
  /** Only these symbols. @default every symbol in the recording */
  symbols?: readonly string[];
}

const DAY_FILE = /^(\d{4}-\d{2}-\d{2})(\.jsonl\.gz|\.csrb)$/;

/**
 * The day files of a recording, grouped per venue and symbol (each group in day order; a day held in both formats,
 * as a recorder upgraded during the day leaves it, reads its `.jsonl.gz` file first), the groups sorted by venue then
 * symbol; days entirely outside `[from, to)` are left out.
 */
export function listRecording(dir: string, options: ReplayRecordingOptions = {}): string[][] {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    throw new TraderError('E_TRADER_INVALID_OPTION', `recording directory ${dir} does not exist`, { field: 'data' });
  }
  const dayStart = (day: string) => Date.parse(`${day}T00:00:00Z`);
  const groups: string[][] = [];
  for (const venue of readdirSync(dir).sort()) {
    if (!VENUES.includes(venue as (typeof VENUES)[number]) || !statSync(join(dir, venue)).isDirectory()) continue;
    for (const symbol of readdirSync(join(dir, venue)).sort()) {
      if (options.symbols !== undefined && !options.symbols.includes(symbol)) continue;
      const symbolDir = join(dir, venue, symbol);
      if (!statSync(symbolDir).isDirectory()) continue;
      const rank = (ext: string) => (ext === FORMAT_EXTENSIONS.jsonl ? 0 : 1);
      const days = readdirSync(symbolDir)
        .map((f) => DAY_FILE.exec(f))
        .filter((m): m is RegExpExecArray => m !== null)
        .map((m) => ({ day: m[1] as string, ext: m[2] as string }))
        .filter(
          ({ day }) =>
            (options.to === undefined || dayStart(day) < options.to) &&
            (options.from === undefined || dayStart(day) + 86_400_000 > options.from),
        )
        .sort((a, b) => (a.day === b.day ? rank(a.ext) - rank(b.ext) : a.day < b.day ? -1 : 1));
      if (days.length > 0) groups.push(days.map((d) => join(symbolDir, `${d.day}${d.ext}`)));
    }
  }
  if (groups.length === 0) {
    throw new TraderError(
      'E_TRADER_INVALID_OPTION',
      `no recording files (<venue>/<symbol>/<YYYY-MM-DD>.csrb or .jsonl.gz) in ${dir}${options.from !== undefined || options.to !== undefined ? ' for the time window' : ''}`,
      { field: 'data' },
    );
  }
  return groups;
}

/**
 * Reads one recording file (either format, by its extension) in batches of decoded lines. A cut last block or gzip
 * member (a crash mid-flush) ends the file after its last complete line and is reported through `onTruncated`;
 * anything else unreadable throws, naming the file and line or block.
 */
export function readRecordingFile(
  path: string,
  onTruncated: (t: TruncatedFile) => void,
): AsyncGenerator<RecordedLine[]> {
  return path.endsWith(FORMAT_EXTENSIONS.binary) ? readBinaryFile(path, onTruncated) : readJsonlFile(path, onTruncated);
}

/** A compressed block as read from the file. */
interface RawBlock {
  at: number;
  lines: number;
  payload: Buffer;
}

/** Reads a binary file's blocks through a 1 MiB window. */
class BlockScanner {
  private buf = Buffer.alloc(0);
  /** File offset of `buf[0]`. */
  private base = 0;
  private size = -1;

  constructor(
    private readonly fh: FileHandle,
    private readonly path: string,
  ) {}

  private async fill(need: number): Promise<boolean> {
    if (this.size < 0) this.size = (await this.fh.stat()).size;
    if (this.buf.length >= need) return true;
    const end = this.base + this.buf.length;
    const want = Math.min(Math.max(need - this.buf.length, 1 << 20), this.size - end);
    if (want <= 0) return false;
    // The unread rest (less than a block) moves to the front of a fresh buffer and the file is read in after it.
    const next = Buffer.allocUnsafe(this.buf.length + want);
    this.buf.copy(next, 0);
    const { bytesRead } = await this.fh.read(next, this.buf.length, want, end);
    this.buf = next.subarray(0, this.buf.length + bytesRead);
    return this.buf.length >= need;
  }

  /** The next block, or undefined at the end (a cut last block is reported, then ends the file). */
  async next(onTruncated: (t: TruncatedFile) => void): Promise<RawBlock | undefined> {
    if (!(await this.fill(BLOCK_HEADER_BYTES))) return this.end(onTruncated);
    const at = this.base;
    const h = readBlockHeader(this.buf, 0, `${this.path} block at byte ${at}`);
    if (!(await this.fill(BLOCK_HEADER_BYTES + h.payloadBytes))) return this.end(onTruncated);
    const payload = this.buf.subarray(BLOCK_HEADER_BYTES, BLOCK_HEADER_BYTES + h.payloadBytes);
    this.buf = this.buf.subarray(BLOCK_HEADER_BYTES + h.payloadBytes);
    this.base += BLOCK_HEADER_BYTES + h.payloadBytes;
    return { at, lines: h.lines, payload };
  }

  private end(onTruncated: (t: TruncatedFile) => void): undefined {
    if (this.buf.length > 0) onTruncated({ path: this.path, droppedBytes: this.buf.length });
    this.buf = Buffer.alloc(0);
    return undefined;
  }
}

/**
 * Reads a binary recording block by block: the next block is read and inflated (zlib's thread pool) while the
 * current one's lines are being delivered.
 */
async function* readBinaryFile(path: string, onTruncated: (t: TruncatedFile) => void): AsyncGenerator<RecordedLine[]> {
  let fh: FileHandle;
  try {
    fh = await open(path, 'r');
  } catch (e) {
    throw new TraderError('E_TRADER_MALFORMED', `${path}: ${(e as Error).message}`, { field: 'recording', cause: e });
  }
  const inflateBlock = (b: RawBlock): Promise<Buffer> => {
    const p = inflateAsync(b.payload);
    p.catch(() => {}); // awaited below; a generator closed early must not leave an unhandled rejection
    return p;
  };
  try {
    const scanner = new BlockScanner(fh, path);
    let cur = await scanner.next(onTruncated);
    let raw = cur === undefined ? undefined : inflateBlock(cur);
    while (cur !== undefined && raw !== undefined) {
      const where = `${path} block at byte ${cur.at}`;
      let payload: Buffer;
      try {
        payload = await raw;
      } catch (e) {
        throw new TraderError('E_TRADER_MALFORMED', `${where}: ${(e as Error).message}`, {
          field: 'recording',
          cause: e,
        });
      }
      const decoder = new BlockDecoder(payload, cur.lines, where);
      cur = await scanner.next(onTruncated);
      raw = cur === undefined ? undefined : inflateBlock(cur);
      // Small batches: the lines are consumed before the next batch is made, so they die young (cheap GC).
      while (decoder.remaining > 0) yield decoder.next(DECODE_BATCH);
    }
  } finally {
    await fh.close();
  }
}

/** Reads a `.jsonl.gz` file (the first format) in batches of decoded lines. */
async function* readJsonlFile(path: string, onTruncated: (t: TruncatedFile) => void): AsyncGenerator<RecordedLine[]> {
  // Large chunks: fewer batches, fewer awaits, and one JSON.parse per batch.
  const gunzip = createGunzip({ chunkSize: 1 << 20 });
  const input = createReadStream(path, { highWaterMark: 1 << 20 });
  input.on('error', (e) => gunzip.destroy(e));
  input.pipe(gunzip);
  const decoder = new StringDecoder('utf8');
  let rest = '';
  let lineNo = 0;
  try {
    for await (const chunk of gunzip as AsyncIterable<Buffer>) {
      const text = rest + decoder.write(chunk);
      const end = text.lastIndexOf('\n') + 1;
      rest = text.slice(end);
      const batch = decodeBatch(text.slice(0, end), path, lineNo);
      lineNo += countLines(text, end);
      if (batch.length > 0) yield batch;
    }
  } catch (e) {
    // zlib's "unexpected end of file": the last member was cut. Everything decompressed before it was delivered.
    if ((e as NodeJS.ErrnoException).code !== 'Z_BUF_ERROR') {
      if (e instanceof TraderError) throw e;
      throw new TraderError('E_TRADER_MALFORMED', `${path}: ${(e as Error).message}`, { field: 'recording', cause: e });
    }
    onTruncated({ path, droppedBytes: Buffer.byteLength(rest + decoder.end()) });
    return;
  } finally {
    input.destroy();
  }
  if (rest !== '') onTruncated({ path, droppedBytes: Buffer.byteLength(rest) });
}

function countLines(text: string, end: number): number {
  let n = 0;
  for (let i = text.indexOf('\n'); i >= 0 && i < end; i = text.indexOf('\n', i + 1)) n++;
  return n;
}

/**
 * Decodes complete lines (`text` ends with a newline). They are parsed as one JSON array, several times faster than
 * a parse per line; a batch that does not parse or check that way is decoded line by line, to name the bad line.
 */
function decodeBatch(text: string, path: string, firstLine: number): RecordedLine[] {
  if (text === '') return [];
  try {
    const lines = JSON.parse(`[${text.slice(0, -1).replaceAll('\n', ',')}]`) as unknown[];
    for (const l of lines) checkLine(l, path);
    return lines as RecordedLine[];
  } catch {
    const out: RecordedLine[] = [];
    const parts = text.slice(0, -1).split('\n');
    parts.forEach((line, i) => {
      if (line !== '') out.push(decodeLine(line, `${path}:${firstLine + i + 1}`));
    });
    return out;
  }
}

/** One symbol's lines across its day files, read a batch ahead. */
class Source {
  batch: RecordedLine[] = [];
  index = 0;
  private readonly files: AsyncGenerator<RecordedLine[]>;

  constructor(paths: readonly string[], onTruncated: (t: TruncatedFile) => void) {
    this.files = (async function* () {
      for (const p of paths) yield* readRecordingFile(p, onTruncated);
    })();
  }

  /** Loads the next batch; false at the end. */
  async refill(): Promise<boolean> {
    const next = await this.files.next();
    if (next.done === true) return false;
    this.batch = next.value;
    this.index = 0;
    return true;
  }
}

/**
 * Delivers a recording's lines to `deliver` in receive-time order, merged across its symbol files (ties go to the
 * venue and symbol first in name order, then file order), as fast as the files decompress: `deliver` runs in a tight
 * synchronous loop, and the reader only awaits when a file needs its next batch.
 */
export async function replayRecording(
  dir: string,
  deliver: (line: RecordedLine) => void,
  options: ReplayRecordingOptions = {},
): Promise<RecordingReadReport> {
  const groups = listRecording(dir, options);
  const report: RecordingReadReport = {
    files: groups.flat().map((p) => relative(dir, p)),
    lines: 0,
    skipped: 0,
    firstT: Number.NaN,
    lastT: Number.NaN,
    truncated: [],
  };
  const onTruncated = (t: TruncatedFile) => report.truncated.push({ ...t, path: relative(dir, t.path) });
  const live: Source[] = [];
  for (const paths of groups) {
    const s = new Source(paths, onTruncated);
    if (await s.refill()) live.push(s);
  }
  const from = options.from ?? Number.NEGATIVE_INFINITY;
  const to = options.to ?? Number.POSITIVE_INFINITY;
  while (live.length > 0) {
    let min = 0;
    let minT = (live[0] as Source).batch[(live[0] as Source).index]?.t as number;
    for (let i = 1; i < live.length; i++) {
      const s = live[i] as Source;
      const t = (s.batch[s.index] as RecordedLine).t;
      if (t < minT) {
        min = i;
        minT = t;
      }
    }
    const s = live[min] as Source;
    const line = s.batch[s.index++] as RecordedLine;
    if (line.t >= to) {
      // A file is in receive order: nothing after this line is inside the window.
      report.skipped++;
      live.splice(min, 1);
      continue;
    }
    if (line.t >= from) {
      if (report.lines === 0) report.firstT = line.t;
      report.lastT = line.t;
      report.lines++;
      deliver(line);
    } else report.skipped++;
    if (s.index >= s.batch.length && !(await s.refill())) live.splice(min, 1);
  }
  return report;
}
