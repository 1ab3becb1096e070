import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '@cryptoscalp/testkit';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';

// `npm start` is the one-command development run: npm -> scripts/start.mjs (the supervisor) -> the built trader
// (apps/trader/dist/main.js). Stopping npm, whichever way, must stop the trader gracefully and free its port.

const repoRoot = fileURLToPath(new URL('../../../../', import.meta.url));
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
// npm start rebuilds if a source changed since beforeAll's build (a concurrent edit): allow for a build.
const START_TIMEOUT_MS = 150_000;
const TEST_TIMEOUT_MS = START_TIMEOUT_MS + 60_000;

beforeAll(() => {
  // npm start builds what is out of date itself, quietly; building here (only if needed: the root `npm test` has
  // already built) keeps the build out of the timed runs below.
  const check = spawnSync(
    process.execPath,
    [
      '--input-type=module',
      '-e',
      `import { staleWorkspaces } from './scripts/build-state.mjs';
       console.log(JSON.stringify(staleWorkspaces(process.cwd())));`,
    ],
    { cwd: repoRoot, encoding: 'utf8' },
  );
  expect(check.status, check.stderr).toBe(0);
  if ((JSON.parse(check.stdout) as string[]).length === 0) return;
  const build = spawnSync(npm, ['run', 'build', '--silent'], { cwd: repoRoot, encoding: 'utf8' });
  expect(build.status, `${build.stdout}${build.stderr}`).toBe(0);
}, 180_000);

/**
 * Every process a test started (pid -> what its command line holds, so that a pid reused since is left alone) and
 * process group (npm's): killed after each test, whatever happened.
 */
const started = { pids: new Map<number, string>(), groups: new Set<number>() };
function killStarted(): void {
  for (const [pid, marker] of started.pids) {
    try {
      if (readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(marker)) process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  for (const group of started.groups) {
    try {
      process.kill(-group, 'SIGKILL');
    } catch {
      // the group is empty
    }
  }
  started.pids.clear();
  started.groups.clear();
}
// Also after a test that timed out (its body may still be running: the finally below kills what it finds later).
afterEach(killStarted);

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** True while `pid` runs (a zombie, exited but not yet reaped, counts as gone). */
function running(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    return !/^\d+ \(.*\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

async function until(check: () => boolean, timeoutMs: number, what: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what()}`);
    await sleep(50);
  }
}

function children(pid: number): number[] {
  const out = spawnSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' }).stdout;
  return out
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map(Number);
}

async function portIsFree(port: number): Promise<boolean> {
  return await new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** The environment for the trader: embedded defaults only (no service URL of the test run), its own data and port. */
function traderEnv(dataDir: string, httpPort: number): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (/^(TRADER_|REDIS_URL$|DATABASE_URL$|DATABASE_REPLICA_URLS$)/.test(name)) continue;
    env[name] = value;
  }
  return {
    ...env,
    TRADER_ENV: 'development',
    TRADER_DATA_DIR: dataDir,
    TRADER_HTTP_PORT: String(httpPort),
    TRADER_HTTP_SHUTDOWN_DELAY_MS: '0',
    TRADER_DATABASE_EMBEDDED: 'memory',
  };
}

/** `npm start -- --duration 120` in its own process group, its processes and output. */
interface NpmStart {
  npmPid: number;
  supervisorPid: number;
  traderPid: number;
  httpPort: number;
  output: () => string;
  runningAfterMs: number;
  npmExit: () => { code: number | null; signal: NodeJS.Signals | null };
}

/**
 * Runs `npm start -- --duration 120` (own data dir and HTTP port), waits for `trader: running`, finds the
 * supervisor (start.mjs) and the trader by walking the process tree down from npm, and hands them to `body`. Every
 * process it started is killed afterwards (by pid, and npm's process group), whatever happened.
 */
async function withNpmStart(body: (run: NpmStart) => Promise<void>): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), 'trader-npm-start-'));
  const httpPort = await freePort();
  const startedAt = Date.now();
  const child: ChildProcess = spawn(npm, ['start', '--', '--duration', '120'], {
    cwd: repoRoot,
    env: traderEnv(dataDir, httpPort),
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  const npmPid = child.pid as number;
  started.pids.set(npmPid, 'npm');
  started.groups.add(npmPid);
  let output = '';
  child.stdout?.on('data', (d) => {
    output += String(d);
  });
  child.stderr?.on('data', (d) => {
    output += String(d);
  });
  try {
    await until(
      () => output.includes('trader: running') || child.exitCode !== null,
      START_TIMEOUT_MS,
      () => `"trader: running" (output: ${output})`,
    );
    expect(output, 'the trader did not start').toContain('trader: running');
    const runningAfterMs = Date.now() - startedAt;
    // npm -> start.mjs (the root script is `exec node scripts/start.mjs`: no shell in between) -> the trader.
    const [supervisorPid] = children(npmPid);
    expect(supervisorPid, `no child of npm (pid ${npmPid})`).toBeDefined();
    started.pids.set(supervisorPid as number, 'scripts/start.mjs');
    expect(readFileSync(`/proc/${supervisorPid}/cmdline`, 'utf8')).toContain('scripts/start.mjs');
    const [traderPid] = children(supervisorPid as number);
    expect(traderPid, `no child of start.mjs (pid ${supervisorPid})`).toBeDefined();
    started.pids.set(traderPid as number, 'dist/main.js');
    expect(readFileSync(`/proc/${traderPid}/cmdline`, 'utf8')).toContain('dist/main.js');
    expect(readFileSync(`/proc/${traderPid}/environ`, 'utf8')).toContain(`TRADER_SUPERVISOR_PID=${supervisorPid}`);
    expect(await portIsFree(httpPort)).toBe(false);
    await body({
      npmPid,
      supervisorPid: supervisorPid as number,
      traderPid: traderPid as number,
      httpPort,
      output: () => output,
      runningAfterMs,
      npmExit: () => ({ code: child.exitCode, signal: child.signalCode }),
    });
  } finally {
    killStarted();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

/** Waits for `pid` to exit, and returns how long that took. */
async function exitOf(pid: number, what: string, run: NpmStart, timeoutMs = 35_000): Promise<number> {
  const from = Date.now();
  await until(
    () => !running(pid),
    timeoutMs,
    () => `${what} (pid ${pid}) to exit (output: ${run.output()})`,
  );
  return Date.now() - from;
}

describe.skipIf(process.platform !== 'linux')('npm start: stopping npm stops the trader gracefully', () => {
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    it(`${signal} to npm: forwarded once, the trader stops gracefully, frees its port, npm exits`, {
      timeout: TEST_TIMEOUT_MS,
    }, async () => {
      await withNpmStart(async (run) => {
        process.kill(run.npmPid, signal);
        const stoppedMs = await exitOf(run.traderPid, 'the trader', run);
        await exitOf(run.supervisorPid, 'start.mjs', run, 5_000);
        await exitOf(run.npmPid, 'npm', run, 5_000);
        console.log(
          `npm start: trader running after ${run.runningAfterMs} ms, stopped ${stoppedMs} ms after ${signal}`,
        );
        expect(run.output()).toContain(`trader: stopping (${signal})`);
        expect(run.output().match(/trader: stopping/g)).toHaveLength(1);
        expect(run.output()).toContain('trader: summary');
        expect(await portIsFree(run.httpPort)).toBe(true);
        // start.mjs exits with the trader's code (0); npm exits once it has.
        await until(
          () => run.npmExit().code !== null || run.npmExit().signal !== null,
          5_000,
          () => 'the npm exit status',
        );
        expect(run.npmExit().code).toBe(0);
      });
    });
  }

  for (const signal of ['SIGKILL', 'SIGHUP'] as const) {
    it(`${signal} to npm: start.mjs sees npm gone and stops the trader gracefully`, {
      timeout: TEST_TIMEOUT_MS,
    }, async () => {
      await withNpmStart(async (run) => {
        process.kill(run.npmPid, signal);
        await exitOf(run.traderPid, 'the trader', run);
        await exitOf(run.supervisorPid, 'start.mjs', run, 5_000);
        expect(run.output()).toMatch(/start: the parent process \(pid \d+, npm\) is gone: stopping the trader/);
        expect(run.output()).toContain('trader: stopping (SIGTERM)');
        expect(run.output().match(/trader: stopping/g)).toHaveLength(1);
        expect(run.output()).toContain('trader: summary');
        expect(await portIsFree(run.httpPort)).toBe(true);
      });
    });
  }

  // The trader watches TRADER_SUPERVISOR_PID itself (src/cli/trader-command.ts), so a supervisor killed outright
  // still ends in a graceful stop.
  it('SIGKILL to start.mjs: the trader sees TRADER_SUPERVISOR_PID gone and stops gracefully', {
    timeout: TEST_TIMEOUT_MS,
  }, async () => {
    await withNpmStart(async (run) => {
      process.kill(run.supervisorPid, 'SIGKILL');
      await exitOf(run.traderPid, 'the trader', run);
      expect(run.output()).toContain('trader: summary');
      expect(await portIsFree(run.httpPort)).toBe(true);
    });
  });
});
