import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createObservability } from '../../src/app/observability.js';
import { loadConfig } from '../../src/config/load-config.js';
import { TradingEngine } from '../../src/engine/trading-engine.js';
import { Journal } from '../../src/journal/journal.js';
import type { Fill } from '../../src/model/types.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

function setup() {
  const dir = mkdtempSync(join(tmpdir(), 'trader-obs-'));
  const { journal } = Journal.open(join(dir, 'journal.jsonl'), { fsync: 'never' });
  const config = loadConfig({ env: {}, overrides: { symbols: ['BTCUSDT'], execution: { latencyMs: 0 } } });
  const engine = new TradingEngine({ config, journal });
  const obs = createObservability(config, engine, { marketDataErrors: () => 0 });
  cleanups.push(async () => {
    await obs.close();
    await engine.close();
    journal.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return { engine, obs };
}

describe('observability', () => {
  it('exports stage latency histograms, business and model metrics', async () => {
    const { engine, obs } = setup();
    engine.latency.tickToDecision.record(0.2);
    engine.latency.journal.record(0.05);
    engine.onSnapshot('BTCUSDT', { lastUpdateId: 1, bids: [[100, 1]], asks: [[101, 1]] });
    const fill = (n: number, side: 'buy' | 'sell', price: number): Fill => ({
      fillId: `o${n}-1`,
      clientOrderId: `o${n}`,
      symbol: 'BTCUSDT',
      side,
      price,
      qty: 1,
      fee: 0.1,
      liquidity: 'taker',
      ts: Date.now(),
    });
    // Feed the portfolio as the engine would, then tell observability about each fill.
    for (const f of [fill(1, 'buy', 100), fill(2, 'sell', 103)]) {
      engine.portfolio.applyFill(f);
      obs.onFill(f);
    }
    obs.refresh();
    const text = await obs.monitoring.metrics();
    expect(text).toMatch(/cryptoscalp_trader_stage_latency_seconds_count\{stage="tick_to_decision"\} 1/);
    expect(text).toMatch(/cryptoscalp_trader_stage_latency_seconds_count\{stage="journal"\} 1/);
    expect(text).toMatch(/cryptoscalp_trading_trades_total\{strategy="scalper",symbol="BTCUSDT",side="buy"\} 1/);
    expect(text).toMatch(/cryptoscalp_trading_trade_outcomes_total\{strategy="scalper",outcome="win"\} 1/);
    expect(text).toMatch(/cryptoscalp_trading_equity\{strategy="scalper"\} 2\.8/);
  });
});
