import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitFor } from '@cryptoscalp/testkit';
import { WebSocketManager } from '@cryptoscalp/ws-manager';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDataClient } from '../../src/adapters/index.js';
import { ExchangeSimulator } from '../../src/adapters/sim/exchange-simulator.js';
import { loadConfig } from '../../src/config/load-config.js';
import { TradingEngine } from '../../src/engine/trading-engine.js';
import { Journal } from '../../src/journal/journal.js';
import type { DataClient } from '../../src/model/data-client.js';

const symbols = ['BTCUSDT', 'ETHUSDT'];

/**
 * The Binance data client (ws-manager: ordering, dedup, gap detection, REST resync) feeding the engine's books,
 * which apply what arrives without checking the sequence rules again.
 */
describe('simulator faults through the Binance data client', () => {
  let sim: ExchangeSimulator;
  let engine: TradingEngine;
  let feed: DataClient;
  let journal: Journal;
  let dir: string | undefined;
  let manager: WebSocketManager | undefined;

  beforeAll(async () => {
    sim = new ExchangeSimulator({ symbols, eventsPerSecond: 300, seed: 9 });
    const { wsUrl, restUrl } = await sim.start();
    const config = loadConfig({ env: {}, overrides: { symbols, strategy: { warmupSamples: 50 } } });
    dir = mkdtempSync(join(tmpdir(), 'trader-faults-'));
    journal = Journal.open(join(dir, 'journal.jsonl'), { fsync: 'never' }).journal;
    engine = new TradingEngine({ config, journal, requestSnapshot: (s) => feed.requestSnapshot(s) });
    manager = new WebSocketManager({
      exchanges: { binance: { endpoints: [wsUrl], limits: { messagesPerSecond: 50, messageBurst: 50 } } },
    });
    feed = createDataClient({ venue: 'binance', manager, wsUrl, restUrl, symbols, sink: engine.sink });
    engine.start();
    await feed.start();
  });

  afterAll(async () => {
    await feed?.close();
    await manager?.close();
    await engine?.close();
    journal?.close();
    await sim?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
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

  it('syncs every book from the snapshot and follows the diffs', async () => {
    await progress();
    await expectTrueBooks();
  });

  it('resyncs after a sequence gap', async () => {
    const snapshots = sim.stats().snapshotsServed;
    sim.injectGap('BTCUSDT');
    await waitFor(() => sim.stats().snapshotsServed > snapshots, {
      timeoutMs: 20_000,
      what: 'gap detected and resynced',
    });
    // Detected once, by ws-manager's pipeline, and reported to the engine as a gap event.
    expect(feed.counters.gaps).toBeGreaterThanOrEqual(1);
    expect(engine.counters.gaps).toBe(feed.counters.gaps);
    await progress();
    await expectTrueBooks();
  });

  it('drops duplicates and survives malformed frames', async () => {
    const malformed = feed.counters.malformed;
    sim.duplicateNext(5);
    sim.sendMalformed(8);
    await waitFor(() => feed.counters.malformed >= malformed + 8, {
      timeoutMs: 20_000,
      what: 'duplicates and malformed counted',
    });
    await progress();
    await expectTrueBooks();
  });

  it('reconnects and resyncs after a disconnect, and resumes after a stall', async () => {
    const snapshots = sim.stats().snapshotsServed;
    sim.disconnectAll();
    await waitFor(() => sim.stats().clients === 1 && sim.stats().snapshotsServed > snapshots, {
      timeoutMs: 20_000,
      what: 'reconnect and resync',
    });
    await progress();
    await expectTrueBooks();
    sim.stall(300);
    await progress();
    await expectTrueBooks();
    expect(sim.stats().faults).toMatchObject({ disconnects: 1, gaps: 1, duplicates: 5, malformed: 8 });
  });

  it('follows the venue through clock jumps either way: only the venue times move, no resync, books true', async () => {
    const snapshots = sim.stats().snapshotsServed;
    const gaps = engine.counters.gaps;
    const engineSnapshots = engine.counters.snapshots;
    const exchTs = () => engine.books.get('BTCUSDT')?.book.exchTs ?? 0;
    for (const [jump, offset] of [
      [60_000, 60_000],
      [-120_000, -60_000],
    ] as const) {
      sim.jumpClock(jump);
      expect(sim.stats().clockOffsetMs).toBe(offset);
      const before = engine.counters.bookEvents;
      await waitFor(
        () => engine.counters.bookEvents > before + 20 && Math.abs(exchTs() - (Date.now() + offset)) < 5_000,
        {
          timeoutMs: 20_000,
          what: `book events stamped ${offset} ms off`,
        },
      );
      await expectTrueBooks();
    }
    sim.jumpClock(60_000);
    expect(sim.stats()).toMatchObject({ clockOffsetMs: 0, faults: { clockJumps: 3 } });
    await progress();
    expect(Math.abs(exchTs() - Date.now())).toBeLessThan(5_000);
    // Sequence ids decide what is applied, not times: no snapshot was needed.
    expect(sim.stats().snapshotsServed).toBe(snapshots);
    expect(engine.counters.gaps).toBe(gaps);
    expect(engine.counters.snapshots).toBe(engineSnapshots);
    expect(() => sim.jumpClock(Number.NaN)).toThrow(/finite/);
  });
});
