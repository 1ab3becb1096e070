import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { BacktestReport } from '../../src/backtest/backtest-command.js';
import type { SweepRow } from '../../src/backtest/sweep.js';
import { runTraderCommand, type TraderCommandIo } from '../../src/cli/trader-command.js';
import { MarketRecorder } from '../../src/recording/market-recorder.js';
import { replayRecording } from '../../src/recording/recording-reader.js';
import { recordSimulatedMarket } from '../../src/recording/simulated-recording.js';
import { tempDirs } from '../temp-dir.js';

// The shipped sample (test/fixtures/recordings, see its README) through `trader backtest`, twice: the same recording,
// configuration and seed must give byte-identical journals, latency-free and latency-modelled.
const SAMPLE = fileURLToPath(new URL('../fixtures/recordings/sim-seed42', import.meta.url));
const tempDir = tempDirs('backtest-');

function io(): TraderCommandIo & { lines: string[] } {
  const lines: string[] = [];
  return { lines, out: (l) => lines.push(l), err: (l) => lines.push(`ERR ${l}`), env: {} };
}

async function backtest(out: string, ...extra: string[]): Promise<{ report: BacktestReport; lines: string[] }> {
  const o = io();
  const code = await runTraderCommand(['backtest', '--data', SAMPLE, '--out', out, '--seed', '7', ...extra], o);
  expect(code, o.lines.join('\n')).toBe(0);
  return { report: JSON.parse(readFileSync(join(out, 'report.json'), 'utf8')) as BacktestReport, lines: o.lines };
}

describe('trader backtest on the shipped sample', () => {
  it('gives byte-identical journals on two runs, trades, and prints both runs side by side', async () => {
    const a = tempDir();
    const b = tempDir();
    const first = await backtest(a, '--latency-ms', '5');
    const second = await backtest(b, '--latency-ms', '5');
    for (const run of ['latency-free', 'latency-5ms']) {
      const ja = readFileSync(join(a, run, 'journal.jsonl'));
      const jb = readFileSync(join(b, run, 'journal.jsonl'));
      expect(ja.length).toBeGreaterThan(0);
      expect(ja.equals(jb), `${run} journals differ`).toBe(true);
    }
    const { report, lines } = first;
    expect(report.symbols).toEqual(['BTCUSDT', 'ETHUSDT']);
    expect(report.runs.map((r) => r.name)).toEqual(['latency-free', 'latency 5 ms']);
    expect(report.lines).toBe(77_362);
    for (const r of report.runs) {
      expect(r.metrics.orders).toBeGreaterThan(50);
      expect(r.metrics.trades).toBeGreaterThan(0);
      expect(r.metrics.fillRatio).toBeGreaterThan(0);
      expect(r.metrics.fillRatio).toBeLessThanOrEqual(1);
      expect(r.metrics.fees).toBeGreaterThan(0);
      expect(r.curve.length).toBeGreaterThan(50);
      // The report's net PnL is the curve's last point (both from the engine's portfolio at the end).
      expect(r.curve.at(-1)?.net).toBeCloseTo(r.metrics.netPnl, 3);
    }
    // Latency changes what happens: the two journals are not the same run.
    expect(
      readFileSync(join(a, 'latency-free', 'journal.jsonl')).equals(
        readFileSync(join(a, 'latency-5ms', 'journal.jsonl')),
      ),
    ).toBe(false);
    expect(second.report.runs.map((r) => r.metrics)).toEqual(report.runs.map((r) => r.metrics));
    expect(report.truncatedFiles).toEqual([]);
    const table = lines.join('\n');
    expect(table).toMatch(/latency-free\s+latency 5 ms/);
    for (const row of [
      'net PnL',
      'Sharpe (1-min, annualized)',
      'Sortino',
      'max drawdown',
      'win rate',
      'fill ratio',
      'fees',
    ]) {
      expect(table).toContain(row);
    }
    // No wall clock in the journal: the session starts at the recording's first receive time, with pid 0.
    const firstEntry = JSON.parse(
      readFileSync(join(a, 'latency-free', 'journal.jsonl'), 'utf8').split('\n')[0] as string,
    );
    expect(firstEntry).toMatchObject({
      type: 'session.start',
      data: { pid: 0, startedAt: '2026-01-05T00:00:00.000Z' },
    });
  });

  it('the sample rewritten in the binary format replays to byte-identical journals', async () => {
    const binary = tempDir();
    const rec = new MarketRecorder({ dir: binary, symbols: ['BTCUSDT', 'ETHUSDT'] });
    let n = 0;
    await replayRecording(SAMPLE, (l) => {
      rec.push(l);
      if (++n % 20_000 === 0) void rec.flush();
    });
    await rec.close();
    expect(rec.stats()).toMatchObject({ written: 77_362, lastError: undefined });
    const window = ['--to', '2026-01-05T00:00:45Z'];
    const a = tempDir();
    const b = tempDir();
    await backtest(a, ...window);
    const o = io();
    expect(
      await runTraderCommand(['backtest', '--data', binary, '--out', b, '--seed', '7', ...window], o),
      o.lines.join('\n'),
    ).toBe(0);
    for (const run of ['latency-free', 'latency-2ms']) {
      const ja = readFileSync(join(a, run, 'journal.jsonl'));
      expect(ja.length).toBeGreaterThan(0);
      expect(ja.equals(readFileSync(join(b, run, 'journal.jsonl'))), run).toBe(true);
    }
  });

  it('a different latency seed changes the latency-modelled journal only', async () => {
    const a = tempDir();
    const b = tempDir();
    await backtest(a, '--seed', '1', '--to', '2026-01-05T00:00:45Z');
    await backtest(b, '--seed', '2', '--to', '2026-01-05T00:00:45Z');
    const read = (d: string, run: string) => readFileSync(join(d, run, 'journal.jsonl'));
    expect(read(a, 'latency-free').equals(read(b, 'latency-free'))).toBe(true);
    expect(read(a, 'latency-2ms').equals(read(b, 'latency-2ms'))).toBe(false);
  });

  it('sweeps strategy settings in worker threads, ranked, each equal to its own backtest', async () => {
    const out = tempDir();
    const window = ['--to', '2026-01-05T00:00:30Z'];
    const o = io();
    const args = ['--sweep', 'strategy.threshold=0.05,0.1', '--sweep', 'strategy.cooldownMs=20,50', ...window];
    expect(await runTraderCommand(['backtest', '--data', SAMPLE, '--out', out, ...args], o), o.lines.join('\n')).toBe(
      0,
    );
    const { rows } = JSON.parse(readFileSync(join(out, 'sweep.json'), 'utf8')) as { rows: SweepRow[] };
    expect(rows.map((r) => r.params).sort((x, y) => JSON.stringify(x).localeCompare(JSON.stringify(y)))).toEqual([
      { 'strategy.threshold': '0.05', 'strategy.cooldownMs': '20' },
      { 'strategy.threshold': '0.05', 'strategy.cooldownMs': '50' },
      { 'strategy.threshold': '0.1', 'strategy.cooldownMs': '20' },
      { 'strategy.threshold': '0.1', 'strategy.cooldownMs': '50' },
    ]);
    const pnl = rows.map((r) => r.modelled.netPnl);
    expect(pnl).toEqual([...pnl].sort((x, y) => y - x));
    expect(o.lines.join('\n')).toMatch(/#\s+settings\s+net PnL \(free\)/);
    // The best row is what a plain backtest with those settings gives.
    const best = rows[0] as SweepRow;
    const single = io();
    single.env = {
      TRADER_STRATEGY_THRESHOLD: best.params['strategy.threshold'] as string,
      TRADER_STRATEGY_COOLDOWN_MS: best.params['strategy.cooldownMs'] as string,
    };
    const d = tempDir();
    expect(await runTraderCommand(['backtest', '--data', SAMPLE, '--out', d, ...window], single)).toBe(0);
    const report = JSON.parse(readFileSync(join(d, 'report.json'), 'utf8')) as BacktestReport;
    expect(report.runs.map((r) => r.metrics)).toEqual([best.free, best.modelled]);
    for (const [bad, message] of [
      ['strategy.nope=1', /--sweep: unknown setting "strategy.nope"/],
      ['strategy.threshold=high', /strategy\.threshold/],
    ] as const) {
      const e = io();
      expect(await runTraderCommand(['backtest', '--data', SAMPLE, '--out', tempDir(), '--sweep', bad], e)).toBe(2);
      expect(e.lines.join('\n')).toMatch(message);
    }
  });

  it('records the simulator deterministically: the same options give the same files', async () => {
    const a = tempDir();
    const b = tempDir();
    const opts = { symbols: ['SOLUSDT'], minutes: 0.2, seed: 3 };
    await recordSimulatedMarket({ dir: a, ...opts });
    await recordSimulatedMarket({ dir: b, ...opts });
    const file = join('binance', 'SOLUSDT', '2026-01-05.csrb');
    expect(existsSync(join(a, file))).toBe(true);
    expect(readFileSync(join(a, file)).equals(readFileSync(join(b, file)))).toBe(true);
  });

  it('rejects bad options naming them (exit 2)', async () => {
    const cases: [string[], RegExp][] = [
      [[], /--data is required/],
      [['--data', SAMPLE, '--from', 'yesterday'], /--from must be an ISO 8601 time/],
      [['--data', SAMPLE, '--seed', '-1'], /--seed must be an integer >= 0/],
      [['--data', SAMPLE, '--bogus'], /unknown option --bogus/],
      [
        ['--data', SAMPLE, '--from', '2026-01-06T00:00:00Z', '--to', '2026-01-05T00:00:00Z'],
        /--from must be before --to/,
      ],
      [['--data', join(SAMPLE, 'nowhere')], /data: recording directory .* does not exist/],
    ];
    for (const [args, message] of cases) {
      const o = io();
      expect(await runTraderCommand(['backtest', ...args], o), args.join(' ')).toBe(2);
      expect(o.lines.join('\n')).toMatch(message);
    }
    const o = io();
    o.env = { TRADER_STRATEGY_THRESHOLD: 'high' };
    expect(await runTraderCommand(['backtest', '--data', SAMPLE, '--out', tempDir()], o)).toBe(2);
    expect(o.lines.join('\n')).toMatch(/strategy\.threshold/);
  });
});
