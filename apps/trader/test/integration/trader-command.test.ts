import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runTraderCommand, type TraderCommandIo } from '../../src/cli/trader-command.js';
import { acquireDataDirLock } from '../../src/journal/data-dir-lock.js';

// The command line in this process (the process-level behaviour, signals and npm, is in npm-start-signals and
// roles): exit codes, what it prints, a refused data dir, and the journal subcommands.
const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function io(env: Record<string, string> = {}): TraderCommandIo & { text(): string } {
  const lines: string[] = [];
  return {
    out: (l) => lines.push(l),
    err: (l) => lines.push(`ERR ${l}`),
    env: {
      TRADER_DATABASE_EMBEDDED: 'memory',
      TRADER_HTTP_SHUTDOWN_DELAY_MS: '0',
      TRADER_JOURNAL_FSYNC: 'never',
      ...env,
    },
    text: () => lines.join('\n'),
  };
}

function dataDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'trader-cmd-'));
  dirs.push(d);
  return d;
}

describe('the trader command', () => {
  it('runs for --duration, prints where everything is and the final summary, and exits 0', async () => {
    const out = io({ TRADER_JWT_SECRET: 'command-test-secret-0123456789abcdef012345' });
    const code = await runTraderCommand(['--duration', '2', '--data-dir', dataDir(), '--port', '0'], out);
    expect(code).toBe(0);
    const text = out.text();
    for (const what of [
      'trader: starting role all',
      'trader: health',
      'trader: dashboard',
      'trader: journal',
      'trader: bus       in process',
      'trader: running for 2 s',
      'trader: stopping (duration elapsed)',
      'trader: summary',
    ])
      expect(text).toContain(what);
    expect(text).not.toContain('random secret');
    expect(text).toMatch(/"leftOpenAtExit": 0/);
  }, 60_000);

  it('exits 2 naming the field on a configuration error', async () => {
    const out = io();
    expect(await runTraderCommand(['--role', 'bogus'], out)).toBe(2);
    expect(out.text()).toMatch(/ERR trader: configuration error in role: .*must be one of all, engine, gateway/);
    const gw = io();
    expect(await runTraderCommand(['--role', 'gateway', '--port', '0'], gw)).toBe(2);
    expect(gw.text()).toMatch(/bus\.redisUrl/);
  });

  it('exits 1 when the data dir is held by a live process, naming it', async () => {
    const dir = dataDir();
    const lock = acquireDataDirLock(dir);
    try {
      const out = io();
      expect(await runTraderCommand(['--data-dir', dir, '--port', '0'], out)).toBe(1);
      expect(out.text()).toMatch(
        new RegExp(`ERR trader: failed to start: data dir .* is in use by pid ${process.pid}`),
      );
    } finally {
      lock.release();
    }
  }, 30_000);

  it('runs the journal subcommands', async () => {
    const dir = dataDir();
    const first = await runTraderCommand(['--duration', '1', '--data-dir', dir, '--port', '0'], io());
    expect(first).toBe(0);
    const out = io();
    expect(await runTraderCommand(['journal', 'verify', '--data-dir', dir], out)).toBe(0);
    expect(out.text()).toMatch(/ok|OK|entries/);
  }, 60_000);
});
