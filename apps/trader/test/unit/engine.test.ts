import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load-config.js';
import { TradingEngine } from '../../src/engine/trading-engine.js';
import { Journal } from '../../src/journal/journal.js';
import type { ExecutionClient, ExecutionEvent } from '../../src/model/execution-client.js';
import type { BookEvent, MarketEvent, OrderIntent } from '../../src/model/types.js';
import type { Strategy, StrategyContext } from '../../src/strategy/strategy.js';

const config = loadConfig({
  env: {},
  overrides: {
    symbols: ['BTCUSDT'],
    instanceId: 'unit',
    execution: { latencyMs: 0 },
    strategy: { limitOrderTtlMs: 60_000 },
  },
});

/** Emits the queued intents one per book update. */
class ScriptedStrategy implements Strategy {
  readonly name = 'scripted';
  readonly queue: OrderIntent[] = [];
  readonly seen: StrategyContext[] = [];
  onBook(ctx: StrategyContext): OrderIntent | undefined {
    this.seen.push({ ...ctx });
    return this.queue.shift();
  }
  stats() {
    return { queued: this.queue.length };
  }
}

let u = 100;
function diff(bids: [number, number][], asks: [number, number][]): BookEvent {
  const ev: BookEvent = {
    kind: 'book',
    venue: 'binance',
    symbol: 'BTCUSDT',
    snapshot: false,
    bids,
    asks,
    firstSeq: u + 1,
    lastSeq: u + 1,
    prevSeq: u,
    exchTs: Date.now(),
  };
  u++;
  return ev;
}
const settle = () => new Promise((r) => setTimeout(r, 20));
const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
function tmpJournal(): string {
  const dir = mkdtempSync(join(tmpdir(), 'trader-engine-'));
  dirs.push(dir);
  return join(dir, 'journal.jsonl');
}

function setup(path: string) {
  const { journal, recovery } = Journal.open(path, { fsync: 'never' });
  const strategy = new ScriptedStrategy();
  const snapshots: string[] = [];
  const engine = new TradingEngine({ config, journal, strategy, requestSnapshot: (s) => snapshots.push(s) });
  return { journal, recovery, strategy, engine, snapshots };
}

function syncBook(engine: TradingEngine): void {
  u = 100;
  expect(
    engine.onSnapshot('BTCUSDT', {
      lastUpdateId: 100,
      bids: [
        [100, 1],
        [99, 5],
      ],
      asks: [
        [101, 1],
        [102, 5],
      ],
    }),
  ).toBe(true);
}

describe('TradingEngine', () => {
  it('journals each order before execution sees it, fills into positions, and replays to the same state', async () => {
    const path = tmpJournal();
    const a = setup(path);
    const entries: string[] = [];
    a.engine.onEntry((e) => entries.push(e.type));
    a.engine.start();
    syncBook(a.engine);
    a.strategy.queue.push(
      { symbol: 'BTCUSDT', side: 'buy', type: 'market', qty: 1.5 },
      { symbol: 'BTCUSDT', side: 'sell', type: 'limit', qty: 1, price: 103 },
      { symbol: 'BTCUSDT', side: 'buy', type: 'limit', qty: 0.5, price: 95 },
    );
    const submitted = a.engine.execution.submit.bind(a.engine.execution);
    a.engine.execution.submit = (order) => {
      // The journal holds the order before the venue is told.
      expect(a.journal.lastSeq).toBeGreaterThan(0);
      expect(
        Journal.read(path).some((e) => (e.data as { clientOrderId?: string }).clientOrderId === order.clientOrderId),
      ).toBe(true);
      submitted(order);
    };
    a.engine.onMarketEvent(diff([[100, 2]], []));
    await settle();
    a.engine.onMarketEvent(diff([], [[101, 1]]));
    await settle();
    a.engine.onMarketEvent(diff([], []));
    await settle();
    // Sell limit at 103 fills when a trade prints through it.
    a.engine.onMarketEvent({
      kind: 'trade',
      venue: 'binance',
      symbol: 'BTCUSDT',
      price: 103.5,
      qty: 0.4,
      side: 'buy',
      tradeId: '1',
      exchTs: Date.now(),
    });
    await settle();
    expect(a.strategy.seen[1]?.position).toBeCloseTo(1.5);
    const pos = a.engine.portfolio.snapshot('BTCUSDT');
    expect(pos.qty).toBeCloseTo(1.1);
    expect(pos.fills).toBe(3); // 101 x1, 102 x0.5, then 103 x0.4
    expect(a.engine.orders.get('unit-0000000001')?.status).toBe('filled');
    expect(a.engine.orders.get('unit-0000000002')?.status).toBe('partially_filled');
    expect(a.engine.orders.get('unit-0000000003')?.status).toBe('accepted');
    expect(entries.filter((t) => t === 'fill')).toHaveLength(3);
    expect(a.engine.latency.tickToJournaled.count).toBe(3);
    expect(a.engine.latency.tickToDecision.count).toBe(3);
    const stats = a.engine.stats() as { counters: { ordersSubmitted: number; fills: number } };
    expect(stats.counters).toMatchObject({ ordersSubmitted: 3, fills: 3 });
    // "Crash": no close of the engine; only the journal file remains.
    await a.engine.close();
    a.journal.close();

    const b = setup(path);
    const report = b.engine.replay(b.recovery.entries);
    expect(report).toMatchObject({ orders: 3, fills: 3, reconciledCancelled: 2, skipped: 0 });
    const core = ({ qty, avgPrice, realized, fees, volume, fills }: typeof pos) => ({
      qty,
      avgPrice,
      realized,
      fees,
      volume,
      fills,
    });
    expect(core(b.engine.portfolio.snapshot('BTCUSDT'))).toEqual(core(pos));
    expect(b.engine.orders.get('unit-0000000002')?.status).toBe('cancelled');
    expect(b.engine.orders.get('unit-0000000002')?.filledQty).toBeCloseTo(0.4);
    expect(b.engine.ids.next()).toBe('unit-0000000004');
    // A second replay of the same journal (now with the reconcile entries) is stable.
    b.journal.close();
    const c = setup(path);
    expect(c.engine.replay(c.recovery.entries)).toMatchObject({ orders: 3, reconciledCancelled: 0, skipped: 0 });
    expect(core(c.engine.portfolio.snapshot('BTCUSDT'))).toEqual(core(pos));
    c.journal.close();
  });

  it('applies what the data client delivers: ignores diffs before the snapshot, drops stale ones, gaps invalidate', () => {
    const path = tmpJournal();
    const a = setup(path);
    u = 100;
    a.engine.onMarketEvent(diff([[1, 1]], []));
    expect(a.strategy.seen).toHaveLength(0);
    expect(a.engine.counters.unsynced).toBe(1); // the client buffers until the snapshot, not the engine
    expect(a.engine.onSnapshot('BTCUSDT', { lastUpdateId: 100, bids: [[100, 1]], asks: [[101, 1]] })).toBe(true);
    expect(a.engine.books.get('BTCUSDT')?.book.top(5).bids).toEqual([[100, 1]]);
    // Diffs the snapshot already covers (the REST snapshot raced the stream) are dropped before the first applied.
    const stale = { ...diff([], []), firstSeq: 50, lastSeq: 60, prevSeq: 49 };
    u--;
    a.engine.onMarketEvent(stale);
    expect(a.engine.counters.stale).toBe(1);
    expect(a.engine.isSynced('BTCUSDT')).toBe(true);
    a.engine.onMarketEvent(diff([], []));
    expect(a.strategy.seen).toHaveLength(1);
    // Continuity is the data client's: a jump is applied as delivered, no snapshot is asked for.
    u += 5;
    a.engine.onMarketEvent(diff([], []));
    expect(a.strategy.seen).toHaveLength(2);
    expect(a.snapshots).toEqual([]);
    // A snapshot for a synced book is ignored unless forced (the client saw a gap).
    a.engine.onSnapshot('BTCUSDT', { lastUpdateId: 1, bids: [[50, 1]], asks: [[51, 1]] });
    expect(a.engine.books.get('BTCUSDT')?.book.bestBid()).toBe(100);
    a.engine.onMarketEvent({ kind: 'gap', venue: 'binance', symbol: 'BTCUSDT', reason: 'test' });
    expect(a.snapshots).toEqual(['BTCUSDT']);
    expect(a.engine.isSynced('BTCUSDT')).toBe(false);
    a.engine.onMarketEvent(diff([], []));
    expect(a.strategy.seen).toHaveLength(2);
    a.engine.onMarketEvent({ kind: 'gap', venue: 'binance', reason: 'test' });
    expect(a.snapshots).toEqual(['BTCUSDT', 'BTCUSDT']);
    expect(a.engine.counters.gaps).toBe(2);
    a.engine.sink.onSnapshot('BTCUSDT', { lastUpdateId: 200, bids: [[99, 1]], asks: [[100, 1]] }, true);
    expect(a.engine.isSynced('BTCUSDT')).toBe(true);
    expect(a.engine.books.get('BTCUSDT')?.book.lastUpdateId).toBe(200);
    a.engine.onMarketEvent({
      kind: 'trade',
      venue: 'binance',
      symbol: 'ETHUSDT',
      price: 1,
      qty: 1,
      side: 'buy',
      tradeId: 'x',
      exchTs: 0,
    });
    expect(a.engine.counters.tradeEvents).toBe(0);
    a.journal.close();
  });

  it('takes in-stream snapshots (Coinbase, Kraken) as book events', () => {
    const a = setup(tmpJournal());
    const snapshotEvent: BookEvent = {
      kind: 'book',
      venue: 'kraken',
      symbol: 'BTCUSDT',
      snapshot: true,
      bids: [[100, 2]],
      asks: [[101, 3]],
      firstSeq: 1,
      lastSeq: 1,
      exchTs: 5,
    };
    a.engine.sink.onEvent(snapshotEvent, 0);
    expect(a.engine.isSynced('BTCUSDT')).toBe(true);
    expect(a.engine.books.get('BTCUSDT')?.book.mid()).toBe(100.5);
    expect(a.strategy.seen).toHaveLength(0); // the next diff decides
    a.engine.sink.onEvent(
      { ...snapshotEvent, snapshot: false, bids: [[100.5, 1]], asks: [], firstSeq: 2, lastSeq: 2 },
      0,
    );
    expect(a.strategy.seen).toHaveLength(1);
    expect(a.engine.counters.snapshots).toBe(1);
    a.journal.close();
  });

  it('feeds trades and applied book updates to the execution client, and reconciles through it on restart', async () => {
    const path = tmpJournal();
    const seen: MarketEvent[] = [];
    let listener: ((e: ExecutionEvent) => void) | undefined;
    const reconciled: string[][] = [];
    const venue: ExecutionClient = {
      name: 'fake-venue',
      venueStateSurvivesRestart: true,
      submit: (o) => listener?.({ type: 'accepted', clientOrderId: o.clientOrderId, ts: 0 }),
      cancel: () => {},
      onEvent: (l) => {
        listener = l;
      },
      onMarketEvent: (ev) => seen.push(ev),
      reconcile: (open) => reconciled.push(open.map((o) => o.clientOrderId)),
      close: async () => {},
    };
    const { journal, recovery } = Journal.open(path, { fsync: 'never' });
    const strategy = new ScriptedStrategy();
    const engine = new TradingEngine({ config, journal, strategy, execution: venue });
    engine.replay(recovery.entries);
    syncBook(engine);
    engine.onMarketEvent({ ...diff([], []), firstSeq: 1, lastSeq: 1 }); // older than the snapshot: not applied, not seen
    u--;
    engine.onMarketEvent(diff([[100, 2]], []));
    engine.onMarketEvent({
      kind: 'trade',
      venue: 'binance',
      symbol: 'BTCUSDT',
      price: 100,
      qty: 1,
      side: 'buy',
      tradeId: 't',
      exchTs: 0,
    });
    expect(seen.map((e) => e.kind)).toEqual(['book', 'trade']);
    engine.submit({ symbol: 'BTCUSDT', side: 'buy', type: 'limit', qty: 1, price: 90 });
    expect(engine.orders.get('unit-0000000001')?.status).toBe('accepted');
    await engine.close();
    journal.close();
    // Restart: the venue still has the order, so the engine asks it instead of cancelling.
    const again = Journal.open(path, { fsync: 'never' });
    const restarted = new TradingEngine({ config, journal: again.journal, strategy, execution: venue });
    const report = restarted.replay(again.recovery.entries);
    expect(report).toMatchObject({ reconciledCancelled: 0, reconciledByVenue: 1 });
    expect(reconciled).toEqual([['unit-0000000001']]);
    expect(restarted.orders.get('unit-0000000001')?.status).toBe('accepted');
    listener?.({ type: 'cancelled', clientOrderId: 'unit-0000000001', reason: 'gone at the venue', ts: 0 });
    expect(restarted.orders.get('unit-0000000001')?.status).toBe('cancelled');
    again.journal.close();
  });

  it('stopDecisions: the strategy is no longer consulted, new orders are refused, cancels still work', async () => {
    const a = setup(tmpJournal());
    a.engine.start();
    syncBook(a.engine);
    const placed = a.engine.submit({ symbol: 'BTCUSDT', side: 'buy', type: 'limit', qty: 1, price: 90 });
    expect('clientOrderId' in placed).toBe(true);
    await settle();
    a.engine.stopDecisions();
    a.strategy.queue.push({ symbol: 'BTCUSDT', side: 'buy', type: 'market', qty: 1 });
    a.engine.onMarketEvent(diff([[100, 3]], []));
    expect(a.strategy.seen).toHaveLength(0);
    expect(a.engine.counters.decisions).toBe(0);
    expect(a.engine.submit({ symbol: 'BTCUSDT', side: 'buy', type: 'market', qty: 1 })).toEqual({
      rejected: expect.stringMatching(/^stopped/),
    });
    expect(a.engine.cancelAll('shutdown')).toBe(1);
    await settle();
    expect(a.engine.orders.get('unit-0000000001')?.status).toBe('cancelled');
    expect([...a.engine.orders.openOrders()]).toHaveLength(0);
    await a.engine.close();
    a.journal.close();
  });

  it('HALTED cancels open orders and blocks new ones; operator release resumes; everything is journaled', async () => {
    const path = tmpJournal();
    const a = setup(path);
    a.engine.start();
    syncBook(a.engine);
    const placed = a.engine.submit({ symbol: 'BTCUSDT', side: 'buy', type: 'limit', qty: 1, price: 90 });
    expect('clientOrderId' in placed).toBe(true);
    await settle();
    a.engine.setTradingState('HALTED', 'operator test');
    await settle();
    expect(a.engine.orders.get('unit-0000000001')?.status).toBe('cancelled');
    expect(a.engine.submit({ symbol: 'BTCUSDT', side: 'buy', type: 'market', qty: 1 })).toEqual({
      rejected: expect.stringMatching(/^halted/),
    });
    a.engine.setTradingState('RUNNING', 'operator release');
    expect('clientOrderId' in a.engine.submit({ symbol: 'BTCUSDT', side: 'buy', type: 'market', qty: 0.1 })).toBe(true);
    expect(a.engine.cancel('unknown', 'x')).toBe(false);
    await settle();
    const types = Journal.read(path).map((e) => e.type);
    expect(types).toEqual([
      'session.start',
      'order.submitted',
      'order.accepted',
      'risk.state',
      'order.cancel_requested',
      'order.cancelled',
      'risk.state',
      'order.submitted',
      'order.accepted',
      'fill',
    ]);
    await a.engine.close();
    a.journal.close();
    const b = setup(path);
    b.engine.replay(b.recovery.entries);
    expect(b.engine.state).toBe('RUNNING');
    b.journal.close();
  });

  it('expires limit orders after their time to live and trips the kill switch on losses', async () => {
    const path = tmpJournal();
    const { journal } = Journal.open(path, { fsync: 'never' });
    const cfg = loadConfig({
      env: {},
      overrides: {
        symbols: ['BTCUSDT'],
        execution: { latencyMs: 0 },
        strategy: { limitOrderTtlMs: 1 },
        risk: { dailyLossLimit: 0.5, maxDrawdown: 0.2 },
      },
    });
    const engine = new TradingEngine({ config: cfg, journal, strategy: new ScriptedStrategy() });
    engine.start();
    syncBook(engine);
    engine.submit({ symbol: 'BTCUSDT', side: 'buy', type: 'limit', qty: 1, price: 90 });
    engine.submit({ symbol: 'BTCUSDT', side: 'buy', type: 'market', qty: 1 });
    await new Promise((r) => setTimeout(r, 250));
    expect(engine.orders.get('trader-1-0000000001')?.status).toBe('cancelled');
    // Bought at 101, marked at the mid 100.5 less fees: -0.5 -0.04 -> beyond the daily loss limit.
    expect(engine.state).toBe('HALTED');
    await engine.close();
    await engine.close();
    journal.close();
  });
});
