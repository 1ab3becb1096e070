import { crc32 as zlibCrc32 } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { parseBinanceEvent, parseBinanceSnapshot } from '../../src/adapters/binance/binance-parser.js';
import { CoinbaseParser, coinbaseProductId } from '../../src/adapters/coinbase/coinbase-parser.js';
import { KrakenParser, krakenPair } from '../../src/adapters/kraken/kraken-parser.js';
import { isTraderError } from '../../src/errors.js';
import { crc32 } from '../../src/internal/crc32.js';
import { normalizeSymbol, splitSymbol } from '../../src/model/symbols.js';
import type { Level, MarketEvent } from '../../src/model/types.js';
import { VenueBook } from '../../src/model/venue-book.js';
import { fixtureFrames, fixtureJson } from '../fixtures/load-fixture.js';

interface Expected {
  symbol: string;
  bids: Level[];
  asks: Level[];
  trades: number;
}

/** What a sink does with a venue's events, for one book: snapshots replace, diffs apply, gaps invalidate. */
function applyTo(book: VenueBook, ev: MarketEvent): void {
  if (ev.kind === 'gap') {
    if (ev.symbol === undefined || ev.symbol === book.book.symbol) book.invalidate();
  } else if (ev.kind === 'book' && ev.symbol === book.book.symbol) {
    if (ev.snapshot) book.applySnapshotEvent(ev);
    else book.applyDiff(ev);
  }
}

function parseAll(parse: (msg: unknown, out: MarketEvent[]) => void, frames: readonly string[]): MarketEvent[] {
  const out: MarketEvent[] = [];
  for (const f of frames) parse(JSON.parse(f), out);
  return out;
}

function expectMalformed(fn: () => unknown): void {
  try {
    fn();
  } catch (e) {
    expect(isTraderError(e) && e.code === 'E_TRADER_MALFORMED').toBe(true);
    return;
  }
  throw new Error('expected E_TRADER_MALFORMED');
}

describe('symbols', () => {
  it('spells venue symbols the trader way and back', () => {
    expect(normalizeSymbol('XBT/USD')).toBe('BTCUSD');
    expect(normalizeSymbol('XDG/EUR')).toBe('DOGEEUR');
    expect(normalizeSymbol('eth-usd')).toBe('ETHUSD');
    expect(normalizeSymbol('XBTUSDT')).toBe('BTCUSDT');
    expect(splitSymbol('BTCUSDT')).toEqual({ base: 'BTC', quote: 'USDT' });
    expect(splitSymbol('ETHBTC')).toEqual({ base: 'ETH', quote: 'BTC' });
    expect(splitSymbol('USDT')).toBeUndefined();
    expect(splitSymbol('BTCXYZ')).toBeUndefined();
    expect(coinbaseProductId('SOLUSD')).toBe('SOL-USD');
    expect(krakenPair('BTCUSD')).toBe('XBT/USD');
    expect(krakenPair('DOGEEUR')).toBe('XDG/EUR');
    expect(() => coinbaseProductId('BTCXYZ')).toThrow(/quote currency/);
    expect(() => krakenPair('BTCXYZ')).toThrow(/quote currency/);
  });
});

describe('Binance parser', () => {
  it('parses diffs with and without pu, trades by aggressor, and snapshots', () => {
    const frames = fixtureFrames('binance-stream.jsonl').map((f) => JSON.parse(f) as { data?: object });
    const events = frames.flatMap((f) => {
      const ev = f.data === undefined ? undefined : parseBinanceEvent(f.data as Record<string, unknown>);
      return ev === undefined ? [] : [ev];
    });
    expect(events.filter((e) => e.kind === 'book')).toHaveLength(4);
    const trades = events.filter((e) => e.kind === 'trade');
    expect(trades[0]).toMatchObject({ side: 'buy', price: 100.2, qty: 0.5, tradeId: '12345', exchTs: 1700000000149 });
    expect(trades[1]).toMatchObject({ side: 'sell' }); // m: true -> the buyer was the maker -> the aggressor sold
    const futures = parseBinanceEvent(
      JSON.parse('{"e":"depthUpdate","E":5,"s":"ETHUSDT","U":3,"u":4,"pu":2,"b":[["1.5","2"]],"a":[]}'),
    );
    expect(futures).toMatchObject({
      kind: 'book',
      symbol: 'ETHUSDT',
      firstSeq: 3,
      lastSeq: 4,
      prevSeq: 2,
      bids: [[1.5, 2]],
    });
    const spot = parseBinanceEvent(JSON.parse('{"e":"depthUpdate","E":5,"s":"ETHUSDT","U":3,"u":4,"b":[],"a":[]}'));
    expect(spot !== undefined && 'prevSeq' in spot).toBe(false);
    expect(parseBinanceSnapshot(fixtureJson('binance-depth-snapshot.json'))).toMatchObject({
      lastUpdateId: 1000,
      bids: [
        [100, 1],
        [99.9, 2],
        [99.8, 3],
      ],
    });
  });

  it('rejects malformed events with E_TRADER_MALFORMED and ignores control frames', () => {
    const p = (s: string) => parseBinanceEvent(JSON.parse(s));
    expectMalformed(() => p('{"e":"depthUpdate","s":"BTCUSDT","U":"x","u":1,"E":1,"b":[],"a":[]}'));
    expectMalformed(() => p('{"e":"depthUpdate","s":"BTCUSDT","U":1,"u":1,"E":1,"b":[["1"]],"a":[]}'));
    expectMalformed(() => p('{"e":"depthUpdate","s":"BTCUSDT","U":1,"u":1,"E":1,"b":[["1","-2"]],"a":[]}'));
    expectMalformed(() => p('{"e":"depthUpdate","U":1,"u":1,"E":1,"b":[],"a":[]}'));
    expectMalformed(() => p('{"e":"trade","p":"1","q":"1"}'));
    expectMalformed(() => p('{"foo":1}'));
    expectMalformed(() => parseBinanceSnapshot({ lastUpdateId: 'x', bids: [], asks: [] }));
    expect(p('{"e":"kline","s":"BTCUSDT"}')).toBeUndefined();
    expect(p('{"result":null,"id":1}')).toBeUndefined();
  });
});

describe('Coinbase parser (Advanced Trade)', () => {
  it('replays the fixture (l2_data snapshot and updates, market_trades, heartbeats) into the expected book', () => {
    const expected = fixtureJson<Expected>('coinbase-advanced.expected.json');
    const parser = new CoinbaseParser();
    const events = parseAll(
      (m, out) => parser.parse(m as Record<string, unknown>, out),
      fixtureFrames('coinbase-advanced.jsonl'),
    );
    const book = new VenueBook(expected.symbol);
    for (const ev of events) applyTo(book, ev);
    expect(book.isSynced()).toBe(true);
    expect(book.book.top(10)).toEqual({ bids: expected.bids, asks: expected.asks });
    expect(events.filter((e) => e.kind === 'trade')).toHaveLength(expected.trades);
    expect(events.find((e) => e.kind === 'trade')).toMatchObject({
      symbol: 'BTCUSD',
      side: 'buy',
      tradeId: '000000001',
    });
    // A per-book counter: strictly increasing, so the book never takes a diff for stale.
    expect(events.flatMap((e) => (e.kind === 'book' ? [e.lastSeq] : []))).toEqual([1, 2, 3]);
    expect(events[0]).toMatchObject({ snapshot: true, exchTs: Date.parse('2023-02-09T20:32:50.714Z') });
  });

  it('rejects malformed frames and ignores other channels', () => {
    const parser = new CoinbaseParser();
    const p = (s: string) => parser.parse(JSON.parse(s), []);
    expectMalformed(() =>
      p(
        '{"channel":"l2_data","events":[{"product_id":"BTC-USD","updates":[{"side":"x","price_level":"1","new_quantity":"1"}]}]}',
      ),
    );
    expectMalformed(() => p('{"channel":"l2_data","events":[{"updates":[]}]}'));
    expectMalformed(() => p('{"channel":"l2_data","events":[{"product_id":"BTC-USD","updates":"x"}]}'));
    expectMalformed(() => p('{"channel":"l2_data","events":"x"}'));
    expectMalformed(() => p('{"channel":"market_trades","events":[{"trades":[{"price":"1"}]}]}'));
    const out: MarketEvent[] = [];
    parser.parse({ channel: 'heartbeats', sequence_num: 9, events: [{ heartbeat_counter: 1 }] }, out);
    parser.parse({ channel: 'subscriptions', events: [] }, out);
    expect(out).toEqual([]);
  });
});

describe('Kraken parser (v1)', () => {
  it('crc32 matches zlib', () => {
    for (const s of ['', 'a', '5541300000250700000', 'The quick brown fox']) expect(crc32(s)).toBe(zlibCrc32(s));
  });

  it('checks the checksum over price and volume without the point and leading zeros', () => {
    const parser = new KrakenParser();
    const snapshot = [
      1,
      { as: [['0.05005', '0.00000500', '1.0']], bs: [['0.05000', '0.00000500', '1.0']] },
      'book-10',
      'XBT/USD',
    ];
    const good = [
      1,
      { a: [['0.05005', '0.00000600', '2.5']], c: String(crc32('5005600' + '5000500')) },
      'book-10',
      'XBT/USD',
    ];
    const out: MarketEvent[] = [];
    parser.parse(snapshot, out);
    parser.parse(good, out);
    expect(out.map((e) => e.kind)).toEqual(['book', 'book']);
    expect(out[1]).toMatchObject({ snapshot: false, asks: [[0.05005, 0.000006]], exchTs: 2500 });
    expect(parser.checksumFailures).toBe(0);
  });

  it('replays the book fixture with checksums, split updates, republish flags and depth truncation', () => {
    const expected = fixtureJson<Expected>('kraken-book.expected.json');
    const parser = new KrakenParser();
    const frames = fixtureFrames('kraken-book.jsonl').filter((f) => f.startsWith('['));
    const events = parseAll((m, out) => parser.parse(m, out), frames);
    expect(parser.checksumFailures).toBe(0);
    expect(events.some((e) => e.kind === 'gap')).toBe(false);
    const book = new VenueBook(expected.symbol);
    for (const ev of events) applyTo(book, ev);
    expect(book.book.top(10)).toEqual({ bids: expected.bids, asks: expected.asks });
    const trades = events.filter((e) => e.kind === 'trade');
    expect(trades).toHaveLength(expected.trades);
    expect(trades[0]).toMatchObject({ symbol: 'BTCUSD', side: 'buy', price: 5541.5, exchTs: 1534614057322 });
    // The second update pushed the lowest bid out of the subscribed depth of 3: removed downstream too.
    const split = events[2];
    expect(split?.kind === 'book' && split.bids).toEqual([
      [5541.25, 0.2],
      [5539.5, 0],
    ]);
  });

  it('turns a checksum mismatch into a gap and ignores the book until its next snapshot', () => {
    const frames = fixtureFrames('kraken-book.jsonl').filter((f) => f.startsWith('['));
    const parser = new KrakenParser();
    const book = new VenueBook('BTCUSD');
    const feed = (f: string) => {
      const out: MarketEvent[] = [];
      parser.parse(JSON.parse(f), out);
      for (const ev of out) applyTo(book, ev);
      return out;
    };
    feed(frames[0] as string);
    const bad = (frames[1] as string).replace(/"c":"(\d+)"/, (_m, c: string) => `"c":"${Number(c) + 1}"`);
    expect(feed(bad)).toEqual([expect.objectContaining({ kind: 'gap', venue: 'kraken', symbol: 'BTCUSD' })]);
    expect(parser.checksumFailures).toBe(1);
    expect(book.isSynced()).toBe(false);
    expect(feed(frames[2] as string)).toEqual([]);
    feed(frames[0] as string); // the resubscription's snapshot
    expect(book.isSynced()).toBe(true);
    expect(feed(frames[1] as string)[0]).toMatchObject({ kind: 'book' });
    parser.reset();
    expect(feed(frames[2] as string)).toEqual([]); // no book after a reset until a snapshot
  });

  it('rejects malformed frames and ignores other channels', () => {
    const parser = new KrakenParser();
    const p = (v: unknown) => {
      const out: MarketEvent[] = [];
      parser.parse(v, out);
      return out;
    };
    expectMalformed(() => p({ event: 'heartbeat' }));
    expectMalformed(() => p([1, 2]));
    expectMalformed(() => p([1, {}, 3, 4]));
    expectMalformed(() => p([1, 'x', 'trade', 'XBT/USD']));
    expectMalformed(() => p([1, [['1.0', '1.0']], 'trade', 'XBT/USD']));
    expectMalformed(() => p([1, { as: [[1, 2, 3]], bs: [] }, 'book-10', 'XBT/USD']));
    expectMalformed(() => p([1, 'x', 'book-10', 'XBT/USD']));
    expect(p([1, { a: [['1.0', '1.0', '1']], c: '1' }, 'book-10', 'XBT/USD'])).toEqual([]); // before any snapshot
    expect(p([1, {}, 'ohlc-1', 'XBT/USD'])).toEqual([]);
  });
});
