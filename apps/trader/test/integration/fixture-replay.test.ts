import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitFor } from '@cryptoscalp/testkit';
import { WebSocketManager } from '@cryptoscalp/ws-manager';
import { afterEach, describe, expect, it } from 'vitest';
import { type WebSocket, WebSocketServer } from 'ws';
import { createDataClient } from '../../src/adapters/index.js';
import { loadConfig } from '../../src/config/load-config.js';
import { TradingEngine } from '../../src/engine/trading-engine.js';
import { Journal } from '../../src/journal/journal.js';
import type { DataClient } from '../../src/model/data-client.js';
import type { Level, Venue } from '../../src/model/types.js';
import type { Strategy } from '../../src/strategy/strategy.js';
import { fixtureFrames, fixtureJson } from '../fixtures/load-fixture.js';

interface Expected {
  symbol: string;
  bids: Level[];
  asks: Level[];
  trades: number;
  lastUpdateId?: number;
  dropped?: number;
}

/** What the local venue received from a client, decoded. */
type Received = Record<string, unknown>;

/**
 * A local venue: replays `frames` to each WebSocket client once it sends its first (subscribe) message, as a venue
 * answers subscriptions; serves a REST depth snapshot; records what clients send and lets a test answer it.
 */
async function localVenue(
  frames: readonly string[],
  options: { snapshot?: unknown; onMessage?: (msg: Received, send: (frame: string) => void) => void } = {},
) {
  const server: Server = createServer((req, res) => {
    if (options.snapshot !== undefined && req.url?.startsWith('/api/v3/depth')) {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(options.snapshot));
      return;
    }
    res.writeHead(404).end();
  });
  const wss = new WebSocketServer({ server });
  const received: Received[] = [];
  let connections = 0;
  wss.on('connection', (ws: WebSocket) => {
    connections++;
    let replayed = false;
    ws.on('message', (raw) => {
      const msg = JSON.parse(String(raw)) as Received;
      received.push(msg);
      if (!replayed) {
        replayed = true;
        for (const f of frames) ws.send(f);
      }
      options.onMessage?.(msg, (frame) => ws.send(frame));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const { port } = server.address() as AddressInfo;
  return {
    url: `ws://127.0.0.1:${port}`,
    rest: `http://127.0.0.1:${port}`,
    received,
    connections: () => connections,
    dropAll: () => {
      for (const c of wss.clients) c.terminate();
    },
    close: async () => {
      for (const c of wss.clients) c.terminate();
      await new Promise<void>((r) => wss.close(() => r()));
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const idle: Strategy = { name: 'idle', onBook: () => undefined, stats: () => ({}) };

/** The engine (as the sink) fed by `venue`'s data client over a ws-manager connection to `url`. */
async function replayInto(venue: Venue, symbol: string, url: string, rest = '') {
  const dir = mkdtempSync(join(tmpdir(), 'trader-fixture-'));
  const { journal } = Journal.open(join(dir, 'journal.jsonl'), { fsync: 'never' });
  const config = loadConfig({ env: {}, overrides: { symbols: [symbol] } });
  let client: DataClient | undefined;
  const engine = new TradingEngine({
    config,
    journal,
    strategy: idle,
    requestSnapshot: (s) => client?.requestSnapshot(s),
  });
  const manager = new WebSocketManager({
    exchanges: { [venue]: { endpoints: [url], limits: { messagesPerSecond: 100, messageBurst: 100 } } },
  });
  client = createDataClient({ venue, manager, wsUrl: url, restUrl: rest, symbols: [symbol], sink: engine.sink });
  cleanups.push(async () => {
    await client?.close();
    await manager.close();
    await engine.close();
    journal.close();
    rmSync(dir, { recursive: true, force: true });
  });
  await client.start();
  return { engine, client, manager, book: () => engine.books.get(symbol)?.book };
}

/** Renumbers a Coinbase frame's `sequence_num`. */
const renumber = (frame: string, n: number) => frame.replace(/"sequence_num":\d+/, `"sequence_num":${n}`);

describe('recorded-format fixtures replayed by a local ws server into the engine through each data client', () => {
  it('Binance: combined stream + REST snapshot; ws-manager drops the stale diff and applies the straddling one', async () => {
    const expected = fixtureJson<Expected>('binance-stream.expected.json');
    const srv = await localVenue(fixtureFrames('binance-stream.jsonl'), {
      snapshot: fixtureJson('binance-depth-snapshot.json'),
    });
    cleanups.push(srv.close);
    const { engine, client, book } = await replayInto('binance', 'BTCUSDT', `${srv.url}/stream`, srv.rest);
    await waitFor(
      () =>
        engine.isSynced('BTCUSDT') && book()?.lastUpdateId === 1005 && engine.counters.tradeEvents === expected.trades,
      { what: 'binance book synced' },
    );
    expect(book()?.top(20)).toEqual({ bids: expected.bids, asks: expected.asks });
    const streams = (
      client as unknown as { connection: { stats(): { streams: Record<string, { duplicatesDropped: number }> } } }
    ).connection.stats().streams;
    expect(streams['btcusdt@depth@100ms']?.duplicatesDropped).toBe(expected.dropped);
    expect(engine.counters.stale).toBe(0); // the sequence rules are not checked again
    expect(client.counters).toMatchObject({ snapshots: 1, gaps: 0, malformed: 0 });
    expect(srv.received).toContainEqual({ method: 'SUBSCRIBE', params: ['btcusdt@depth@100ms'], id: 1 });
  });

  it('Coinbase Advanced Trade: level2 snapshot and updates, market_trades, heartbeats', async () => {
    const expected = fixtureJson<Expected>('coinbase-advanced.expected.json');
    const srv = await localVenue(fixtureFrames('coinbase-advanced.jsonl'));
    cleanups.push(srv.close);
    const { engine, client, book } = await replayInto('coinbase', 'BTCUSD', srv.url);
    await waitFor(() => engine.isSynced('BTCUSD') && engine.counters.bookEvents === 3, { what: 'coinbase replayed' });
    expect(book()?.top(20)).toEqual({ bids: expected.bids, asks: expected.asks });
    expect(engine.counters.tradeEvents).toBe(expected.trades);
    expect(client.counters).toMatchObject({ gaps: 0, snapshots: 1 });
    await waitFor(() => srv.received.length === 3, { what: 'subscriptions' });
    expect(srv.received).toEqual([
      { type: 'subscribe', channel: 'heartbeats' },
      { type: 'subscribe', product_ids: ['BTC-USD'], channel: 'level2' },
      { type: 'subscribe', product_ids: ['BTC-USD'], channel: 'market_trades' },
    ]);
  });

  it('Coinbase: a sequence_num gap invalidates the book until the resubscription brings a new snapshot', async () => {
    const expected = fixtureJson<Expected>('coinbase-advanced.expected.json');
    const frames = fixtureFrames('coinbase-advanced.jsonl');
    // sequence_num 5 is lost on the wire: the last update arrives as 7.
    const lossy = [...frames.slice(0, 5), renumber(frames[5] as string, 7)];
    let unsubscribed = false;
    const srv = await localVenue(lossy, {
      onMessage: (msg, send) => {
        if (msg.channel !== 'level2') return;
        if (msg.type === 'unsubscribe') unsubscribed = true;
        else if (unsubscribed) for (const [i, n] of [1, 2, 5].entries()) send(renumber(frames[n] as string, 8 + i));
      },
    });
    cleanups.push(srv.close);
    const { engine, client, book } = await replayInto('coinbase', 'BTCUSD', srv.url);
    await waitFor(() => client.counters.gaps === 1, { what: 'gap detected' });
    await waitFor(() => engine.isSynced('BTCUSD') && client.counters.snapshots === 2, { what: 'resubscribed' });
    await waitFor(() => book()?.lastUpdateId === 6, { what: 'updates after the new snapshot' });
    expect(book()?.top(20)).toEqual({ bids: expected.bids, asks: expected.asks });
    expect(engine.counters.gaps).toBe(1);
    expect(engine.counters.unsynced).toBe(1); // the update after the gap arrived while the book waited
    expect(client.counters.resyncs).toBe(1);
  });

  it('Coinbase: a disconnect invalidates the book; the reconnect resubscribes and the numbering starts over', async () => {
    const expected = fixtureJson<Expected>('coinbase-advanced.expected.json');
    const srv = await localVenue(fixtureFrames('coinbase-advanced.jsonl'));
    cleanups.push(srv.close);
    const { engine, client, book } = await replayInto('coinbase', 'BTCUSD', srv.url);
    await waitFor(() => engine.isSynced('BTCUSD') && engine.counters.bookEvents === 3, { what: 'first replay' });
    srv.dropAll();
    await waitFor(() => srv.connections() === 2 && engine.counters.bookEvents === 6, { what: 'second replay' });
    expect(engine.isSynced('BTCUSD')).toBe(true);
    expect(engine.counters.gaps).toBe(1);
    expect(client.counters.gaps).toBe(1);
    expect(book()?.top(20)).toEqual({ bids: expected.bids, asks: expected.asks });
  });

  it('Kraken v1: book with checksums, truncation to the subscribed depth, trades', async () => {
    const expected = fixtureJson<Expected>('kraken-book.expected.json');
    const srv = await localVenue(fixtureFrames('kraken-book.jsonl'));
    cleanups.push(srv.close);
    const { engine, client, book } = await replayInto('kraken', 'BTCUSD', srv.url);
    await waitFor(() => engine.counters.bookEvents === 4 && engine.counters.tradeEvents === expected.trades, {
      what: 'kraken replayed',
    });
    expect(engine.isSynced('BTCUSD')).toBe(true);
    expect(book()?.top(20)).toEqual({ bids: expected.bids, asks: expected.asks });
    expect(client.counters).toMatchObject({ gaps: 0, checksumFailures: 0, snapshots: 1 });
    await waitFor(() => srv.received.length === 2, { what: 'subscriptions' });
    expect(srv.received[0]).toEqual({
      event: 'subscribe',
      pair: ['XBT/USD'],
      subscription: { name: 'book', depth: 1000 },
    });
  });

  it('Kraken: a checksum mismatch is a gap for that book, answered by resubscribing its pair', async () => {
    const expected = fixtureJson<Expected>('kraken-book.expected.json');
    const frames = fixtureFrames('kraken-book.jsonl');
    const corrupt = frames.map((f, i) =>
      i === 3 ? f.replace(/"c":"(\d+)"/, (_m, c: string) => `"c":"${Number(c) + 1}"`) : f,
    );
    let unsubscribed = false;
    const srv = await localVenue(corrupt, {
      onMessage: (msg, send) => {
        if ((msg.subscription as { name?: string } | undefined)?.name !== 'book') return;
        if (msg.event === 'unsubscribe') unsubscribed = true;
        else if (unsubscribed) for (const f of frames.slice(2)) send(f);
      },
    });
    cleanups.push(srv.close);
    const { engine, client, book } = await replayInto('kraken', 'BTCUSD', srv.url);
    await waitFor(() => client.counters.checksumFailures === 1, { what: 'checksum mismatch' });
    await waitFor(
      () => engine.isSynced('BTCUSD') && client.counters.snapshots === 2 && engine.counters.bookEvents >= 5,
      {
        what: 'resubscribed',
      },
    );
    await waitFor(() => book()?.bestBid() === expected.bids[0]?.[0] && book()?.size().bids === 3, {
      what: 'caught up',
    });
    expect(book()?.top(20)).toEqual({ bids: expected.bids, asks: expected.asks });
    expect(engine.counters.gaps).toBe(1);
    expect(client.counters.resyncs).toBe(1);
  });

  it('refuses a manager that does not serve the venue at wsUrl', async () => {
    const manager = new WebSocketManager({ exchanges: { binance: { endpoints: ['ws://127.0.0.1:1/stream'] } } });
    cleanups.push(() => manager.close());
    const sink = { onEvent: () => {}, onSnapshot: () => true };
    const base = { manager, restUrl: '', symbols: ['BTCUSD'], sink };
    expect(() => createDataClient({ ...base, venue: 'kraken', wsUrl: 'ws://127.0.0.1:1/stream' })).toThrow(
      /no exchange named kraken/,
    );
    expect(() => createDataClient({ ...base, venue: 'binance', wsUrl: 'ws://127.0.0.1:2/stream' })).toThrow(
      /not an endpoint/,
    );
  });
});
