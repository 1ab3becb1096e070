import { afterEach, describe, expect, it, vi } from 'vitest';
import { createObservability } from '../../src/app/observability.js';
import { loadConfig } from '../../src/config/load-config.js';
import { TradingEngine } from '../../src/engine/trading-engine.js';
import { Journal } from '../../src/journal/journal.js';
import type { Fill } from '../../src/model/types.js';
import { tempDirs } from '../temp-dir.js';

const tempDir = tempDirs('trader-alerts-');
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
  vi.useRealTimers();
});

/** An engine (not started: no timers of its own) with the trader's observability, on a clock the test moves. */
function setup(alerts: Record<string, unknown> = {}) {
  vi.useFakeTimers({ toFake: ['Date'] });
  vi.setSystemTime(Date.parse('2026-01-05T12:00:00Z'));
  const { journal } = Journal.open(`${tempDir()}/journal.jsonl`, { fsync: 'never' });
  const config = loadConfig({ env: {}, overrides: { symbols: ['BTCUSDT'], execution: { latencyMs: 0 }, alerts } });
  const engine = new TradingEngine({ config, journal });
  const obs = createObservability(config, engine, { marketDataErrors: () => 0 });
  cleanups.push(async () => {
    await obs.close();
    await engine.close();
    journal.close();
  });
  const manager = obs.monitoring.alerts;
  if (manager === undefined) throw new Error('alerting is configured');
  const budgetAlert = async () => {
    await manager.evaluate();
    return manager.active().find((a) => a.name === 'DecisionLatencyBudget');
  };
  const record = (ms: number, n: number) => {
    for (let i = 0; i < n; i++) engine.latency.tickToDecision.record(ms);
  };
  return { config, engine, obs, budgetAlert, record };
}

const sample = (text: string, name: string): number | undefined => {
  const m = new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(text);
  return m === null ? undefined : Number(m[1]);
};

describe('DecisionLatencyBudget', () => {
  it('fires when the p99 really is over a configured budget, in words people read', async () => {
    const { budgetAlert, record } = setup({ decisionLatencyBudgetMs: 1 });
    record(0.2, 900);
    record(6.259375000000015, 100);
    const pending = await budgetAlert();
    expect(pending?.state).toBe('pending');
    vi.advanceTimersByTime(31_000);
    const firing = await budgetAlert();
    expect(firing?.state).toBe('firing');
    expect(firing?.annotations.summary).toBe('tick-to-decision p99 6.26 ms over the 1.00 ms budget');
  });

  it('learns its budget from the first minute (p99 × margin) and fires only on a real degradation', async () => {
    const { obs, budgetAlert, record } = setup();
    record(0.5, 600);
    record(1.5, 10);
    // While learning there is no budget: no data, no alert, no gauge sample.
    expect(await budgetAlert()).toBeUndefined();
    expect(sample(await obs.monitoring.metrics(), 'cryptoscalp_trader_decision_budget_seconds')).toBeUndefined();
    vi.advanceTimersByTime(60_000);
    expect(await budgetAlert()).toBeUndefined();
    // p99 of the first minute was 1.5 ms; the default margin is 4.
    expect(sample(await obs.monitoring.metrics(), 'cryptoscalp_trader_decision_budget_seconds')).toBeCloseTo(0.006);
    // The ordinary level, even its tail, stays within.
    record(1.5, 5_000);
    vi.advanceTimersByTime(40_000);
    expect(await budgetAlert()).toBeUndefined();
    // A real degradation: the decisions of the recent window are ten times slower.
    record(15, 8_192);
    expect((await budgetAlert())?.state).toBe('pending');
    vi.advanceTimersByTime(30_000);
    const firing = await budgetAlert();
    expect(firing?.state).toBe('firing');
    expect(firing?.annotations.summary).toMatch(/^tick-to-decision p99 15 ms over the budget learned at start/);
  });

  it('rejects a margin below 1 and a calibration shorter than a second, naming the field', () => {
    expect(() => loadConfig({ env: {}, overrides: { alerts: { decisionLatencyMargin: 0.5 } } })).toThrow(
      expect.objectContaining({ field: 'alerts.decisionLatencyMargin' }),
    );
    expect(() => loadConfig({ env: {}, overrides: { alerts: { decisionLatencyCalibrationMs: 10 } } })).toThrow(
      expect.objectContaining({ field: 'alerts.decisionLatencyCalibrationMs' }),
    );
  });
});

describe('cryptoscalp_trading_drawdown_ratio', () => {
  it('is the risk engine’s drawdown over its limit, from the same portfolio figures', async () => {
    const { config, engine, obs } = setup();
    const fill: Fill = {
      fillId: 'o1-1',
      clientOrderId: 'o1',
      symbol: 'BTCUSDT',
      side: 'buy',
      price: 100,
      qty: 50,
      fee: 0,
      liquidity: 'taker',
      ts: Date.now(),
    };
    engine.portfolio.applyFill(fill);
    obs.onFill(fill);
    engine.portfolio.mark('BTCUSDT', 104);
    engine.portfolio.mark('BTCUSDT', 97.34);
    obs.refresh();
    const text = await obs.monitoring.metrics();
    const t = engine.portfolio.totals();
    // Peak +200 at 104, now -133: the 333 the probe saw, which the old ratio (of a PnL "equity" peak) put at 0.
    expect(t.drawdown).toBeCloseTo(333);
    const ratio = sample(text, 'cryptoscalp_trading_drawdown_ratio');
    expect(ratio).toBeCloseTo(t.drawdown / config.risk.maxDrawdown, 9);
    expect(ratio).toBeGreaterThan(1);
    expect(sample(text, 'cryptoscalp_trading_max_drawdown_ratio')).toBeCloseTo(t.maxDrawdown / config.risk.maxDrawdown);
  });
});
