// What the paper venue's fill model changes in a backtest of the shipped sample (test/fixtures/recordings/sim-seed42):
// the same recording, configuration and latency draws, once with the paper venue as it is (liquidity taken stays
// taken for the rest of the book update, resting orders queue behind the visible quantity, latency on placement and
// cancel in order) and once with the model it replaced (fills never remove liquidity, a resting order fills on any
// print through its price, nothing on a print at its price; kept below as the baseline). Both in one run, each
// latency-free and with 2 ms x U[0.5, 1.5) latency (seed 1).
// Run: npx tsx apps/trader/bench/paper-fills.ts
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { reportBench } from '@cryptoscalp/testkit';
import type { PaperExecutionOptions } from '../src/adapters/sim/paper-execution.js';
import { latencyRuns, runBacktest } from '../src/backtest/backtest.js';
import type { BacktestMetrics } from '../src/backtest/metrics.js';
import { loadConfig } from '../src/config/load-config.js';
import { SYSTEM_CLOCK } from '../src/internal/clock.js';
import type { ExecutionClient, ExecutionEvent } from '../src/model/execution-client.js';
import type { Fill, MarketEvent, Order } from '../src/model/types.js';

const SAMPLE = fileURLToPath(new URL('../test/fixtures/recordings/sim-seed42', import.meta.url));

/** The paper venue before the fill model (the baseline): no liquidity consumed, no queue, fills on prints through. */
class OptimisticPaperExecution implements ExecutionClient {
  readonly name = 'paper-optimistic';
  readonly venueStateSurvivesRestart = false;
  private readonly listeners: ((e: ExecutionEvent) => void)[] = [];
  private readonly resting = new Map<string, { order: Readonly<Order>; remaining: number; fills: number }>();
  private readonly clock;
  constructor(private readonly o: PaperExecutionOptions) {
    this.clock = o.clock ?? SYSTEM_CLOCK;
  }
  onEvent(l: (e: ExecutionEvent) => void): void {
    this.listeners.push(l);
  }
  private emit(e: ExecutionEvent): void {
    for (const l of this.listeners) l(e);
  }
  private later(fn: () => void): void {
    this.clock.setTimeout(fn, (this.o.latency ?? (() => 0))());
  }
  submit(order: Readonly<Order>): void {
    this.later(() => {
      const book = this.o.book(order.symbol);
      const ts = this.clock.now();
      if (!book?.isValid())
        return this.emit({ type: 'rejected', clientOrderId: order.clientOrderId, reason: 'no book', ts });
      this.emit({ type: 'accepted', clientOrderId: order.clientOrderId, ts });
      const st = { order, remaining: order.qty, fills: 0 };
      const buy = order.side === 'buy';
      const side = buy ? book.asks : book.bids;
      const limit = order.type === 'limit' ? (order.price as number) : buy ? Number.POSITIVE_INFINITY : 0;
      for (let i = 0; i < side.prices.length && st.remaining > 1e-12; i++) {
        const price = side.prices[i] as number;
        if (buy ? price > limit : price < limit) break;
        this.fill(st, price, Math.min(st.remaining, side.qtys[i] as number), this.o.takerFeeBps ?? 4);
      }
      if (st.remaining <= 1e-12) return;
      if (order.type === 'market')
        this.emit({ type: 'cancelled', clientOrderId: order.clientOrderId, reason: 'exhausted', ts });
      else this.resting.set(order.clientOrderId, st);
    });
  }
  cancel(id: string): void {
    this.later(() => {
      if (this.resting.delete(id))
        this.emit({ type: 'cancelled', clientOrderId: id, reason: 'cancel requested', ts: this.clock.now() });
    });
  }
  private fill(
    st: { order: Readonly<Order>; remaining: number; fills: number },
    price: number,
    qty: number,
    bps: number,
  ): void {
    st.remaining -= qty;
    if (st.remaining < 1e-12) st.remaining = 0;
    st.fills++;
    const o = st.order;
    const fill: Fill = {
      fillId: `${o.clientOrderId}-${st.fills}`,
      clientOrderId: o.clientOrderId,
      symbol: o.symbol,
      side: o.side,
      price,
      qty,
      fee: (price * qty * bps) / 1e4,
      liquidity: bps === (this.o.takerFeeBps ?? 4) ? 'taker' : 'maker',
      ts: this.clock.now(),
    };
    this.emit({ type: 'fill', fill });
  }
  onMarketEvent(ev: MarketEvent): void {
    if (this.resting.size === 0 || ev.kind !== 'trade') return;
    let printed = ev.qty;
    for (const st of this.resting.values()) {
      if (printed <= 1e-12) break;
      if (st.order.symbol !== ev.symbol) continue;
      const limit = st.order.price as number;
      if (!(st.order.side === 'buy' ? ev.price < limit : ev.price > limit)) continue;
      const qty = Math.min(st.remaining, printed);
      printed -= qty;
      this.fill(st, limit, qty, this.o.makerFeeBps ?? 1);
      if (st.remaining <= 1e-12) this.resting.delete(st.order.clientOrderId);
    }
  }
  async close(): Promise<void> {
    this.resting.clear();
  }
}

const out = mkdtempSync(join(tmpdir(), 'bench-paper-fills-'));
try {
  const config = loadConfig({ env: {}, overrides: { symbols: ['BTCUSDT', 'ETHUSDT'] } });
  const models = [
    { name: 'fill model', make: undefined },
    { name: 'optimistic (before)', make: (o: PaperExecutionOptions) => new OptimisticPaperExecution(o) },
  ];
  const results: Record<string, BacktestMetrics[]> = {};
  for (const m of models) {
    const runs = latencyRuns(join(out, m.name.replace(/\W+/g, '-')), 2, 1).map((r) =>
      m.make === undefined ? r : { ...r, execution: m.make },
    );
    const res = await runBacktest({ data: SAMPLE, config, runs });
    results[m.name] = res.results.map((r) => r.metrics);
  }
  const row = (label: string, f: (x: BacktestMetrics) => string) =>
    console.log(
      label.padEnd(22),
      ...models.flatMap((m) => (results[m.name] as BacktestMetrics[]).map((x) => f(x).padStart(12))),
    );
  console.log(''.padEnd(22), ...models.flatMap((m) => [`${m.name} 0ms`, `${m.name} 2ms`].map((s) => s.padStart(12))));
  row('net PnL', (x) => x.netPnl.toFixed(2));
  row('fees', (x) => x.fees.toFixed(2));
  row('orders', (x) => String(x.orders));
  row('fills', (x) => String(x.trades));
  row('fill ratio', (x) => `${(x.fillRatio * 100).toFixed(1)} %`);
  row('win rate', (x) => `${(x.winRate * 100).toFixed(1)} %`);
  row('max drawdown', (x) => x.maxDrawdown.toFixed(2));
  const [now, before] = models.map((m) => results[m.name] as BacktestMetrics[]) as [
    BacktestMetrics[],
    BacktestMetrics[],
  ];
  reportBench({
    package: '@cryptoscalp/trader',
    bench: 'paper-fills',
    figures: ['latency-free', 'latency 2 ms'].flatMap((run, i) => [
      {
        name: `shipped sample, ${run}: net PnL with the fill model`,
        value: (now[i] as BacktestMetrics).netPnl,
        unit: 'USDT',
        higherIsBetter: true,
        baseline: { name: 'optimistic paper fills (before)', value: (before[i] as BacktestMetrics).netPnl },
        method:
          'trader backtest of test/fixtures/recordings/sim-seed42 (1.5 min, BTCUSDT + ETHUSDT), default config, latency seed 1',
      },
      {
        name: `shipped sample, ${run}: fill ratio with the fill model`,
        value: (now[i] as BacktestMetrics).fillRatio,
        unit: 'ratio',
        higherIsBetter: true,
        baseline: { name: 'optimistic paper fills (before)', value: (before[i] as BacktestMetrics).fillRatio },
        method: 'orders with at least one fill / orders submitted, same runs',
      },
    ]),
  });
} finally {
  rmSync(out, { recursive: true, force: true });
}
