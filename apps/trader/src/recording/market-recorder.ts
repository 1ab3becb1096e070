import { appendFile, type FileHandle, mkdir, open, truncate } from 'node:fs/promises';
import { dirname } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { promisify } from 'node:util';
import { deflate, gzip } from 'node:zlib';
import { TraderError } from '../errors.js';
import type { DataSink } from '../model/data-client.js';
import type { Venue } from '../model/types.js';
import { BLOCK_HEADER_BYTES, BlockEncoder, blockHeader, readBlockHeader } from './recording-codec.js';
import {
  encodeLine,
  isSnapshotLine,
  type RecordedLine,
  type RecordingFormat,
  receiveTime,
  recordingPath,
  utcDay,
} from './recording-format.js';

const gzipAsync = promisify(gzip);
const deflateAsync = promisify(deflate);
/** Lines encoded between two yields to the event loop. */
const ENCODE_SLICE = 256;

/** Options of {@link MarketRecorder}. */
export interface MarketRecorderOptions {
  /** Root directory: files go to `<dir>/<venue>/<symbol>/<YYYY-MM-DD>.csrb` (`.jsonl.gz` with `format: 'jsonl'`). */
  dir: string;
  /**
   * `binary`: compressed blocks of varint rows (`recording-codec.ts`), about 5x faster to replay; `jsonl`: gzip JSON
   * lines, the first format. @default 'binary'
   */
  format?: RecordingFormat;
  /** The symbols recorded: a gap naming no symbol is written into each of their files. */
  symbols: readonly string[];
  /** Buffered events are compressed and appended this often. @default 1000 */
  flushIntervalMs?: number;
  /** Events buffered at most; beyond, events are dropped (counted) rather than growing without bound. @default 500000 */
  maxBuffered?: number;
}

/** What a {@link MarketRecorder} has done. */
export interface MarketRecorderStats {
  /** Lines taken from the data path. */
  recorded: number;
  /** Lines written (compressed and appended). */
  written: number;
  /** Lines dropped because the buffer was full (the disk could not keep up). */
  dropped: number;
  /** Compressed bytes appended. */
  bytes: number;
  /** Flushes done. */
  flushes: number;
  /** Files opened (one per symbol and UTC day). */
  files: number;
  /** The last write error, if the last flush failed. */
  lastError: string | undefined;
}

/** One open day file of one symbol. */
interface DayFile {
  day: string;
  path: string;
  handle: FileHandle;
}

/**
 * Records normalized market events to compressed files partitioned by venue, symbol and UTC day. The data path only
 * pushes a reference into a buffer ({@link tap}); encoding, compression (zlib's thread pool) and the append happen on
 * the flush timer, one block (or gzip member) per file per flush, so a crash loses at most the unflushed interval and
 * leaves at most a cut last block, which the reader tolerates and which the next recorder to open the file cuts off
 * before appending. A new day closes the old file.
 */
export class MarketRecorder {
  private buffer: RecordedLine[] = [];
  private readonly files = new Map<string, DayFile>();
  private readonly flushIntervalMs: number;
  private readonly maxBuffered: number;
  private readonly format: RecordingFormat;
  private timer: NodeJS.Timeout | undefined;
  private writing: Promise<void> = Promise.resolve();
  private closed = false;
  private readonly counters: MarketRecorderStats = {
    recorded: 0,
    written: 0,
    dropped: 0,
    bytes: 0,
    flushes: 0,
    files: 0,
    lastError: undefined,
  };

  constructor(private readonly options: MarketRecorderOptions) {
    this.flushIntervalMs = options.flushIntervalMs ?? 1000;
    this.maxBuffered = options.maxBuffered ?? 500_000;
    this.format = options.format ?? 'binary';
    if (this.format !== 'binary' && this.format !== 'jsonl') {
      throw new TraderError('E_TRADER_INVALID_OPTION', 'format must be binary or jsonl', { field: 'format' });
    }
    if (!(Number.isInteger(this.flushIntervalMs) && this.flushIntervalMs >= 10)) {
      throw new TraderError('E_TRADER_INVALID_OPTION', 'flushIntervalMs must be an integer >= 10', {
        field: 'flushIntervalMs',
      });
    }
    if (!(Number.isInteger(this.maxBuffered) && this.maxBuffered > 0)) {
      throw new TraderError('E_TRADER_INVALID_OPTION', 'maxBuffered must be an integer > 0', { field: 'maxBuffered' });
    }
  }

  /** Starts the flush timer. */
  start(): void {
    if (this.timer !== undefined || this.closed) return;
    this.timer = setInterval(() => void this.flush(), this.flushIntervalMs);
    this.timer.unref();
  }

  /**
   * A sink that records what `venue`'s data client delivers, then passes it on to `sink` unchanged. The receive
   * stamp (`performance.now()`) becomes an epoch time with `performance.timeOrigin`, held non-decreasing in delivery
   * order: what a client held back (diffs buffered until their REST snapshot) keeps its place after what it waited
   * for, so a replay in time order delivers in the same order.
   */
  tap(sink: DataSink, venue: Venue): DataSink {
    const origin = performance.timeOrigin;
    let last = 0;
    const stamp = (mono: number): number => {
      const t = receiveTime(origin + mono);
      if (t > last) last = t;
      return last;
    };
    return {
      onEvent: (ev, recvTs) => {
        const t = stamp(recvTs);
        this.push(ev.kind === 'gap' ? { t, ev } : { t, x: ev.exchTs, ev });
        sink.onEvent(ev, recvTs);
      },
      onSnapshot: (symbol, snap, force) => {
        this.push({ t: stamp(performance.now()), venue, symbol, snap, force });
        return sink.onSnapshot(symbol, snap, force);
      },
    };
  }

  /** Buffers one line (the events are immutable once delivered, so the reference is kept, not a copy). */
  push(line: RecordedLine): void {
    if (this.closed) return;
    if (this.buffer.length >= this.maxBuffered) {
      this.counters.dropped++;
      return;
    }
    this.buffer.push(line);
    this.counters.recorded++;
  }

  /** Writes what is buffered; resolves when it (and every earlier flush) is on its way to disk. */
  flush(): Promise<void> {
    const lines = this.buffer;
    this.buffer = [];
    this.writing = this.writing.then(() => this.write(lines));
    return this.writing;
  }

  private async write(lines: RecordedLine[]): Promise<void> {
    if (lines.length === 0) return;
    const binary = this.format === 'binary';
    const groups = new Map<
      string,
      { venue: Venue; symbol: string; day: string; text: string[]; block: BlockEncoder | undefined }
    >();
    const add = (venue: Venue, symbol: string, line: RecordedLine) => {
      const day = utcDay(line.t);
      const key = `${venue}/${symbol}/${day}`;
      let g = groups.get(key);
      if (g === undefined) {
        g = { venue, symbol, day, text: [], block: binary ? new BlockEncoder() : undefined };
        groups.set(key, g);
      }
      if (g.block !== undefined) g.block.add(line);
      else g.text.push(encodeLine(line));
    };
    for (let i = 0; i < lines.length; i++) {
      // Encoding is main-thread work: yield to the event loop every slice, so a tick arriving meanwhile waits for one
      // slice, not the whole flush.
      if (i > 0 && i % ENCODE_SLICE === 0) await yieldToLoop();
      const line = lines[i] as RecordedLine;
      if (isSnapshotLine(line)) add(line.venue, line.symbol, line);
      else if (line.ev.kind !== 'gap' || line.ev.symbol !== undefined) {
        add(line.ev.venue, line.ev.symbol as string, line);
      } else {
        // A venue-wide gap invalidates every book: each symbol's file gets it, naming the symbol, so each replays alone.
        for (const symbol of this.options.symbols)
          add(line.ev.venue, symbol, { t: line.t, ev: { ...line.ev, symbol } });
      }
    }
    try {
      for (const g of groups.values()) {
        let bytes: Buffer;
        let count: number;
        if (g.block !== undefined) {
          const payload = await deflateAsync(g.block.finish());
          count = g.block.lines;
          bytes = Buffer.concat([blockHeader(payload.length, count), payload]);
        } else {
          bytes = await gzipAsync(`${g.text.join('\n')}\n`);
          count = g.text.length;
        }
        await this.append(g.venue, g.symbol, g.day, bytes);
        this.counters.bytes += bytes.length;
        this.counters.written += count;
      }
      this.counters.flushes++;
      this.counters.lastError = undefined;
    } catch (e) {
      this.counters.lastError = (e as Error).message;
    }
  }

  /**
   * Appends one member to a symbol's day file. The newest day's file stays open; a new day closes the previous one.
   * A line older than the open day (the clock stepped back) is appended to its day's file without reopening it for
   * good.
   */
  private async append(venue: Venue, symbol: string, day: string, member: Buffer): Promise<void> {
    const key = `${venue}/${symbol}`;
    const path = recordingPath(this.options.dir, venue, symbol, day, this.format);
    let current = this.files.get(key);
    if (current !== undefined && current.day > day) {
      await appendFile(path, member);
      return;
    }
    if (current?.day !== day) {
      if (current !== undefined) {
        this.files.delete(key);
        await current.handle.close();
      }
      await mkdir(dirname(path), { recursive: true });
      if (this.format === 'binary') await cutTornTail(path);
      current = { day, path, handle: await open(path, 'a') };
      this.files.set(key, current);
      this.counters.files++;
    }
    await current.handle.write(member);
  }

  /** Counters. */
  stats(): MarketRecorderStats {
    return { ...this.counters };
  }

  /** Files currently open (one per symbol). */
  openFiles(): string[] {
    return [...this.files.values()].map((f) => f.path);
  }

  /** Stops the timer, writes what is buffered and closes the files; idempotent. */
  async close(): Promise<void> {
    if (this.closed) return this.writing;
    clearInterval(this.timer);
    await this.flush();
    this.closed = true;
    for (const f of this.files.values()) await f.handle.close();
    this.files.clear();
  }
}

/**
 * Cuts a torn last block (a crash mid-append) off an existing binary file before more blocks are appended after it:
 * walks the block headers and truncates the file after the last complete block. Returns the bytes cut. Missing files,
 * and files with a damaged header before their end (not a torn tail), are left alone.
 */
export async function cutTornTail(path: string): Promise<number> {
  let fh: FileHandle;
  try {
    fh = await open(path, 'r');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return 0;
    throw e;
  }
  let end = 0;
  let size = 0;
  try {
    size = (await fh.stat()).size;
    const header = Buffer.alloc(BLOCK_HEADER_BYTES);
    while (end + BLOCK_HEADER_BYTES <= size) {
      await fh.read(header, 0, BLOCK_HEADER_BYTES, end);
      let next: number;
      try {
        next = end + BLOCK_HEADER_BYTES + readBlockHeader(header, 0, path).payloadBytes;
      } catch {
        // Not a torn tail but a damaged file: left as it is for the reader to name.
        return 0;
      }
      if (next > size) break;
      end = next;
    }
  } finally {
    await fh.close();
  }
  if (end < size) await truncate(path, end);
  return size - end;
}
