import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { waitFor } from '@cryptoscalp/testkit';
import { afterAll, describe, expect, it } from 'vitest';
import { runTraderCommand } from '../../src/cli/trader-command.js';
import { LOG_LEVELS } from '../../src/internal/log.js';
import { DATA_DIR_LOCK_FILE } from '../../src/journal/data-dir-lock.js';
import { tempDirs } from '../temp-dir.js';

// `log.format: json` in a real trader process (src/main.ts through tsx, stdout and stderr on pipes, as under a
// container runtime): every line is one pino object with the fields promtail reads, the warn lines carry their
// level, and the lines written right before the process exits (the stop summary; the second signal's "exiting
// now") arrive whole. Configuration errors are checked in process.
const appDir = fileURLToPath(new URL('../../', import.meta.url));
const tempDir = tempDirs('trader-log-json-');
const children = new Set<ChildProcess>();
afterAll(async () => {
  for (const c of children) {
    if (c.exitCode === null && c.signalCode === null) {
      c.kill('SIGKILL');
      await new Promise((r) => c.once('exit', r));
    }
  }
});

interface Run {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  exited: Promise<number | null>;
}

function startTrader(env: Record<string, string>, nodeArgs: string[] = []): Run {
  const child = spawn(process.execPath, [...nodeArgs, '--import', 'tsx', 'src/main.ts', '--port', '0'], {
    cwd: appDir,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  let out = '';
  let err = '';
  child.stdout?.on('data', (d) => {
    out += String(d);
  });
  child.stderr?.on('data', (d) => {
    err += String(d);
  });
  // 'close', not 'exit': every byte of both pipes has been read by then.
  const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
  return { child, stdout: () => out, stderr: () => err, exited };
}

/** Waits until the trader says it runs; fails with its stderr when it exited first. */
async function running(run: Run): Promise<void> {
  await waitFor(() => run.stdout().includes('trader: running') || run.child.exitCode !== null, {
    timeoutMs: 90_000,
    intervalMs: 50,
    what: 'trader: running',
  });
  expect(run.stdout(), run.stderr()).toContain('trader: running');
}

/** Every line of `text` as a pino object; a line that is not JSON fails the test, naming it. */
function objects(text: string, stream: string): Record<string, unknown>[] {
  const lines = text.split('\n');
  expect(lines.at(-1), `${stream} ends with a line break`).toBe('');
  return lines.slice(0, -1).map((line) => {
    try {
      return JSON.parse(line) as Record<string, unknown>;
    } catch {
      throw new Error(`${stream}: not a JSON line: ${line}`);
    }
  });
}

function expectFields(o: Record<string, unknown>, pid: number | undefined, instance: string): void {
  expect(LOG_LEVELS as readonly unknown[], JSON.stringify(o)).toContain(o.level);
  expect(Number.isInteger(o.time), JSON.stringify(o)).toBe(true);
  expect(typeof o.msg).toBe('string');
  expect(o).toMatchObject({ role: 'all', instance, pid });
}

function env(dataDir: string, instance: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    TRADER_ENV: 'test',
    TRADER_LOG_FORMAT: 'json',
    TRADER_INSTANCE_ID: instance,
    TRADER_DATA_DIR: dataDir,
    TRADER_JOURNAL_FSYNC: 'never',
    TRADER_HTTP_SHUTDOWN_DELAY_MS: '0',
    TRADER_JWT_SECRET: randomBytes(32).toString('hex'),
    ...extra,
  };
}

describe('a trader process with TRADER_LOG_FORMAT=json', () => {
  it('writes only JSON lines (level, time, msg, role, instance), its warnings at warn, counted, and the stop summary last', async () => {
    const dataDir = tempDir();
    // A lock file left empty by a crash: the trader takes it over and says so at warn (through the counted log).
    writeFileSync(join(dataDir, DATA_DIR_LOCK_FILE), '');
    const metricsToken = randomBytes(32).toString('hex');
    const run = startTrader(env(dataDir, 'log-json-1', { TRADER_METRICS_TOKEN: metricsToken }));
    try {
      await running(run);
      const metricsUrl = /trader: metrics\s+(http:\/\/\S+\/metrics)/.exec(run.stdout())?.[1] as string;
      const metrics = await (await fetch(metricsUrl, { headers: { authorization: `Bearer ${metricsToken}` } })).text();
      const warns = Number(/^cryptoscalp_log_messages_total\{level="warn"\} (\d+)/m.exec(metrics)?.[1]);
      expect(warns).toBeGreaterThanOrEqual(1);
      run.child.kill('SIGTERM');
      expect(await run.exited, run.stderr()).toBe(0);
    } finally {
      if (run.child.exitCode === null) run.child.kill('SIGKILL');
    }
    const pid = run.child.pid;
    const out = objects(run.stdout(), 'stdout');
    for (const o of out) expectFields(o, pid, 'log-json-1');
    const times = out.map((o) => o.time as number);
    expect(times).toEqual([...times].sort((a, b) => a - b));
    const msgs = out.map((o) => o.msg as string);
    expect(msgs[0]).toMatch(/^trader: starting role all \(test\), pid \d+/);
    const takeover = out.find((o) => (o.msg as string).startsWith('trader: took over a stale lock'));
    expect(takeover?.level, msgs.join('\n')).toBe('warn');
    expect(msgs).toContain('trader: stopping (SIGTERM)');
    // The summary is the last line, whole: the text after the prefix is the summary's JSON.
    const last = msgs.at(-1) as string;
    expect(last.startsWith('trader: summary {')).toBe(true);
    expect(JSON.parse(last.slice('trader: summary '.length))).toMatchObject({ role: 'all', leftOpenAtExit: 0 });
    // The command's own stderr lines are JSON too: no KEK file in this run is a warning.
    const err = objects(run.stderr(), 'stderr');
    for (const o of err) expectFields(o, pid, 'log-json-1');
    expect(err.find((o) => (o.msg as string).includes('no TRADER_KEK_FILE set'))?.level).toBe('warn');
  }, 150_000);

  it('writes the second signal\'s "exiting now" line whole before it exits 1', async () => {
    // A long drain keeps the first stop going while the second signal arrives.
    const run = startTrader(env(tempDir(), 'log-json-2', { TRADER_HTTP_SHUTDOWN_DELAY_MS: '20000' }));
    try {
      await running(run);
      run.child.kill('SIGTERM');
      await waitFor(() => run.stdout().includes('trader: stopping (SIGTERM)') || run.child.exitCode !== null, {
        timeoutMs: 30_000,
        intervalMs: 20,
        what: 'trader: stopping',
      });
      run.child.kill('SIGTERM');
      expect(await run.exited, run.stderr()).toBe(1);
    } finally {
      if (run.child.exitCode === null) run.child.kill('SIGKILL');
    }
    const err = objects(run.stderr(), 'stderr');
    expect(err.at(-1)).toMatchObject({
      level: 'warn',
      msg: 'trader: SIGTERM again while stopping: exiting now',
      role: 'all',
      instance: 'log-json-2',
    });
    // It never reached its summary: the stop was cut short.
    expect(run.stdout()).not.toContain('trader: summary');
  }, 150_000);
});

describe('a crash with TRADER_LOG_FORMAT=json', () => {
  it("is one fatal JSON line on stderr naming the error, beside node's own report, and the process exits 1", async () => {
    // An uncaught exception in a running trader: a SIGUSR2 handler that throws, loaded before the trader.
    const crash = `process.on('SIGUSR2', () => { throw new Error('crash-test ' + process.pid); });`;
    const run = startTrader(env(tempDir(), 'log-json-3'), [
      '--import',
      `data:text/javascript,${encodeURIComponent(crash)}`,
    ]);
    try {
      await running(run);
      run.child.kill('SIGUSR2');
      expect(await run.exited, run.stderr()).toBe(1);
    } finally {
      if (run.child.exitCode === null) run.child.kill('SIGKILL');
    }
    const json = run
      .stderr()
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const fatal = json.filter((o) => o.level === 'fatal');
    expect(fatal, run.stderr()).toHaveLength(1);
    expect(fatal[0]).toMatchObject({ role: 'all', instance: 'log-json-3', pid: run.child.pid });
    expect(fatal[0]?.msg).toMatch(
      new RegExp(`^trader: crashed \\(uncaughtException\\): Error: crash-test ${run.child.pid}\\n\\s+at `),
    );
    // node's own report follows (plain text: promtail labels it error).
    expect(run.stderr()).toContain(`Error: crash-test ${run.child.pid}`);
  }, 150_000);
});

describe('configuration errors and TRADER_LOG_FORMAT', () => {
  it('a bad log.format stops the start with exit 2, naming log.format (in text: the format is what failed)', async () => {
    const lines: string[] = [];
    const code = await runTraderCommand([], {
      out: (l) => lines.push(l),
      err: (l) => lines.push(`ERR ${l}`),
      env: { TRADER_LOG_FORMAT: 'xml' },
    });
    expect(code).toBe(2);
    expect(lines).toEqual([
      expect.stringMatching(
        /^ERR trader: configuration error in log\.format: invalid configuration: log\.format must be one of text, json \(got "xml"\)$/,
      ),
    ]);
  });

  it('with TRADER_LOG_FORMAT=json, another configuration error is one JSON line at error naming the field', async () => {
    const err: string[] = [];
    const code = await runTraderCommand([], {
      out: (l) => expect.fail(`nothing on stdout: ${l}`),
      err: (l) => err.push(l),
      env: { TRADER_LOG_FORMAT: 'json', TRADER_INSTANCE_ID: 'gw-9', TRADER_SIMULATOR_TICK_MS: '0' },
    });
    expect(code).toBe(2);
    expect(err).toHaveLength(1);
    const o = JSON.parse(err[0] as string) as Record<string, unknown>;
    expect(o).toMatchObject({ level: 'error', instance: 'gw-9', pid: process.pid });
    expect(o.msg).toMatch(/^trader: configuration error in simulator\.tickMs: /);
    expect(Number.isInteger(o.time)).toBe(true);
  });
});
