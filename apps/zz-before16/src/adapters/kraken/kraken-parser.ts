import { crc32 } from '../../internal/crc32.js';
import { malformed, toNum } from '../../internal/parse.js';
import { findPrice } from '../../model/order-book.js';
import type { Level, MarketEvent } from '../../model/types.js';
import { SymbolCache } from '../symbol-cache.js';
import { venueSymbolParts } from '../venue-symbol-parts.js';

const VENUE = 'kraken' as const;

/** Kraken's (v1) pair name of a symbol in the trader's spelling: `BTCUSD` -> `XBT/USD`. */
export function krakenPair(symbol: string): string {
  const parts = venueSymbolParts(VENUE, symbol);
  const legacy = (asset: string) => (asset === 'BTC' ? 'XBT' : asset === 'DOGE' ? 'XDG' : asset);
  return `${legacy(parts.base)}/${legacy(parts.quote)}`;
}

/** Kraken's checksum form of a decimal string: without the point and without leading zeros. */
function checksumPart(s: string): string {
  return s.replace('.', '').replace(/^0+/, '');
}

/**
 * One side of the checksum book: prices sorted best-first with, per level, the checksum fragment of Kraken's own
 * price and volume strings (the checksum is over the venue's strings, which numbers cannot reproduce). Sorted
 * arrays keep the top 10 a prefix, so the per-update checksum does not sort.
 */
class ChecksumSide {
  readonly prices: number[] = [];
  private readonly parts: string[] = [];

  constructor(private readonly descending: boolean) {}

  set(price: number, priceText: string, volume: number, volumeText: string): void {
    const i = findPrice(this.prices, price, this.descending);
    if (volume === 0) {
      if (i >= 0) {
        this.prices.splice(i, 1);
        this.parts.splice(i, 1);
      }
      return;
    }
    const part = checksumPart(priceText) + checksumPart(volumeText);
    if (i >= 0) this.parts[i] = part;
    else {
      this.prices.splice(-i - 1, 0, price);
      this.parts.splice(-i - 1, 0, part);
    }
  }

  /** Drops levels beyond `depth` (out of the subscription's scope), reporting each as a removal. */
  truncate(depth: number, out: Level[]): void {
    for (let i = depth; i < this.prices.length; i++) out.push([this.prices[i] as number, 0]);
    if (this.prices.length > depth) {
      this.prices.length = depth;
      this.parts.length = depth;
    }
  }

  /** The checksum fragments of the top 10. */
  top10(): string {
    let s = '';
    for (let i = 0; i < 10 && i < this.parts.length; i++) s += this.parts[i];
    return s;
  }
}

interface ChecksumBook {
  depth: number;
  asks: ChecksumSide;
  bids: ChecksumSide;
  /** False after a checksum mismatch, until the resubscription's snapshot. */
  valid: boolean;
}

/**
 * Kraken WebSocket v1 public data, already decoded: `book-<depth>` snapshots (`as`/`bs`) and updates (`a`/`b`,
 * possibly in two objects, with `c` the CRC32 checksum of the top 10 levels) and `trade` arrays. The checksum is
 * Kraken's continuity check and is verified here, the one place for this venue: the parser keeps each book in the
 * venue's strings, truncates it to the subscribed depth (emitting removals for levels that fall out of scope) and,
 * when the checksum does not match, emits a {@link GapEvent} and ignores the book's updates until a new snapshot
 * (the data client resubscribes). Book events carry a per-book counter as their sequence.
 */
export class KrakenParser {
  private readonly books = new Map<string, ChecksumBook>();
  private readonly seqBySymbol = new Map<string, number>();
  /** Pair -> trader symbol. */
  private readonly symbols = new SymbolCache();
  /** Checksum mismatches seen. */
  checksumFailures = 0;

  /** Forgets the books (the connection dropped; the resubscriptions bring snapshots). */
  reset(): void {
    this.books.clear();
  }

  /** Parses one decoded channel frame (`[channelID, payload..., channelName, pair]`), appending events to `out`. */
  parse(msg: unknown, out: MarketEvent[]): void {
    if (!Array.isArray(msg)) malformed(VENUE, 'frame is not a channel array');
    if (msg.length < 4) malformed(VENUE, 'channel array too short');
    const pair = msg[msg.length - 1];
    const channel = msg[msg.length - 2];
    if (typeof pair !== 'string' || typeof channel !== 'string') malformed(VENUE, 'channel name or pair missing');
    if (channel === 'trade') this.parseTrades(this.symbols.symbolOf(pair), msg[1], out);
    else if (channel.startsWith('book')) this.parseBook(this.symbols.symbolOf(pair), channel, msg, out);
  }

  private parseTrades(symbol: string, trades: unknown, out: MarketEvent[]): void {
    if (!Array.isArray(trades)) malformed(VENUE, 'trades is not an array');
    for (let i = 0; i < trades.length; i++) {
      const t = trades[i] as unknown;
      if (!Array.isArray(t) || t.length < 4) malformed(VENUE, `trade ${i} is not an array`);
      out.push({
        kind: 'trade',
        venue: VENUE,
        symbol,
        price: toNum(VENUE, t[0], 'trade price'),
        qty: toNum(VENUE, t[1], 'trade volume'),
        side: t[3] === 's' ? 'sell' : 'buy',
        // Kraken v1 trades have no id: time and position in the frame identify one.
        tradeId: `${symbol}-${t[2]}-${i}`,
        exchTs: Math.round(toNum(VENUE, t[2], 'trade time') * 1000),
      });
    }
  }

  private parseBook(symbol: string, channel: string, msg: unknown[], out: MarketEvent[]): void {
    let snapshot = false;
    let checksum: string | undefined;
    for (let i = 1; i < msg.length - 2; i++) {
      const p = msg[i];
      if (typeof p !== 'object' || p === null) malformed(VENUE, 'book payload is not an object');
      const part = p as Record<string, unknown>;
      if (part.as !== undefined || part.bs !== undefined) snapshot = true;
      if (typeof part.c === 'string') checksum = part.c;
    }
    let book = this.books.get(symbol);
    if (snapshot) {
      const depth = Number(channel.slice(channel.indexOf('-') + 1)) || 10;
      book = { depth, asks: new ChecksumSide(false), bids: new ChecksumSide(true), valid: true };
    } else if (book === undefined || !book.valid) {
      return; // no snapshot yet, or waiting for the resubscription's snapshot
    }
    const bids: Level[] = [];
    const asks: Level[] = [];
    let exchTs = 0;
    for (let i = 1; i < msg.length - 2; i++) {
      const part = msg[i] as Record<string, unknown>;
      exchTs = Math.max(
        exchTs,
        applyLevels(book.asks, part.as ?? part.a, asks),
        applyLevels(book.bids, part.bs ?? part.b, bids),
      );
    }
    // Stored once the snapshot has parsed completely: a malformed one leaves the previous state.
    if (snapshot) this.books.set(symbol, book);
    book.asks.truncate(book.depth, asks);
    book.bids.truncate(book.depth, bids);
    if (checksum !== undefined) {
      // Kraken's checksum: CRC32 over the top 10 asks (ascending), then the top 10 bids (descending).
      const expected = crc32(book.asks.top10() + book.bids.top10());
      if (String(expected) !== checksum) {
        book.valid = false;
        this.checksumFailures++;
        out.push({ kind: 'gap', venue: VENUE, symbol, reason: `checksum ${checksum} != ${expected}` });
        return;
      }
    }
    const seq = (this.seqBySymbol.get(symbol) ?? 0) + 1;
    this.seqBySymbol.set(symbol, seq);
    out.push({
      kind: 'book',
      venue: VENUE,
      symbol,
      snapshot,
      bids,
      asks,
      firstSeq: seq,
      lastSeq: seq,
      exchTs: exchTs > 0 ? exchTs : Date.now(),
    });
  }
}

/** Applies `[price, volume, time, flag?]` levels to a side and to `out`; returns the latest level time (epoch ms). */
function applyLevels(side: ChecksumSide, raw: unknown, out: Level[]): number {
  if (raw === undefined) return 0;
  if (!Array.isArray(raw)) return malformed(VENUE, 'book levels are not an array');
  let latest = 0;
  for (const r of raw) {
    if (!Array.isArray(r) || r.length < 3 || typeof r[0] !== 'string' || typeof r[1] !== 'string') {
      malformed(VENUE, 'book level is not [price, volume, time]');
    }
    const price = toNum(VENUE, r[0], 'price');
    const volume = toNum(VENUE, r[1], 'volume');
    side.set(price, r[0], volume, r[1]);
    out.push([price, volume]);
    const ts = toNum(VENUE, r[2], 'level time') * 1000;
    if (ts > latest) latest = ts;
  }
  return Math.round(latest);
}
