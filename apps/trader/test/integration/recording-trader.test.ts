import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { BacktestReport } from '../../src/backtest/backtest-command.js';
import { runTraderCommand } from '../../src/cli/trader-command.js';
import { isSnapshotLine, type RecordedLine } from '../../src/recording/recording-format.js';
import { replayRecording } from '../../src/recording/recording-reader.js';
import { tempDirs } from '../temp-dir.js';

// The composed trader (simulator -> ws-manager -> Binance data client) with recording on: what its data client
// delivered is on disk when it stops, and `trader backtest` replays it.
const tempDir = tempDirs('recording-trader-');

describe('a trader with recording.enabled', () => {
  it('records its feed per symbol and day, and the recording backtests', async () => {
    const dataDir = tempDir();
    const recDir = tempDir();
    const lines: string[] = [];
    const io = {
      out: (l: string) => lines.push(l),
      err: (l: string) => lines.push(`ERR ${l}`),
      env: {
        TRADER_DATABASE_EMBEDDED: 'memory',
        TRADER_HTTP_SHUTDOWN_DELAY_MS: '0',
        TRADER_JOURNAL_FSYNC: 'never',
        TRADER_SYMBOLS: 'BTCUSDT,ETHUSDT',
        TRADER_RECORDING_ENABLED: 'true',
        TRADER_RECORDING_DIR: recDir,
        TRADER_RECORDING_FLUSH_INTERVAL_MS: '200',
      },
    };
    expect(
      await runTraderCommand(['--duration', '3', '--data-dir', dataDir, '--port', '0'], io),
      lines.join('\n'),
    ).toBe(0);
    const summary = JSON.parse(lines.join('\n').split('trader: summary ')[1] as string) as {
      market: { bookEvents: number; trades: number };
    };
    const got: RecordedLine[] = [];
    const read = await replayRecording(recDir, (l) => got.push(l));
    expect(read.files.sort()).toEqual(
      ['BTCUSDT', 'ETHUSDT'].map((s) => join('binance', s, `${new Date(read.firstT).toISOString().slice(0, 10)}.csrb`)),
    );
    expect(read.truncated).toEqual([]);
    // Each book starts from the REST snapshot the client fetched (diffs buffered meanwhile come after it), then diffs
    // and trades follow, in delivery order.
    for (const symbol of ['BTCUSDT', 'ETHUSDT']) {
      const mine = got.filter((l) => (isSnapshotLine(l) ? l.symbol : l.ev.symbol) === symbol);
      const firstBook = mine.find((l) => isSnapshotLine(l) || l.ev.kind === 'book') as RecordedLine;
      expect(isSnapshotLine(firstBook), symbol).toBe(true);
      expect(mine.some((l) => !isSnapshotLine(l) && l.ev.kind === 'book')).toBe(true);
      expect(mine.some((l) => !isSnapshotLine(l) && l.ev.kind === 'trade')).toBe(true);
      const diffs = mine.flatMap((l) => (!isSnapshotLine(l) && l.ev.kind === 'book' ? [l.ev.lastSeq] : []));
      expect(diffs).toEqual([...diffs].sort((x, y) => x - y));
    }
    // Every event the engine received was recorded (the recorder flushes after the feed stopped).
    expect(summary.market.bookEvents).toBeGreaterThan(0);
    expect(got.filter((l) => !isSnapshotLine(l) && l.ev.kind === 'book').length).toBe(summary.market.bookEvents);
    expect(got.filter((l) => !isSnapshotLine(l) && l.ev.kind === 'trade').length).toBe(summary.market.trades);
    const out = tempDir();
    const bt: string[] = [];
    const code = await runTraderCommand(['backtest', '--data', recDir, '--out', out], {
      out: (l) => bt.push(l),
      err: (l) => bt.push(`ERR ${l}`),
      env: {},
    });
    expect(code, bt.join('\n')).toBe(0);
    const report = JSON.parse(readFileSync(join(out, 'report.json'), 'utf8')) as BacktestReport;
    expect(report.lines).toBe(got.length);
  }, 60_000);
});
