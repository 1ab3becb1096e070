import { waitFor } from '@cryptoscalp/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load-config.js';
import { TradingEngine } from '../../src/engine/trading-engine.js';
import { Journal } from '../../src/journal/journal.js';
import type { ExecutionClient } from '../../src/model/execution-client.js';
import type { BookSnapshot } from '../../src/model/types.js';
import { tempDirs } from '../temp-dir.js';

const tempDir = tempDirs('trader-restart-marks-');
const config = loadConfig({
  env: {},
  overrides: {
    symbols: ['BTCUSDT'],
    execution: { latencyMs: 0, takerFeeBps: 0 },
    // The daily loss limit counts the jump (see the README): kept out of the way of the drawdown rule here.
    risk: { maxNotionalPerOrder: 5_000, maxPositionNotional: 5_000, dailyLossLimit: 2_000 },
  },
});
const closers: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
});

const book = (mid: number, id: number): BookSnapshot => ({
  lastUpdateId: id,
  bids: [[mid - 0.5, 1_000]],
  asks: [[mid + 0.5, 1_000]],
});

/** A journal holding a long position of 40 BTCUSDT bought at 101 (the first market's price) on the paper venue. */
async function journalWithPosition(): Promise<string> {
  const path = `${tempDir()}/journal.jsonl`;
  const { journal } = Journal.open(path, { fsync: 'never' });
  const engine = new TradingEngine({ config, journal });
  engine.onSnapshot('BTCUSDT', book(100.5, 1));
  expect(engine.submit({ symbol: 'BTCUSDT', side: 'buy', type: 'market', qty: 40 })).not.toHaveProperty('rejected');
  await waitFor(() => engine.portfolio.position('BTCUSDT') === 40, { timeoutMs: 5_000, what: 'the fill' });
  await engine.close();
  journal.close();
  return path;
}

/** Restarts on the journal (optionally against a venue whose state survived) and starts the risk rules. */
function restart(path: string, execution?: ExecutionClient): TradingEngine {
  const { journal, recovery } = Journal.open(path, { fsync: 'never' });
  const engine = new TradingEngine({ config, journal, ...(execution === undefined ? {} : { execution }) });
  closers.push(() => journal.close());
  closers.push(() => engine.close());
  engine.replay(recovery.entries);
  engine.start();
  return engine;
}

/** Waits until the engine's risk rules ran on the current book (its mark is the book's mid). */
async function evaluated(engine: TradingEngine, mid: number): Promise<void> {
  await waitFor(() => engine.portfolio.snapshot('BTCUSDT').mark === mid, { timeoutMs: 5_000, what: `mark ${mid}` });
  // One more evaluation after the mark, so the drawdown rule has looked at it.
  const evaluations = engine.portfolio.totals().fills;
  await new Promise((r) => setTimeout(r, 250));
  expect(engine.portfolio.totals().fills).toBe(evaluations);
}

describe('drawdown across a restart against a fresh market', () => {
  it('on the paper venue the jump to the new market is PnL but not drawdown; later losses are', async () => {
    const engine = restart(await journalWithPosition());
    const before = engine.portfolio.totals();
    expect(before.drawdown).toBe(0);
    // The new simulator's market is 8 lower: 40 × 8 = 320 over the 300 drawdown limit, had it counted.
    engine.onSnapshot('BTCUSDT', book(93, 1), true);
    await evaluated(engine, 93);
    const after = engine.portfolio.totals();
    expect(after.net).toBeCloseTo(before.net - 320);
    expect(after.drawdown).toBeCloseTo(0);
    expect(engine.state).toBe('RUNNING');
    // A real move on the new market counts: 8 more down is 320 of drawdown from the re-based peak.
    engine.onSnapshot('BTCUSDT', book(85, 2), true);
    await waitFor(() => engine.state === 'REDUCING', { timeoutMs: 5_000, what: 'REDUCING on a real loss' });
    expect(engine.killSwitch.reason).toBe('drawdown 320.00 >= limit 300');
  });

  it('against a venue whose state survived the restart the move while down is a real loss and counts', async () => {
    const venue: ExecutionClient = {
      name: 'venue',
      venueStateSurvivesRestart: true,
      submit() {},
      cancel() {},
      onEvent() {},
      async close() {},
    };
    const engine = restart(await journalWithPosition(), venue);
    engine.onSnapshot('BTCUSDT', book(93, 1), true);
    await waitFor(() => engine.state === 'REDUCING', { timeoutMs: 5_000, what: 'REDUCING on the loss while down' });
    expect(engine.portfolio.totals().drawdown).toBeCloseTo(320);
  });
});
