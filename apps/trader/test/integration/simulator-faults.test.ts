import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitFor } from '@cryptoscalp/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load-config.js';
import { TradingEngine } from '../../src/engine/trading-engine.js';
import { Journal } from '../../src/journal/journal.js';
import { DirectBinanceFeed } from '../../src/market/direct-binance-feed.js';
import { ExchangeSimulator } from '../../src/simulator/exchange-simulator.js';

const symbols = ['BTCUSDT', 'ETHUSDT'];
let sim: ExchangeSimulator;
let engine: TradingEngine;
let feed: DirectBinanceFeed;
let journal: Journal;

beforeAll(async () => {
  sim = new ExchangeSimulator({ symbols, eventsPerSecond: 300, seed: 9 });
  const { wsUrl, restUrl } = await sim.start();
  const config = loadConfig({ env: {}, overrides: { symbols, strategy: { warmupSamples: 50 } } });
  journal = Journal.open(join(mkdtempSync(join(tmpdir(), 'trader-faults-')), 'journal.jsonl'), {
    fsync: 'never',
  }).journal;
  engine = new TradingEngine({ config, journal, requestSnapshot: (s) => feed.requestSnapshot(s) });
  feed = new DirectBinanceFeed({
    wsUrl,
    restUrl,
    symbols,
    onEvent: (ev, t) => engine.onMarketEvent(ev, t),
    onSnapshot: (s, snap) => engine.onSnapshot(s, snap),
  });
  engine.start();
  feed.start();
});

afterAll(async () => {
  await feed?.close();
  await engine?.close();
  journal?.close();
  await sim?.close();
});

/** Freezes the venue, waits until the trader has every diff, and compares the whole book with the truth. */
async function expectTrueBooks(): Promise<void> {
  sim.stall(60_000);
  try {
    for (const s of symbols) {
      await waitFor(
        () => engine.isSynced(s) && engine.books.get(s)?.book.lastUpdateId === sim.trueBook(s).lastUpdateId,
        {
          timeoutMs: 20_000,
          what: `${s} caught up`,
        },
      );
      expect(engine.books.get(s)?.book.top(1000)).toEqual(sim.trueBook(s).top(1000));
    }
  } finally {
    sim.stall(0);
  }
}

async function progress(): Promise<void> {
  const before = engine.counters.bookEvents;
  await waitFor(() => engine.counters.bookEvents > before + 20, { timeoutMs: 20_000, what: 'more book events' });
}

describe('simulator faults through the direct feed', () => {
  it('syncs every book from the snapshot and follows the diffs', async () => {
    await progress();
    await expectTrueBooks();
  });

  it('resyncs after a sequence gap', async () => {
    const gaps = engine.counters.gaps;
    sim.injectGap('BTCUSDT');
    await waitFor(() => engine.counters.gaps > gaps, { timeoutMs: 20_000, what: 'gap detected' });
    await progress();
    await expectTrueBooks();
  });

  it('drops duplicates and survives malformed frames', async () => {
    const stale = engine.counters.stale;
    const malformed = feed.counters.malformed;
    sim.duplicateNext(5);
    sim.sendMalformed(8);
    await waitFor(() => engine.counters.stale >= stale + 5 && feed.counters.malformed >= malformed + 8, {
      timeoutMs: 20_000,
      what: 'duplicates and malformed counted',
    });
    await progress();
    await expectTrueBooks();
  });

  it('reconnects and resyncs after a disconnect, and resumes after a stall', async () => {
    const reconnects = feed.counters.reconnects;
    sim.disconnectAll();
    await waitFor(() => feed.counters.reconnects > reconnects, { timeoutMs: 20_000, what: 'reconnect' });
    await progress();
    await expectTrueBooks();
    sim.stall(300);
    await progress();
    await expectTrueBooks();
    expect(sim.stats().faults).toMatchObject({ disconnects: 1, gaps: 1, duplicates: 5, malformed: 8 });
  });
});
