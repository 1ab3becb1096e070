import { waitFor } from '@cryptoscalp/testkit';
import { afterAll, describe, expect, it } from 'vitest';
import type { ObservabilityComponent } from '../../src/app/components/observability-component.js';
import { createTrader, type Trader } from '../../src/app/trader.js';
import { loadConfig } from '../../src/config/load-config.js';
import { tempDirs } from '../temp-dir.js';
import { ownSchema } from './own-schema.js';

const database = ownSchema('trader_alerts');
const tempDir = tempDirs('trader-alerts-run-');
const traders: Trader[] = [];
afterAll(async () => {
  for (const t of traders) await t.stop('test end');
}, 60_000);

const sample = (text: string, name: string): number | undefined => {
  const m = new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(text);
  return m === null ? undefined : Number(m[1]);
};

describe('default alerts in an ordinary run', () => {
  it('none is pending or firing over 20 s of trading, and the drawdown ratio is the risk engine’s', async () => {
    // The defaults of `npm start`, except what a test needs to own (data dir, port, a database schema) and a
    // calibration of 5 s instead of 60, so the learned latency budget is in force for most of the run.
    const config = loadConfig({
      env: {},
      overrides: {
        dataDir: tempDir(),
        http: { port: 0, shutdownDelayMs: 0 },
        database,
        alerts: { decisionLatencyCalibrationMs: 5_000 },
      },
    });
    const t = createTrader({ config, log: () => {} });
    traders.push(t);
    await t.start();
    const monitoring = t.component<ObservabilityComponent>('monitoring');
    const seen = new Map<string, string>();
    const startedAt = Date.now();
    while (Date.now() - startedAt < 20_000) {
      for (const a of monitoring.activeAlerts() as { name: string; state: string; annotations: object }[])
        seen.set(a.name, `${a.state}: ${JSON.stringify(a.annotations)}`);
      await new Promise((r) => setTimeout(r, 250));
    }
    const engine = t.engine();
    // It was an ordinary run: the trader traded and the latency budget was learned and in force.
    expect(engine.counters.fills).toBeGreaterThan(0);
    const metrics = (await monitoring.metrics()).body;
    expect(sample(metrics, 'cryptoscalp_trader_decision_budget_seconds')).toBeGreaterThan(0);
    expect(Object.fromEntries(seen)).toEqual({});
    // The ratio and the engine's drawdown come from the same portfolio; a risk evaluation between the two reads can
    // move the drawdown, so read until one scrape saw both at the same figure (and a drawdown there is: fees alone
    // put equity below its peak, where the old ratio of a PnL "equity" peak read 0).
    await waitFor(
      async () => {
        const text = (await monitoring.metrics()).body;
        const ratio = sample(text, 'cryptoscalp_trading_drawdown_ratio');
        const drawdown = sample(text, 'cryptoscalp_stats_pnl_drawdown');
        return (
          ratio !== undefined &&
          drawdown !== undefined &&
          drawdown > 0 &&
          Math.abs(ratio * config.risk.maxDrawdown - drawdown) < 1e-6 &&
          Math.abs(drawdown - engine.portfolio.totals().drawdown) < 1e-6
        );
      },
      { timeoutMs: 10_000, intervalMs: 50, what: 'drawdown ratio × limit = the engine’s drawdown' },
    );
  }, 90_000);
});
