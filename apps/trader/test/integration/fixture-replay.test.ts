import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { waitFor } from '@cryptoscalp/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import { BinanceBookSync } from '../../src/adapters/binance/binance-book-sync.js';
import { CoinbaseAdapter } from '../../src/adapters/coinbase/coinbase-parser.js';
import { DirectBinanceFeed } from '../../src/adapters/binance/direct-binance-feed.js';
import { KrakenAdapter } from '../../src/adapters/kraken/kraken-parser.js';
import type { VenueAdapter } from '../../src/adapters/venue-adapter.js';
import { VenueBook } from '../../src/adapters/venue-book.js';
import type { Level } from '../../src/model/types.js';
import { fixtureFrames, fixtureJson } from '../fixtures/load-fixture.js';

interface Expected {
  symbol: string;
  bids: Level[];
  asks: Level[];
  trades: number;
}

/** A local venue: replays a fixture's frames to every WebSocket client and serves a REST snapshot. */
async function replayServer(
  frames: string[],
  snapshot?: unknown,
): Promise<{ url: string; rest: string; close: () => Promise<void> }> {
  const server: Server = createServer((req, res) => {
    if (snapshot !== undefined && req.url?.startsWith('/api/v3/depth')) {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(snapshot));
      return;
    }
    res.writeHead(404).end();
  });
  const wss = new WebSocketServer({ server });
  wss.on('connection', (ws) => {
    for (const f of frames) ws.send(f);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const { port } = server.address() as AddressInfo;
  return {
    url: `ws://127.0.0.1:${port}`,
    rest: `http://127.0.0.1:${port}`,
    close: async () => {
      for (const c of wss.clients) c.terminate();
      await new Promise<void>((r) => wss.close(() => r()));
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

async function replayVenue(adapter: VenueAdapter, fixture: string): Promise<void> {
  const expected = fixtureJson<Expected>(fixture.replace('.jsonl', '.expected.json'));
  const frames = fixtureFrames(fixture);
  const srv = await replayServer(frames);
  cleanups.push(srv.close);
  const book = new VenueBook(expected.symbol);
  let received = 0;
  let trades = 0;
  const ws = new WebSocket(srv.url);
  cleanups.push(async () => ws.terminate());
  ws.on('message', (data) => {
    received++;
    for (const ev of adapter.parse(String(data))) {
      if (ev.kind === 'trade') trades++;
      book.apply(ev);
    }
  });
  await waitFor(() => received === frames.length, { what: `${fixture} replayed` });
  expect(book.isSynced()).toBe(true);
  expect(book.book.top(20)).toEqual({ bids: expected.bids, asks: expected.asks });
  expect(trades).toBe(expected.trades);
}

describe('recorded-format fixtures replayed by a local ws server', () => {
  it('Binance: combined stream + REST snapshot through the direct feed and the sync rules', async () => {
    const expected = fixtureJson<Expected>('binance-stream.expected.json');
    const srv = await replayServer(fixtureFrames('binance-stream.jsonl'), fixtureJson('binance-depth-snapshot.json'));
    cleanups.push(srv.close);
    const sync = new BinanceBookSync('BTCUSDT');
    let trades = 0;
    const feed = new DirectBinanceFeed({
      wsUrl: `${srv.url}/stream`,
      restUrl: srv.rest,
      symbols: ['BTCUSDT'],
      onEvent: (ev) => {
        if (ev.kind === 'book') sync.onDiff(ev);
        else if (ev.kind === 'trade') trades++;
      },
      onSnapshot: (_s, snap) => sync.onSnapshot(snap),
    });
    cleanups.push(() => feed.close());
    feed.start();
    await waitFor(() => sync.isSynced() && sync.book.lastUpdateId === 1005 && trades === expected.trades, {
      what: 'binance book synced',
    });
    expect(sync.book.top(20)).toEqual({ bids: expected.bids, asks: expected.asks });
  });

  it('Coinbase Advanced Trade', async () => {
    await replayVenue(new CoinbaseAdapter(), 'coinbase-advanced.jsonl');
  });

  it('Coinbase Exchange level2', async () => {
    await replayVenue(new CoinbaseAdapter(), 'coinbase-exchange.jsonl');
  });

  it('Kraken v1 book with checksums', async () => {
    await replayVenue(new KrakenAdapter(), 'kraken-book.jsonl');
  });
});
