import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitFor } from '@cryptoscalp/testkit';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load-config.js';
import { TradingEngine } from '../../src/engine/trading-engine.js';
import { Journal } from '../../src/journal/journal.js';
import type { BookEvent, OrderIntent, TradeEvent } from '../../src/model/types.js';
import type { Strategy, StrategyContext } from '../../src/strategy/strategy.js';

const config = loadConfig({
  env: {},
  overrides: {
    symbols: ['BTCUSDT', 'ETHUSDT'],
    instanceId: 'frozen',
    execution: { latencyMs: 0 },
    strategy: { limitOrderTtlMs: 60_000 },
  },
});

/** Wants a resting buy on every book update; records the books it was asked about. */
class EagerStrategy implements Strategy {
  readonly name = 'eager';
  readonly seen: string[] = [];
  onBook(ctx: StrategyContext): OrderIntent | undefined {
    this.seen.push(ctx.symbol);
    return { symbol: ctx.symbol, side: 'buy', type: 'limit', qty: 0.001, price: 90 };
  }
  stats() {
    return {};
  }
}

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function setup(bookStaleMs = 60_000) {
  const dir = mkdtempSync(join(tmpdir(), 'trader-frozen-'));
  dirs.push(dir);
  const { journal } = Journal.open(join(dir, 'journal.jsonl'), { fsync: 'never' });
  const strategy = new EagerStrategy();
  const snapshots: string[] = [];
  const engine = new TradingEngine({
    config,
    journal,
    strategy,
    bookStaleMs,
    requestSnapshot: (s) => snapshots.push(s),
  });
  const seq = new Map<string, number>();
  const sync = (symbol: string, lastUpdateId: number) => {
    seq.set(symbol, lastUpdateId);
    engine.onSnapshot(symbol, { lastUpdateId, bids: [[100, 1]], asks: [[101, 1]] }, true);
  };
  const diff = (symbol: string, at?: number): BookEvent => {
    const u = at ?? (seq.get(symbol) ?? 0) + 1;
    seq.set(symbol, u);
    return {
      kind: 'book',
      venue: 'binance',
      symbol,
      snapshot: false,
      bids: [[100, 1 + (u % 7)]],
      asks: [],
      firstSeq: u,
      lastSeq: u,
      prevSeq: u - 1,
      exchTs: Date.now(),
    };
  };
  const trade = (symbol: string, price: number): TradeEvent => ({
    kind: 'trade',
    venue: 'binance',
    symbol,
    price,
    qty: 0.01,
    side: 'buy',
    tradeId: `${symbol}-${Math.random()}`,
    exchTs: Date.now(),
  });
  const close = async () => {
    await engine.close();
    journal.close();
  };
  return { engine, strategy, snapshots, sync, diff, trade, journal, close };
}

describe('a book that stops following its venue is resynced, and not traded on meanwhile', () => {
  it('a sequence that goes backwards takes the book out of sync; only that symbol stops trading', async () => {
    const t = setup();
    t.engine.start();
    t.sync('BTCUSDT', 5_000);
    t.sync('ETHUSDT', 7_000);
    t.engine.onMarketEvent(t.diff('BTCUSDT'));
    t.engine.onMarketEvent(t.diff('ETHUSDT'));
    expect(t.engine.orders.openCount).toBe(2);
    // The venue restarted with its ids reset: diffs far below the book's.
    t.engine.onMarketEvent(t.diff('BTCUSDT', 12));
    expect(t.engine.isSynced('BTCUSDT')).toBe(false);
    expect(t.engine.counters.desyncs).toBe(1);
    expect(t.snapshots).toEqual(['BTCUSDT']);
    expect(t.engine.outOfSync().get('BTCUSDT')?.reason).toMatch(/sequence went backwards: update 12 after 5001/);
    // Its resting order was priced from a wrong book: cancelled. The other symbol keeps its order and trades on.
    await waitFor(() => t.engine.orders.openCount === 1, { timeoutMs: 2_000, what: 'BTCUSDT order cancelled' });
    expect([...t.engine.orders.openOrders()].map((o) => o.symbol)).toEqual(['ETHUSDT']);
    const decisions = t.strategy.seen.length;
    t.engine.onMarketEvent(t.diff('BTCUSDT', 13));
    expect(t.strategy.seen.length).toBe(decisions);
    expect(t.engine.submit({ symbol: 'BTCUSDT', side: 'buy', type: 'market', qty: 0.001 })).toEqual({
      rejected: expect.stringMatching(/BTCUSDT is out of sync/),
    });
    t.engine.onMarketEvent(t.diff('ETHUSDT'));
    expect(t.strategy.seen.at(-1)).toBe('ETHUSDT');
    // The snapshot from the restarted venue brings it back.
    t.sync('BTCUSDT', 20);
    expect(t.engine.isSynced('BTCUSDT')).toBe(true);
    expect(t.engine.outOfSync().size).toBe(0);
    t.engine.onMarketEvent(t.diff('BTCUSDT'));
    expect(t.strategy.seen.at(-1)).toBe('BTCUSDT');
    await t.close();
  });

  it('a diff the snapshot already covers is not taken for a restarted venue', async () => {
    const t = setup();
    t.sync('BTCUSDT', 5_000);
    t.engine.onMarketEvent(t.diff('BTCUSDT', 4_990));
    expect(t.engine.isSynced('BTCUSDT')).toBe(true);
    expect(t.engine.counters).toMatchObject({ stale: 1, desyncs: 0 });
    await t.close();
  });

  it('a book with no depth update while its trades keep arriving is frozen: resynced, asked again until it is', async () => {
    const t = setup(200);
    t.engine.start();
    t.sync('BTCUSDT', 100);
    t.sync('ETHUSDT', 100);
    t.engine.onMarketEvent(t.diff('BTCUSDT'));
    // Quiet without trades is not frozen.
    await new Promise((r) => setTimeout(r, 400));
    expect(t.engine.isSynced('BTCUSDT')).toBe(true);
    for (let i = 0; i < 5; i++) t.engine.onMarketEvent(t.trade('BTCUSDT', 100.5));
    await waitFor(() => !t.engine.isSynced('BTCUSDT'), { timeoutMs: 3_000, what: 'frozen book detected' });
    expect(t.engine.outOfSync().get('BTCUSDT')?.reason).toMatch(/^frozen: no depth update for \d+ ms while 5 trades/);
    expect(t.engine.isSynced('ETHUSDT')).toBe(true);
    // No snapshot came: asked again.
    await waitFor(() => t.snapshots.filter((s) => s === 'BTCUSDT').length >= 2, {
      timeoutMs: 3_000,
      what: 'snapshot asked again',
    });
    t.sync('BTCUSDT', 10);
    expect(t.engine.isSynced('BTCUSDT')).toBe(true);
    await t.close();
  });

  it('trades printing outside the book take it out of sync; a sweep just past the top does not', async () => {
    const t = setup();
    t.sync('BTCUSDT', 100);
    t.engine.onMarketEvent(t.diff('BTCUSDT'));
    for (let i = 0; i < 10; i++) t.engine.onMarketEvent(t.trade('BTCUSDT', 101.5)); // ask 101: within 1%
    expect(t.engine.isSynced('BTCUSDT')).toBe(true);
    for (let i = 0; i < 4; i++) t.engine.onMarketEvent(t.trade('BTCUSDT', 110));
    expect(t.engine.isSynced('BTCUSDT')).toBe(true);
    t.engine.onMarketEvent(t.trade('BTCUSDT', 110));
    expect(t.engine.isSynced('BTCUSDT')).toBe(false);
    expect(t.engine.outOfSync().get('BTCUSDT')?.reason).toMatch(/5 trades in a row outside the book/);
    await t.close();
  });
});
