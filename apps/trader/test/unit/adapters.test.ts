import { crc32 as zlibCrc32 } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { isTraderError } from '../../src/errors.js';
import { crc32 } from '../../src/internal/crc32.js';
import { BinanceAdapter, parseBinanceSnapshot } from '../../src/adapters/binance/binance-parser.js';
import { BinanceBookSync } from '../../src/adapters/binance/binance-book-sync.js';
import { CoinbaseAdapter } from '../../src/adapters/coinbase/coinbase-parser.js';
import { KrakenAdapter, krakenChecksum } from '../../src/adapters/kraken/kraken-parser.js';
import { normalizeSymbol, type VenueAdapter } from '../../src/adapters/venue-adapter.js';
import { VenueBook } from '../../src/adapters/venue-book.js';
import type { Level, MarketEvent } from '../../src/model/types.js';
import { fixtureFrames, fixtureJson } from '../fixtures/load-fixture.js';

interface Expected {
  symbol: string;
  bids: Level[];
  asks: Level[];
  trades: number;
  lastUpdateId?: number;
  dropped?: number;
  tradeSide?: string;
}

function replayVenue(adapter: VenueAdapter, fixture: string): { book: VenueBook; events: MarketEvent[] } {
  const expected = fixtureJson<Expected>(fixture.replace('.jsonl', '.expected.json'));
  const book = new VenueBook(expected.symbol);
  const events: MarketEvent[] = [];
  for (const frame of fixtureFrames(fixture)) {
    for (const ev of adapter.parse(frame)) {
      events.push(ev);
      book.apply(ev);
    }
  }
  return { book, events };
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

describe('BinanceAdapter', () => {
  it('replays the recorded stream onto the snapshot by the sync rules', () => {
    const expected = fixtureJson<Expected>('binance-stream.expected.json');
    const adapter = new BinanceAdapter();
    const sync = new BinanceBookSync('BTCUSDT');
    const trades: MarketEvent[] = [];
    for (const frame of fixtureFrames('binance-stream.jsonl')) {
      for (const ev of adapter.parse(frame)) {
        if (ev.kind === 'book') sync.onDiff(ev);
        else trades.push(ev);
      }
    }
    expect(sync.onSnapshot(parseBinanceSnapshot(fixtureJson('binance-depth-snapshot.json')))).toBe(true);
    expect(sync.book.top(10)).toEqual({ bids: expected.bids, asks: expected.asks });
    expect(sync.book.lastUpdateId).toBe(expected.lastUpdateId);
    expect(sync.counters.dropped).toBe(expected.dropped);
    expect(trades).toHaveLength(expected.trades);
    expect(trades[0]).toMatchObject({ kind: 'trade', side: 'buy', price: 100.2, qty: 0.5, tradeId: '12345' });
    expect(trades[1]).toMatchObject({ side: 'sell' }); // m: true -> buyer was maker -> aggressor sold
  });

  it('parses raw (non-combined) frames and carries pu', () => {
    const [ev] = new BinanceAdapter().parse(
      '{"e":"depthUpdate","E":5,"s":"ETHUSDT","U":3,"u":4,"pu":2,"b":[["1.5","2"]],"a":[]}',
    );
    expect(ev).toMatchObject({
      kind: 'book',
      symbol: 'ETHUSDT',
      firstSeq: 3,
      lastSeq: 4,
      prevSeq: 2,
      bids: [[1.5, 2]],
    });
    const [spot] = new BinanceAdapter().parse('{"e":"depthUpdate","E":5,"s":"ETHUSDT","U":3,"u":4,"b":[],"a":[]}');
    expect(spot && 'prevSeq' in spot).toBe(false);
  });

  it('rejects malformed frames with E_TRADER_MALFORMED', () => {
    const a = new BinanceAdapter();
    expectMalformed(() => a.parse('{"stream":'));
    expectMalformed(() => a.parse('[]'));
    expectMalformed(() =>
      a.parse('{"stream":"x","data":{"e":"depthUpdate","s":"BTCUSDT","U":"x","u":1,"E":1,"b":[],"a":[]}}'),
    );
    expectMalformed(() => a.parse('{"e":"depthUpdate","s":"BTCUSDT","U":1,"u":1,"E":1,"b":[["1"]],"a":[]}'));
    expectMalformed(() => a.parse('{"e":"depthUpdate","s":"BTCUSDT","U":1,"u":1,"E":1,"b":[["1","-2"]],"a":[]}'));
    expectMalformed(() => a.parse('{"e":"depthUpdate","U":1,"u":1,"E":1,"b":[],"a":[]}'));
    expectMalformed(() => a.parse('{"e":"trade","p":"1","q":"1"}'));
    expectMalformed(() => a.parse('{"foo":1}'));
    expectMalformed(() => parseBinanceSnapshot({ lastUpdateId: 'x', bids: [], asks: [] }));
    expect(a.parse('{"e":"kline","s":"BTCUSDT"}')).toEqual([]);
    a.reset();
  });
});

describe('CoinbaseAdapter', () => {
  it('replays the Advanced Trade fixture (l2_data, market_trades, heartbeats)', () => {
    const expected = fixtureJson<Expected>('coinbase-advanced.expected.json');
    const { book, events } = replayVenue(new CoinbaseAdapter(), 'coinbase-advanced.jsonl');
    expect(book.isSynced()).toBe(true);
    expect(book.book.top(10)).toEqual({ bids: expected.bids, asks: expected.asks });
    expect(events.filter((e) => e.kind === 'trade')).toHaveLength(expected.trades);
    expect(events.some((e) => e.kind === 'gap')).toBe(false);
  });

  it('replays the Exchange level2 fixture, taking the aggressor side from the maker side', () => {
    const expected = fixtureJson<Expected>('coinbase-exchange.expected.json');
    const { book, events } = replayVenue(new CoinbaseAdapter(), 'coinbase-exchange.jsonl');
    expect(book.book.top(10)).toEqual({ bids: expected.bids, asks: expected.asks });
    const trades = events.filter((e) => e.kind === 'trade');
    expect(trades).toHaveLength(expected.trades);
    expect(trades[0]).toMatchObject({ side: expected.tradeSide, qty: 0.25 });
  });

  it('reports a sequence_num jump as a gap, ignores replays, and resyncs on the next snapshot', () => {
    const frames = fixtureFrames('coinbase-advanced.jsonl');
    const adapter = new CoinbaseAdapter();
    const book = new VenueBook('BTCUSD');
    for (const f of frames.slice(0, 3)) for (const ev of adapter.parse(f)) book.apply(ev);
    expect(adapter.parse(frames[2] as string)).toEqual([]); // replayed sequence_num 2
    const jumped = (frames[5] as string).replace('"sequence_num":5', '"sequence_num":9');
    const evs = adapter.parse(jumped);
    expect(evs[0]).toMatchObject({ kind: 'gap', venue: 'coinbase' });
    for (const ev of evs) book.apply(ev);
    expect(book.isSynced()).toBe(false);
    expect(book.apply(adapter.parse(jumped.replace('"sequence_num":9', '"sequence_num":10'))[0] as MarketEvent)).toBe(
      false,
    );
    const resnap = (frames[1] as string).replace('"sequence_num":1', '"sequence_num":11');
    for (const ev of adapter.parse(resnap)) book.apply(ev);
    expect(book.isSynced()).toBe(true);
    adapter.reset();
    expect(adapter.parse(frames[3] as string)).toHaveLength(1);
  });

  it('rejects malformed frames', () => {
    const a = new CoinbaseAdapter();
    expectMalformed(() => a.parse('nope'));
    expectMalformed(() => a.parse('{"type":"l2update","product_id":"BTC-USD","changes":[["up","1","1"]]}'));
    expectMalformed(() => a.parse('{"type":"l2update","product_id":"BTC-USD","changes":"x"}'));
    expectMalformed(() => a.parse('{"type":"snapshot","bids":[],"asks":[]}'));
    expectMalformed(() => a.parse('{"type":"error","message":"bad"}'));
    expectMalformed(() => a.parse('{"type":"what"}'));
    expectMalformed(() =>
      a.parse(
        '{"channel":"l2_data","events":[{"product_id":"BTC-USD","updates":[{"side":"x","price_level":"1","new_quantity":"1"}]}]}',
      ),
    );
    expectMalformed(() => a.parse('{"channel":"l2_data","events":"x"}'));
    expectMalformed(() => a.parse('{"channel":"market_trades","events":[{"trades":[{"price":"1"}]}]}'));
    expect(a.parse('{"type":"heartbeat"}')).toEqual([]);
  });
});

describe('KrakenAdapter', () => {
  it('crc32 matches zlib', () => {
    for (const s of ['', 'a', '5541300000250700000', 'The quick brown fox']) expect(crc32(s)).toBe(zlibCrc32(s));
  });

  it('computes the checksum over price and volume without the point and leading zeros', () => {
    const asks: [string, string][] = [['0.05005', '0.00000500']];
    const bids: [string, string][] = [['0.05000', '0.00000500']];
    expect(krakenChecksum(asks, bids)).toBe(crc32('5005500' + '5000500'));
  });

  it('replays the v1 book fixture with checksums, split updates, republish flags and depth truncation', () => {
    const expected = fixtureJson<Expected>('kraken-book.expected.json');
    const adapter = new KrakenAdapter();
    const { book, events } = replayVenue(adapter, 'kraken-book.jsonl');
    expect(adapter.checksumFailures).toBe(0);
    expect(events.some((e) => e.kind === 'gap')).toBe(false);
    expect(book.book.top(10)).toEqual({ bids: expected.bids, asks: expected.asks });
    const trades = events.filter((e) => e.kind === 'trade');
    expect(trades).toHaveLength(expected.trades);
    expect(trades[0]).toMatchObject({ symbol: 'BTCUSD', side: 'buy', price: 5541.5, exchTs: 1534614057322 });
  });

  it('turns a checksum mismatch into a gap and ignores updates until the next snapshot', () => {
    const frames = fixtureFrames('kraken-book.jsonl');
    const adapter = new KrakenAdapter();
    const book = new VenueBook('BTCUSD');
    for (const f of frames.slice(0, 3)) for (const ev of adapter.parse(f)) book.apply(ev);
    const bad = (frames[3] as string).replace(/"c":"(\d+)"/, (_m, c: string) => `"c":"${Number(c) + 1}"`);
    const evs = adapter.parse(bad);
    expect(evs).toEqual([expect.objectContaining({ kind: 'gap', symbol: 'BTCUSD' })]);
    for (const ev of evs) book.apply(ev);
    expect(book.isSynced()).toBe(false);
    expect(adapter.parse(frames[4] as string)).toEqual([]);
    for (const ev of adapter.parse(frames[2] as string)) book.apply(ev); // resubscribed: new snapshot
    expect(book.isSynced()).toBe(true);
    expect(adapter.parse(frames[3] as string)[0]).toMatchObject({ kind: 'book' });
  });

  it('rejects malformed frames and ignores events', () => {
    const a = new KrakenAdapter();
    expectMalformed(() => a.parse('{'));
    expectMalformed(() => a.parse('42'));
    expectMalformed(() => a.parse('[1,2]'));
    expectMalformed(() => a.parse('[1,{},3,4]'));
    expectMalformed(() => a.parse('[1,"x","trade","XBT/USD"]'));
    expectMalformed(() => a.parse('[1,{"as":[[1,2]],"bs":[]},"book-10","XBT/USD"]'));
    expect(a.parse('{"event":"pong"}')).toEqual([]);
    expect(a.parse('[1,{"a":[["1.0","1.0","1"]],"c":"1"},"book-10","XBT/USD"]')).toEqual([]); // before any snapshot
    expect(a.parse('[1,{},"ohlc-1","XBT/USD"]')).toEqual([]);
  });

  it('normalizes symbols', () => {
    expect(normalizeSymbol('XBT/USD')).toBe('BTCUSD');
    expect(normalizeSymbol('eth-usd')).toBe('ETHUSD');
  });
});
