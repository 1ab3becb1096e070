#!/usr/bin/env node
// `npm start [-- --duration 30]`: the one-command development run. Builds what is out of date (quietly: the output is
// shown only if the build fails), then runs the built trader, `node apps/trader/dist/main.js <args>` (cwd apps/trader,
// so its default data directory is apps/trader/.trader-data as before), and stops it gracefully however the run is
// ended. This script is the trader's supervisor:
//
// - SIGINT, SIGTERM, SIGHUP: forwarded to the trader (which stops gracefully on each). Only the first stop request
//   is forwarded; repeats are ignored (npm 11 delivers a forwarded SIGTERM/SIGINT twice, and a trader that stopped on
//   `process.once` would die of the second one).
// - npm killed outright (SIGKILL), or dead of SIGHUP (npm forwards only SIGINT and SIGTERM, so SIGHUP kills it
//   without telling anyone): this script polls `process.ppid` and, when it is re-parented, sends SIGTERM to the
//   trader as if npm had forwarded one.
// - This script killed outright: the trader has TRADER_SUPERVISOR_PID=<this pid> in its environment and watches it
//   (src/internal/parent-watch.ts), so it shuts down gracefully by itself.
// Once told to stop, this script waits for the trader (at most 30 s, then SIGKILL, and says so) and exits with the
// trader's exit code (128 + the signal number if it died of a signal).
//
// What npm does (npm 11.19, /bin/sh = dash, observed with `kill -<SIG> <npm pid>`): npm runs the script through
// `sh -c "<script> <args>"` and, on SIGINT/SIGTERM, forwards the signal to that shell and exits when it has. dash
// does not exec the command, so with a plain `node scripts/start.mjs` the signal reached only the shell: SIGTERM killed
// it and orphaned everything below it, still running; SIGINT was held by the shell waiting for its child, and nothing
// stopped. SIGHUP and SIGKILL killed npm alone, and the shell stayed as the parent of this script, so not even a
// re-parenting showed. Hence the root script is `exec node scripts/start.mjs`: the shell becomes this process, npm's
// forwarded signals land here, and npm's death re-parents it. (`exec` needs a POSIX shell: on Windows, where npm uses
// cmd.exe, run `node scripts/start.mjs` instead.)
//
// The trader runs in its own process group (`detached`), so that this script is the only one signalling it: Ctrl-C in
// a terminal signals the whole foreground group (npm, this script), and npm forwards it to this script again; the
// trader gets exactly one SIGINT, from here. (So job control, Ctrl-Z, does not reach the trader: stop it instead.)
import { spawn, spawnSync } from 'node:child_process';
import { constants } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { staleWorkspaces } from './build-state.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const appDir = join(root, 'apps', 'trader');
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const STOP_TIMEOUT_MS = 30_000;
const PARENT_POLL_MS = 500;

// A terminal that went away must not crash the supervisor while it is stopping the trader.
process.stdout.on('error', () => {});
process.stderr.on('error', () => {});
const say = (message) => process.stderr.write(`start: ${message}\n`);

const stale = staleWorkspaces(root);
if (stale.length > 0) {
  process.stdout.write(`building (${stale.join(', ')} out of date)... `);
  const build = spawnSync(npm, ['run', 'build', '--silent'], { cwd: root, encoding: 'utf8' });
  if (build.status !== 0) {
    console.log('failed\n');
    console.error(`${build.stdout ?? ''}${build.stderr ?? ''}`);
    process.exit(build.status ?? 1);
  }
  console.log('done');
} else {
  console.log('build up to date (npm run build forces one)');
}

const parentAtStart = process.ppid;
const trader = spawn(
  process.execPath,
  ['--enable-source-maps', join(appDir, 'dist', 'main.js'), ...process.argv.slice(2)],
  {
    cwd: appDir,
    stdio: 'inherit',
    env: { ...process.env, TRADER_SUPERVISOR_PID: String(process.pid) },
    detached: process.platform !== 'win32',
  },
);

let stopping = false;
/** Forwards the first stop request to the trader and bounds the wait for it. */
function stop(reason, signal) {
  if (stopping) return;
  stopping = true;
  if (trader.exitCode !== null || trader.signalCode !== null) return;
  say(`${reason}: stopping the trader (pid ${trader.pid}, ${signal}), waiting up to ${STOP_TIMEOUT_MS / 1000} s`);
  trader.kill(signal);
  setTimeout(() => {
    say(`the trader did not stop within ${STOP_TIMEOUT_MS / 1000} s: killing it (SIGKILL)`);
    trader.kill('SIGKILL');
  }, STOP_TIMEOUT_MS).unref();
}

process.on('SIGINT', () => stop('SIGINT', 'SIGINT'));
process.on('SIGTERM', () => stop('SIGTERM', 'SIGTERM'));
process.on('SIGHUP', () => stop('SIGHUP', 'SIGHUP'));
const parentWatch = setInterval(() => {
  if (process.ppid === parentAtStart) return;
  clearInterval(parentWatch);
  stop(`the parent process (pid ${parentAtStart}, npm) is gone`, 'SIGTERM');
}, PARENT_POLL_MS);
parentWatch.unref();

trader.on('error', (error) => {
  say(`cannot run the trader: ${error.message}`);
  process.exit(1);
});
trader.on('exit', (code, signal) => process.exit(code ?? 128 + (constants.signals[signal] ?? 0)));
