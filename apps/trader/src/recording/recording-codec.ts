// The binary recording format (`<dir>/<venue>/<symbol>/<YYYY-MM-DD>.csrb`): a file is a sequence of blocks, one per
// recorder flush, each self-contained, so a crash can only leave the last block cut short.
//
// Block: a 16-byte header, then the zlib-compressed payload.
//   bytes 0-3   magic "CSRB"
//   byte  4     format version (1)
//   byte  5     codec of the payload (1: zlib deflate, checked by zlib's Adler-32)
//   bytes 6-7   reserved (0)
//   bytes 8-11  payload length in bytes (u32 little-endian)
//   bytes 12-15 lines in the block (u32 little-endian)
// Payload (after inflating): varint length + UTF-8 JSON of the block's symbol table (`[[venue, symbol], ...]`), then
// one row per line. Every integer is a LEB128 varint; signed ones are zigzag-encoded; JS numbers up to 2^53.
//   trade (tag 0, +8 when the aggressor sold): symbol index, receive time (us) minus the previous row's, venue time
//     (us) minus receive time, price (1e-8 units) minus the previous price, qty (1e-8 units), trade id minus the
//     previous trade id.
//   depth diff (tag 1, +8 when prevSeq is present): symbol index, receive time delta, venue time delta, firstSeq
//     minus the previous row's lastSeq, lastSeq - firstSeq, [prevSeq - firstSeq], bid count, ask count, then each
//     level: price minus the previous price (the chain runs through trades and levels), qty.
//   anything else (tag 2): varint byte length + the line as JSON (snapshots, gaps, in-stream snapshots, and any event
//     whose numbers do not survive the integer scaling exactly: the encoder checks each value round-trips).
// Delta state starts at 0 in each block. Decoding builds the same objects as `JSON.parse` of the JSON line format.
import { TraderError } from '../errors.js';
import type { BookEvent, Level, TradeEvent, Venue } from '../model/types.js';
import { decodeLine, encodeLine, type RecordedLine } from './recording-format.js';

/** "CSRB" read as a little-endian u32. */
export const BLOCK_MAGIC = 0x42525343;
/** The block format version this code writes and reads. */
export const BLOCK_VERSION = 1;
/** Codec byte: zlib deflate. */
export const CODEC_ZLIB = 1;
/** Bytes of a block header. */
export const BLOCK_HEADER_BYTES = 16;

const TIME_SCALE = 1000;
const QTY_SCALE = 1e8;
const TAG_TRADE = 0;
const TAG_DIFF = 1;
const TAG_JSON = 2;
const FLAG = 8;

/** `v` as an integer in `scale` units, or NaN when that is not exact (the decoder's `m / scale` must give `v` back). */
function scaled(v: number, scale: number): number {
  const m = Math.round(v * scale);
  return Number.isSafeInteger(m) && m / scale === v ? m : Number.NaN;
}

/** A growable byte buffer with LEB128 varint writers. */
class ByteWriter {
  buf = Buffer.allocUnsafe(1 << 16);
  pos = 0;

  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + n));
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  byte(b: number): void {
    this.ensure(1);
    this.buf[this.pos++] = b;
  }

  /** Unsigned integer, 0 <= n < 2^53. */
  uvar(n: number): void {
    this.ensure(8);
    while (n >= 128) {
      this.buf[this.pos++] = (n % 128) | 128;
      n = Math.floor(n / 128);
    }
    this.buf[this.pos++] = n;
  }

  /** Signed integer, |n| < 2^52, zigzag-encoded. */
  svar(n: number): void {
    this.uvar(n >= 0 ? n * 2 : -n * 2 - 1);
  }

  bytes(b: Buffer): void {
    this.ensure(b.length);
    b.copy(this.buf, this.pos);
    this.pos += b.length;
  }
}

const MAX_DELTA = 2 ** 51;
const okDelta = (d: number): boolean => d < MAX_DELTA && d > -MAX_DELTA;

/** Encodes lines into one block's payload (uncompressed); see the file comment for the layout. */
export class BlockEncoder {
  private readonly rows = new ByteWriter();
  private readonly symbols = new Map<string, number>();
  private readonly table: [Venue, string][] = [];
  /** Lines added. */
  lines = 0;
  /** Lines that went in as JSON (rare kinds, or numbers the integer scaling cannot carry exactly). */
  jsonLines = 0;
  private t = 0;
  private price = 0;
  private seq = 0;
  private tradeId = 0;

  /** Adds one line. */
  add(line: RecordedLine): void {
    this.lines++;
    if ('ev' in line && line.x === (line.ev as { exchTs?: number }).exchTs && Object.keys(line).length === 3) {
      const ev = line.ev;
      if (ev.kind === 'trade' ? this.trade(line.t, ev) : ev.kind === 'book' && this.diff(line.t, ev)) return;
    }
    this.jsonLines++;
    const json = Buffer.from(encodeLine(line));
    this.rows.byte(TAG_JSON);
    this.rows.uvar(json.length);
    this.rows.bytes(json);
  }

  private symbol(venue: Venue, symbol: string): number {
    const key = `${venue} ${symbol}`;
    let i = this.symbols.get(key);
    if (i === undefined) {
      i = this.table.length;
      this.table.push([venue, symbol]);
      this.symbols.set(key, i);
    }
    return i;
  }

  private times(t: number, exchTs: number): [number, number] | undefined {
    const tu = scaled(t, TIME_SCALE);
    const xu = scaled(exchTs, TIME_SCALE);
    return okDelta(tu - this.t) && okDelta(xu - tu) ? [tu, xu] : undefined;
  }

  private trade(t: number, ev: TradeEvent): boolean {
    if (Object.keys(ev).length !== 8 || typeof ev.tradeId !== 'string' || typeof ev.symbol !== 'string') return false;
    const times = this.times(t, ev.exchTs);
    const p = scaled(ev.price, QTY_SCALE);
    const q = scaled(ev.qty, QTY_SCALE);
    const id = Number(ev.tradeId);
    if (times === undefined || !okDelta(p - this.price) || !(q >= 0) || !okDelta(id - this.tradeId)) return false;
    if (!Number.isSafeInteger(id) || String(id) !== ev.tradeId || (ev.side !== 'buy' && ev.side !== 'sell'))
      return false;
    const w = this.rows;
    w.byte(TAG_TRADE | (ev.side === 'sell' ? FLAG : 0));
    w.uvar(this.symbol(ev.venue, ev.symbol));
    w.svar(times[0] - this.t);
    w.svar(times[1] - times[0]);
    w.svar(p - this.price);
    w.uvar(q);
    w.svar(id - this.tradeId);
    this.t = times[0];
    this.price = p;
    this.tradeId = id;
    return true;
  }

  private diff(t: number, ev: BookEvent): boolean {
    const hasPrev = ev.prevSeq !== undefined;
    if (ev.snapshot !== false || Object.keys(ev).length !== (hasPrev ? 10 : 9) || typeof ev.symbol !== 'string')
      return false;
    const times = this.times(t, ev.exchTs);
    if (times === undefined) return false;
    const { firstSeq, lastSeq } = ev;
    if (!Number.isSafeInteger(firstSeq) || !Number.isSafeInteger(lastSeq)) return false;
    if (!okDelta(firstSeq - this.seq) || !okDelta(lastSeq - firstSeq)) return false;
    if (hasPrev && !(Number.isSafeInteger(ev.prevSeq) && okDelta((ev.prevSeq as number) - firstSeq))) return false;
    if (!Array.isArray(ev.bids) || !Array.isArray(ev.asks)) return false;
    // Levels are checked before anything is written: a line is either all binary or all JSON.
    const n = ev.bids.length + ev.asks.length;
    const scaledLevels = new Array<number>(2 * n);
    let price = this.price;
    for (let i = 0; i < n; i++) {
      const level = (i < ev.bids.length ? ev.bids[i] : ev.asks[i - ev.bids.length]) as Level;
      if (!Array.isArray(level) || level.length !== 2) return false;
      const p = scaled(level[0], QTY_SCALE);
      const q = scaled(level[1], QTY_SCALE);
      if (!okDelta(p - price) || !(q >= 0)) return false;
      scaledLevels[2 * i] = p - price;
      scaledLevels[2 * i + 1] = q;
      price = p;
    }
    const w = this.rows;
    w.byte(TAG_DIFF | (hasPrev ? FLAG : 0));
    w.uvar(this.symbol(ev.venue, ev.symbol));
    w.svar(times[0] - this.t);
    w.svar(times[1] - times[0]);
    w.svar(firstSeq - this.seq);
    w.svar(lastSeq - firstSeq);
    if (hasPrev) w.svar((ev.prevSeq as number) - firstSeq);
    w.uvar(ev.bids.length);
    w.uvar(ev.asks.length);
    for (let i = 0; i < n; i++) {
      w.svar(scaledLevels[2 * i] as number);
      w.uvar(scaledLevels[2 * i + 1] as number);
    }
    this.t = times[0];
    this.seq = lastSeq;
    this.price = price;
    return true;
  }

  /** The payload: symbol table, then the rows. */
  finish(): Buffer {
    const table = Buffer.from(JSON.stringify(this.table));
    const head = new ByteWriter();
    head.uvar(table.length);
    head.bytes(table);
    return Buffer.concat([head.buf.subarray(0, head.pos), this.rows.buf.subarray(0, this.rows.pos)]);
  }
}

/** The 16-byte header of a block whose compressed payload is `payloadBytes` long. */
export function blockHeader(payloadBytes: number, lines: number): Buffer {
  const h = Buffer.alloc(BLOCK_HEADER_BYTES);
  h.writeUInt32LE(BLOCK_MAGIC, 0);
  h[4] = BLOCK_VERSION;
  h[5] = CODEC_ZLIB;
  h.writeUInt32LE(payloadBytes, 8);
  h.writeUInt32LE(lines, 12);
  return h;
}

/** A parsed block header. */
export interface BlockHeader {
  payloadBytes: number;
  lines: number;
}

/** Reads the header at `at` of `buf` (which holds at least {@link BLOCK_HEADER_BYTES} from there); throws if bad. */
export function readBlockHeader(buf: Buffer, at: number, where: string): BlockHeader {
  if (buf.readUInt32LE(at) !== BLOCK_MAGIC) malformed(where, 'not a recording block (no CSRB magic)');
  if (buf[at + 4] !== BLOCK_VERSION) malformed(where, `block format version ${buf[at + 4]}, this trader reads 1`);
  if (buf[at + 5] !== CODEC_ZLIB) malformed(where, `unknown block codec ${buf[at + 5]}`);
  return { payloadBytes: buf.readUInt32LE(at + 8), lines: buf.readUInt32LE(at + 12) };
}

function malformed(where: string, why: string): never {
  throw new TraderError('E_TRADER_MALFORMED', `${where}: ${why}`, { field: 'recording' });
}

// The decoder's cursor: module state, so the varint readers stay small enough to inline.
const EMPTY = new Uint8Array(0);
let src: Uint8Array = EMPTY;
let pos = 0;

function uvar(): number {
  let b = src[pos++] as number;
  if (b < 128) return b;
  let n = b & 127;
  let mul = 128;
  do {
    b = src[pos++] as number;
    n += (b & 127) * mul;
    mul *= 128;
  } while (b >= 128);
  return n;
}

function svar(): number {
  const u = uvar();
  return u % 2 === 0 ? u / 2 : -(u + 1) / 2;
}

/**
 * Decodes a block's payload (inflated) in batches of lines ({@link next}), so the lines of a large block are made
 * (and can die young) a batch at a time; `where` names the file and block in errors.
 */
export class BlockDecoder {
  private readonly table: [Venue, string][];
  private at = 0;
  private done = 0;
  private t = 0;
  private price = 0;
  private seq = 0;
  private tradeId = 0;

  constructor(
    private readonly payload: Buffer,
    private readonly lines: number,
    private readonly where: string,
  ) {
    src = payload;
    pos = 0;
    try {
      const tableLength = uvar();
      this.table = JSON.parse(payload.toString('utf8', pos, pos + tableLength)) as [Venue, string][];
      this.at = pos + tableLength;
    } catch (e) {
      malformed(where, `undecodable symbol table (${(e as Error).message})`);
    } finally {
      src = EMPTY;
    }
    if (lines === 0 && this.at !== payload.length) malformed(where, 'bytes after the last line');
  }

  /** Lines not decoded yet. */
  get remaining(): number {
    return this.lines - this.done;
  }

  /** The next `max` lines at most (empty at the end). */
  next(max: number): RecordedLine[] {
    const n = Math.min(max, this.lines - this.done);
    const out: RecordedLine[] = new Array(n);
    const { table, where, payload } = this;
    src = payload;
    pos = this.at;
    let { t, price, seq, tradeId } = this;
    try {
      for (let i = 0; i < n; i++) {
        const lineNo = this.done + i + 1;
        if (pos >= payload.length) malformed(where, `${lineNo - 1} of ${this.lines} lines`);
        const tag = src[pos++] as number;
        const kind = tag & 7;
        if (kind === TAG_JSON) {
          const len = uvar();
          out[i] = decodeLine(payload.toString('utf8', pos, pos + len), `${where} line ${lineNo}`);
          pos += len;
          continue;
        }
        const sym = table[uvar()];
        if (sym === undefined) malformed(where, `line ${lineNo}: symbol index out of range`);
        t += svar();
        const exchTs = (t + svar()) / TIME_SCALE;
        const recv = t / TIME_SCALE;
        if (kind === TAG_TRADE) {
          price += svar();
          const qty = uvar() / QTY_SCALE;
          tradeId += svar();
          out[i] = {
            t: recv,
            x: exchTs,
            ev: {
              kind: 'trade',
              venue: sym[0],
              symbol: sym[1],
              price: price / QTY_SCALE,
              qty,
              side: tag & FLAG ? 'sell' : 'buy',
              tradeId: String(tradeId),
              exchTs,
            },
          };
        } else if (kind === TAG_DIFF) {
          const firstSeq = seq + svar();
          const lastSeq = firstSeq + svar();
          const prevSeq = tag & FLAG ? firstSeq + svar() : undefined;
          seq = lastSeq;
          const nb = uvar();
          const na = uvar();
          const bids: Level[] = new Array(nb);
          const asks: Level[] = new Array(na);
          for (let k = 0; k < nb; k++) {
            price += svar();
            bids[k] = [price / QTY_SCALE, uvar() / QTY_SCALE];
          }
          for (let k = 0; k < na; k++) {
            price += svar();
            asks[k] = [price / QTY_SCALE, uvar() / QTY_SCALE];
          }
          const ev: BookEvent =
            prevSeq === undefined
              ? { kind: 'book', venue: sym[0], symbol: sym[1], snapshot: false, bids, asks, firstSeq, lastSeq, exchTs }
              : {
                  kind: 'book',
                  venue: sym[0],
                  symbol: sym[1],
                  snapshot: false,
                  bids,
                  asks,
                  firstSeq,
                  lastSeq,
                  prevSeq,
                  exchTs,
                };
          out[i] = { t: recv, x: exchTs, ev };
        } else malformed(where, `line ${lineNo}: unknown row tag ${tag}`);
      }
      if (pos > payload.length) malformed(where, 'a row runs past the end of the block');
    } catch (e) {
      if (e instanceof TraderError) throw e;
      malformed(where, `undecodable block (${(e as Error).message})`);
    } finally {
      this.at = pos;
      src = EMPTY;
    }
    this.done += n;
    this.t = t;
    this.price = price;
    this.seq = seq;
    this.tradeId = tradeId;
    if (this.done === this.lines && this.at !== payload.length) {
      malformed(where, `${payload.length - this.at} bytes after the last line`);
    }
    return out;
  }
}

/** Decodes a whole block's payload (inflated) into its lines. */
export function decodeBlock(payload: Buffer, lines: number, where: string): RecordedLine[] {
  return new BlockDecoder(payload, lines, where).next(lines);
}
