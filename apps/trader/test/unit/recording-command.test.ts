import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { RECORD_USAGE, runRecordCommand } from '../../src/recording/record-command.js';
import { tempDirs } from '../temp-dir.js';

const tempDir = tempDirs('trader-record-');

function io() {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, io: { out: (l: string) => out.push(l), err: (l: string) => err.push(l) } };
}

describe('trader record', () => {
  it('records the simulated market of the chosen symbols to one file per symbol and day', async () => {
    const dir = tempDir();
    const { out, err, io: cmdIo } = io();
    const code = await runRecordCommand(
      [
        '--out',
        dir,
        '--minutes',
        '0.2',
        '--seed',
        '7',
        '--symbols',
        'BTCUSDT,SOLUSDT',
        '--start',
        '2026-02-01T00:00:00Z',
      ],
      cmdIo,
    );
    expect(code, err.join('\n')).toBe(0);
    expect(out[0]).toMatch(/^trader record: \d+ events of BTCUSDT, SOLUSDT over 0\.2 simulated min \(seed 7\)/);
    expect(readdirSync(join(dir, 'binance')).sort()).toEqual(['BTCUSDT', 'SOLUSDT']);
    expect(existsSync(join(dir, 'binance', 'BTCUSDT', '2026-02-01.csrb'))).toBe(true);
  });

  it('writes the first format with --format jsonl', async () => {
    const dir = tempDir();
    const { err, io: cmdIo } = io();
    const argv = ['--out', dir, '--minutes', '0.05', '--symbols', 'ETHUSDT', '--format', 'jsonl'];
    expect(await runRecordCommand(argv, cmdIo), err.join('\n')).toBe(0);
    expect(readdirSync(join(dir, 'binance', 'ETHUSDT'))).toEqual(['2026-01-05.jsonl.gz']);
  });

  it('prints its usage on --help', async () => {
    const { out, io: cmdIo } = io();
    expect(await runRecordCommand(['--help'], cmdIo)).toBe(0);
    expect(out).toEqual([RECORD_USAGE]);
  });

  it.each([
    [[], '--out is required'],
    [['--out'], '--out needs a value'],
    [['--out', 'x', '--minutes', '0'], '--minutes must be a number in (0, 10080]'],
    [['--out', 'x', '--seed', '-1'], '--seed must be an integer >= 0'],
    [['--out', 'x', '--symbols', 'btc'], '--symbols: "btc" is not a symbol like BTCUSDT'],
    [['--out', 'x', '--start', 'yesterday'], '--start must be an ISO 8601 time'],
    [['--out', 'x', '--verbose'], 'unknown option --verbose'],
    [['--out', 'x', '--format', 'csv'], '--format must be binary or jsonl (got "csv")'],
  ])('refuses %j with exit 2 naming the problem', async (argv, message) => {
    const { err, io: cmdIo } = io();
    expect(await runRecordCommand(argv, cmdIo)).toBe(2);
    expect(err[0]).toContain(`trader record: ${message}`);
  });
});
