import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load-config.js';
import { TradingEngine } from '../../src/engine/trading-engine.js';
import { isTraderError } from '../../src/errors.js';
import { Journal } from '../../src/journal/journal.js';
import { OrderBook } from '../../src/model/order-book.js';
import { ScalpingStrategy } from '../../src/strategy/scalping-strategy.js';

// The warm standby's strategy half: an active engine journals its strategy's learned state, and a replay (the
// standby's takeover, a restart) restores it, so the new leader trades without warming the model up again.

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
function tmpJournal(): string {
  const dir = mkdtempSync(join(tmpdir(), 'trader-strategy-state-'));
  dirs.push(dir);
  return join(dir, 'journal.jsonl');
}

function book(bidQty: number, askQty: number, mid: number): OrderBook {
  const b = new OrderBook('BTCUSDT');
  b.applySnapshot(
    [
      [mid - 0.05, bidQty],
      [mid - 0.15, 1],
    ],
    [
      [mid + 0.05, askQty],
      [mid + 0.15, 1],
    ],
    1,
  );
  return b;
}

/** Trains a strategy on a market where a heavy bid is followed by a rising mid (and the reverse). */
function trained(options: ConstructorParameters<typeof ScalpingStrategy>[0] = {}): ScalpingStrategy {
  const s = new ScalpingStrategy({ horizonMs: 100, sampleEveryMs: 10, cooldownMs: 0, ...options });
  let mid = 100;
  let t = 0;
  for (let i = 0; i < 4_000; i++) {
    const up = Math.floor(i / 20) % 2 === 0;
    mid += up ? 0.01 : -0.01;
    t += 10;
    s.onBook({ symbol: 'BTCUSDT', book: book(up ? 5 : 1, up ? 1 : 5, mid), position: 0, openQty: 0, now: t });
  }
  return s;
}

const decide = (s: ScalpingStrategy, now: number) =>
  s.onBook({ symbol: 'BTCUSDT', book: book(5, 1, 100), position: 0, openQty: 0, now });

describe('ScalpingStrategy state', () => {
  it('exports the learned model and a fresh instance that imports it trades at once, where a fresh one warms up', () => {
    const source = trained();
    const state = source.exportState();
    expect(state.samples).toBeGreaterThanOrEqual(200);
    expect(JSON.parse(JSON.stringify(state))).toEqual(state);

    const fresh = new ScalpingStrategy({ horizonMs: 100, sampleEveryMs: 10, cooldownMs: 0 });
    const restored = new ScalpingStrategy({ horizonMs: 100, sampleEveryMs: 10, cooldownMs: 0 });
    restored.importState(JSON.parse(JSON.stringify(state)));
    expect(Array.from(restored.model.weights)).toEqual(state.weights);
    expect(restored.model.samples).toBe(state.samples);
    expect(restored.stats()).toMatchObject({ samples: state.samples, labelled: state.labelled, hits: state.hits });
    // Same model, same prediction: a heavy bid is a buy for the restored one; the fresh one is still warming up.
    expect(decide(restored, 1_000_000)).toMatchObject({ side: 'buy', type: 'limit' });
    expect(decide(fresh, 1_000_000)).toBeUndefined();
    expect(restored.exportState().weights).toEqual(state.weights);
  });

  it('refuses a state that is not its own, naming the field, and stays unchanged', () => {
    const s = trained();
    const before = s.exportState();
    const good = s.exportState();
    const bad: [unknown, string][] = [
      [null, 'state.'],
      [{ ...good, v: 2 }, 'state.v'],
      [{ ...good, weights: [1, 2] }, 'state.weights'],
      [{ ...good, weights: [1, 2, 3, 4, Number.NaN] }, 'state.weights'],
      [{ ...good, bias: 'x' }, 'state.bias'],
      [{ ...good, samples: -1 }, 'state.samples'],
      [{ ...good, hits: 1.5 }, 'state.hits'],
      [{ ...good, symbols: [] }, 'state.symbols'],
      [{ ...good, symbols: { BTCUSDT: { ewmaMid: 'x' } } }, 'state.symbols.BTCUSDT.ewmaMid'],
    ];
    for (const [state, field] of bad) {
      let error: unknown;
      try {
        s.importState(state);
      } catch (e) {
        error = e;
      }
      expect(isTraderError(error) && error.code === 'E_TRADER_INVALID_OPTION' && error.field).toBe(field);
    }
    expect(s.exportState()).toEqual(before);
  });
});

describe('TradingEngine strategy state', () => {
  const haConfig = loadConfig({
    env: {},
    overrides: {
      symbols: ['BTCUSDT'],
      instanceId: 'unit',
      role: 'engine',
      database: { url: 'postgres://127.0.0.1/test' },
      bus: { redisUrl: 'redis://127.0.0.1:6379' },
      ha: { enabled: true, strategyStateMs: 50 },
    },
  });
  const plain = loadConfig({ env: {}, overrides: { symbols: ['BTCUSDT'], instanceId: 'unit' } });

  it('journals the state when it changed, and a replay restores the last one', async () => {
    const path = tmpJournal();
    const { journal } = Journal.open(path, { fsync: 'never' });
    const strategy = trained();
    const engine = new TradingEngine({ config: haConfig, journal, strategy });
    engine.start();
    // The timer journals it (every ha.strategyStateMs with ha.enabled); an unchanged state is not journaled again.
    await new Promise((r) => setTimeout(r, 200));
    expect(engine.journalStrategyState()).toBe(false);
    const states = Journal.read(path).filter((e) => e.type === 'strategy.state');
    expect(states).toHaveLength(1);
    expect(states[0]?.data).toEqual({ strategy: 'scalper', state: strategy.exportState() });
    // A changed state is journaled again; the replay takes the last one.
    decide(strategy, 10_000_000);
    strategy.model.bias += 0.5;
    expect(engine.journalStrategyState()).toBe(true);
    const last = strategy.exportState();
    await engine.close();
    journal.close();

    const reopened = Journal.open(path, { fsync: 'never' });
    const successor = new ScalpingStrategy();
    const next = new TradingEngine({ config: haConfig, journal: reopened.journal, strategy: successor });
    const report = next.replay(reopened.recovery.entries);
    expect(report).toMatchObject({ strategyRestored: true, skipped: 0 });
    expect(successor.exportState()).toEqual(last);
    await next.close();
    reopened.journal.close();
  });

  it('journals nothing without ha or once decisions stopped; a state the strategy refuses is skipped on replay', async () => {
    const path = tmpJournal();
    const { journal } = Journal.open(path, { fsync: 'never' });
    const engine = new TradingEngine({ config: plain, journal, strategy: trained() });
    engine.start();
    await new Promise((r) => setTimeout(r, 120));
    expect(Journal.read(path).some((e) => e.type === 'strategy.state')).toBe(false);
    engine.stopDecisions();
    expect(engine.journalStrategyState()).toBe(false);
    await engine.close();
    journal.append('strategy.state', { strategy: 'scalper', state: { v: 9 } });
    journal.append('strategy.state', { strategy: 'another', state: { v: 1 } });
    journal.close();

    const reopened = Journal.open(path, { fsync: 'never' });
    const fresh = new ScalpingStrategy();
    const next = new TradingEngine({ config: plain, journal: reopened.journal, strategy: fresh });
    // The scalper's state is refused (it warms up again, counted as skipped); another strategy's is not its own.
    expect(next.replay(reopened.recovery.entries)).toMatchObject({ strategyRestored: false, skipped: 1 });
    expect(fresh.model.samples).toBe(0);
    await next.close();
    reopened.journal.close();
  });

  it('validates strategyStateMs', () => {
    const { journal } = Journal.open(tmpJournal(), { fsync: 'never' });
    for (const bad of [-1, 1.5, Number.NaN]) {
      let error: unknown;
      try {
        new TradingEngine({ config: plain, journal, strategyStateMs: bad });
      } catch (e) {
        error = e;
      }
      expect(isTraderError(error) && error.field).toBe('strategyStateMs');
    }
    journal.close();
  });
});
