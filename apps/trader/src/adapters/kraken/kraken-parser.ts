import { crc32 } from '../../internal/crc32.js';
import { malformed, parseJson, toNum } from '../../internal/parse.js';
import type { Level, MarketEvent } from '../../model/types.js';
import { normalizeSymbol, type VenueAdapter } from '../venue-adapter.js';

const VENUE = 'kraken' as const;

/** One side of Kraken's checksum book: price -> [priceString, volumeString]. */
type StringSide = Map<number, [string, string]>;

interface KrakenBook {
  depth: number;
  asks: StringSide;
  bids: StringSide;
  seq: number;
  valid: boolean;
}

/** Kraken's checksum field form: the decimal string without the point and without leading zeros. */
function checksumPart(s: string): string {
  return s.replace('.', '').replace(/^0+/, '');
}

/** Kraken's book checksum: CRC32 over the top 10 asks (ascending) then the top 10 bids (descending). */
export function krakenChecksum(asks: [string, string][], bids: [string, string][]): number {
  let s = '';
  for (const [p, v] of asks.slice(0, 10)) s += checksumPart(p) + checksumPart(v);
  for (const [p, v] of bids.slice(0, 10)) s += checksumPart(p) + checksumPart(v);
  return crc32(s);
}

function sorted(side: StringSide, descending: boolean): [string, string][] {
  const keys = [...side.keys()].sort((a, b) => (descending ? b - a : a - b));
  return keys.map((k) => side.get(k) as [string, string]);
}

/**
 * Kraken WebSocket v1 public data: `book-<depth>` snapshots (`as`/`bs`) and updates (`a`/`b`, possibly in two
 * objects, with `c` the CRC32 checksum of the top 10 levels) and `trade` arrays. The adapter keeps a string
 * copy of each book to verify the checksum after every update, truncates to the subscribed depth (emitting
 * removals for levels that fall out of scope) and emits a gap event when the checksum does not match:
 * the book must be resubscribed for a fresh snapshot.
 */
export class KrakenAdapter implements VenueAdapter {
  readonly venue = VENUE;
  private readonly books = new Map<string, KrakenBook>();
  /** Checksum mismatches seen. */
  checksumFailures = 0;

  reset(): void {
    this.books.clear();
  }

  parse(raw: string): MarketEvent[] {
    const msg = parseJson(VENUE, raw);
    if (!Array.isArray(msg)) {
      if (typeof msg === 'object' && msg !== null && typeof (msg as { event?: unknown }).event === 'string') return [];
      return malformed(VENUE, 'frame is neither an event object nor a channel array');
    }
    if (msg.length < 4) malformed(VENUE, 'channel array too short');
    const pair = msg[msg.length - 1];
    const channel = msg[msg.length - 2];
    if (typeof pair !== 'string' || typeof channel !== 'string') malformed(VENUE, 'channel name or pair missing');
    const symbol = normalizeSymbol(pair);
    if (channel === 'trade') return this.parseTrades(symbol, msg[1]);
    if (channel.startsWith('book')) {
      const depth = Number(channel.split('-')[1] ?? 10);
      return this.parseBook(symbol, depth, msg.slice(1, -2));
    }
    return [];
  }

  private parseTrades(symbol: string, trades: unknown): MarketEvent[] {
    if (!Array.isArray(trades)) malformed(VENUE, 'trades is not an array');
    return trades.map((t, i) => {
      if (!Array.isArray(t) || t.length < 4) malformed(VENUE, `trade ${i} is not an array`);
      const time = toNum(VENUE, t[2], 'trade time');
      return {
        kind: 'trade' as const,
        venue: VENUE,
        symbol,
        price: toNum(VENUE, t[0], 'trade price'),
        qty: toNum(VENUE, t[1], 'trade volume'),
        side: t[3] === 's' ? ('sell' as const) : ('buy' as const),
        tradeId: `${symbol}-${t[2]}-${i}`,
        exchTs: Math.round(time * 1000),
      };
    });
  }

  private parseBook(symbol: string, depth: number, parts: unknown[]): MarketEvent[] {
    let asksRaw: unknown[] = [];
    let bidsRaw: unknown[] = [];
    let checksum: string | undefined;
    let snapshot = false;
    for (const part of parts) {
      if (typeof part !== 'object' || part === null) malformed(VENUE, 'book payload is not an object');
      const p = part as Record<string, unknown>;
      if (p.as !== undefined || p.bs !== undefined) {
        snapshot = true;
        asksRaw = (p.as as unknown[]) ?? [];
        bidsRaw = (p.bs as unknown[]) ?? [];
      }
      if (p.a !== undefined) asksRaw = asksRaw.concat(p.a as unknown[]);
      if (p.b !== undefined) bidsRaw = bidsRaw.concat(p.b as unknown[]);
      if (typeof p.c === 'string') checksum = p.c;
    }
    let book = this.books.get(symbol);
    if (snapshot || book === undefined) {
      if (!snapshot) return []; // an update before any snapshot: nothing to apply it to
      // Stored only once the snapshot has parsed completely.
      book = { depth, asks: new Map(), bids: new Map(), seq: this.books.get(symbol)?.seq ?? 0, valid: true };
    } else if (!book.valid) {
      return []; // waiting for the resubscription's snapshot
    }
    const asks: Level[] = [];
    const bids: Level[] = [];
    const applyTo = (side: StringSide, raws: unknown[], out: Level[]) => {
      for (const r of raws) {
        if (!Array.isArray(r) || r.length < 2 || typeof r[0] !== 'string' || typeof r[1] !== 'string') {
          malformed(VENUE, 'book level is not [price, volume, time]');
        }
        const price = toNum(VENUE, r[0], 'price');
        const vol = toNum(VENUE, r[1], 'volume');
        if (vol === 0) side.delete(price);
        else side.set(price, [r[0], r[1]]);
        out.push([price, vol]);
      }
    };
    applyTo(book.asks, asksRaw, asks);
    applyTo(book.bids, bidsRaw, bids);
    if (snapshot) this.books.set(symbol, book);
    // Levels beyond the subscribed depth are out of scope: remove them here and downstream.
    const truncate = (side: StringSide, descending: boolean, out: Level[]) => {
      if (side.size <= book.depth) return;
      const keys = [...side.keys()].sort((a, b) => (descending ? b - a : a - b));
      for (const k of keys.slice(book.depth)) {
        side.delete(k);
        out.push([k, 0]);
      }
    };
    truncate(book.asks, false, asks);
    truncate(book.bids, true, bids);
    const seq = ++book.seq;
    if (checksum !== undefined) {
      const expected = krakenChecksum(sorted(book.asks, false), sorted(book.bids, true));
      if (String(expected) !== checksum) {
        book.valid = false;
        this.checksumFailures++;
        return [{ kind: 'gap', venue: VENUE, symbol, reason: `checksum ${checksum} != ${expected}` }];
      }
    }
    return [
      { kind: 'book', venue: VENUE, symbol, snapshot, bids, asks, firstSeq: seq, lastSeq: seq, exchTs: Date.now() },
    ];
  }
}
