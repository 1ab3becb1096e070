import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitFor } from '@cryptoscalp/testkit';
import { WebSocketManager } from '@cryptoscalp/ws-manager';
import { afterAll, describe, expect, it } from 'vitest';
import { createDataClient } from '../../src/adapters/index.js';
import { ExchangeSimulator } from '../../src/adapters/sim/exchange-simulator.js';
import { loadConfig } from '../../src/config/load-config.js';
import { TradingEngine } from '../../src/engine/trading-engine.js';
import { Journal } from '../../src/journal/journal.js';
import type { DataClient } from '../../src/model/data-client.js';
import type { OrderIntent } from '../../src/model/types.js';
import type { Strategy, StrategyContext } from '../../src/strategy/strategy.js';

const symbols = ['BTCUSDT', 'ETHUSDT'];

/** Wants a resting buy below the market on every book update (the engine's limit TTL cancels it). */
class EagerStrategy implements Strategy {
  readonly name = 'eager';
  onBook(ctx: StrategyContext): OrderIntent | undefined {
    if (ctx.openQty !== 0) return undefined;
    const bid = ctx.book.bestBid();
    if (bid === undefined) return undefined;
    return { symbol: ctx.symbol, side: 'buy', type: 'limit', qty: 0.001, price: bid * 0.99 };
  }
  stats() {
    return {};
  }
}

/**
 * The probe's fault: the venue restarts on the same address with its update ids reset (a new simulator numbers
 * from 1,000,000 again, below where the old one stopped). Before, every diff of the restarted venue was dropped
 * as a duplicate and the books stayed frozen on the old venue's state while its trades kept arriving.
 */
describe('fault: the venue restarts with its sequence ids reset', () => {
  const dir = mkdtempSync(join(tmpdir(), 'trader-frozen-'));
  let simA: ExchangeSimulator | undefined;
  let simB: ExchangeSimulator | undefined;
  let manager: WebSocketManager | undefined;
  let feed: DataClient | undefined;
  let engine: TradingEngine | undefined;
  let journal: Journal | undefined;

  afterAll(async () => {
    await feed?.close();
    await manager?.close();
    await engine?.close();
    journal?.close();
    await simA?.close();
    await simB?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('resyncs every book within a few seconds, and places no order on a book out of sync', async () => {
    simA = new ExchangeSimulator({ symbols, eventsPerSecond: 300, seed: 1 });
    const { wsUrl, restUrl, port } = await simA.start();
    const config = loadConfig({
      env: {},
      overrides: { symbols, instanceId: 'frozen-e2e', strategy: { limitOrderTtlMs: 300 } },
    });
    journal = Journal.open(join(dir, 'journal.jsonl'), { fsync: 'never' }).journal;
    const eng = new TradingEngine({
      config,
      journal,
      strategy: new EagerStrategy(),
      requestSnapshot: (s) => feed?.requestSnapshot(s),
    });
    engine = eng;
    manager = new WebSocketManager({
      exchanges: { binance: { endpoints: [wsUrl], limits: { messagesPerSecond: 50, messageBurst: 50 } } },
    });
    feed = createDataClient({ venue: 'binance', manager, wsUrl, restUrl, symbols, sink: eng.sink });
    // Every order: the book it was decided on, at that moment.
    const placed: { symbol: string; synced: boolean; lastUpdateId: number; at: number }[] = [];
    eng.onEntry((e) => {
      if (e.type !== 'order.submitted') return;
      const symbol = (e.data as { symbol: string }).symbol;
      const vb = eng.books.get(symbol);
      placed.push({
        symbol,
        synced: vb?.isSynced() ?? false,
        lastUpdateId: vb?.book.lastUpdateId ?? 0,
        at: Date.now(),
      });
    });
    eng.start();
    await feed.start();
    // Trade on venue A long enough that its ids run well ahead of where B starts.
    await waitFor(() => symbols.every((s) => placed.some((p) => p.symbol === s)), {
      timeoutMs: 20_000,
      what: 'orders on venue A',
    });
    await new Promise((r) => setTimeout(r, 1_500));
    const lastIdOfA = new Map(symbols.map((s) => [s, simA?.trueBook(s).lastUpdateId ?? 0]));
    await simA.close();
    simA = undefined;
    simB = new ExchangeSimulator({ symbols, eventsPerSecond: 300, seed: 2, port });
    await simB.start();
    const restartedAt = Date.now();
    const b = simB;
    for (const s of symbols) expect(b.trueBook(s).lastUpdateId).toBeLessThan(lastIdOfA.get(s) as number);

    // In sync with venue B: the book carries B's ids and B's prices (within what is in flight).
    const followsB = (s: string) => {
      const vb = eng.books.get(s);
      const truth = b.trueBook(s);
      return (
        vb?.isSynced() &&
        vb.book.lastUpdateId < (lastIdOfA.get(s) as number) &&
        vb.book.lastUpdateId > truth.lastUpdateId - 200
      );
    };
    await waitFor(() => symbols.every(followsB), { timeoutMs: 8_000, intervalMs: 20, what: 'books follow venue B' });
    const resyncMs = Date.now() - restartedAt;
    // Trading goes on on the resynced books.
    await waitFor(() => symbols.every((s) => placed.some((p) => p.symbol === s && p.at > restartedAt)), {
      timeoutMs: 10_000,
      what: 'orders on venue B',
    });
    const afterRestart = placed.filter((p) => p.at >= restartedAt);
    // No order on a book out of sync, and none on the old venue's (frozen) book.
    for (const p of afterRestart) {
      expect(p.synced).toBe(true);
      expect(p.lastUpdateId).toBeLessThan(lastIdOfA.get(p.symbol) as number);
    }
    for (const p of placed) expect(p.synced).toBe(true);
    expect(resyncMs).toBeLessThan(5_000);
    console.log(`venue restarted with reset ids: books in sync with it after ${resyncMs} ms`);
  });
});
