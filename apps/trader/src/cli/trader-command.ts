// The trader's command line as a function (`src/main.ts` runs it with the process's streams and environment):
//   trader [--role all|engine|gateway] [--duration <s>] [--data-dir <dir>] [--port <n>] [--config <file>] [--env <name>]
//   trader journal verify|repair [--data-dir <dir> | --journal <file>] [--json] [--yes]
//   trader users add --username <u> --role <r> --password-file <f>   |   trader audit verify [--json]
//   trader keys status|rotate|resume|rewrap   (encryption at rest: data keys, rotation, re-encryption)
//   trader record --out <dir> [--minutes <n>] [--seed <n>]      (the simulator's market in simulated time)
//   trader backtest --data <dir> [--from <iso>] [--to <iso>] [--config <file>] [--seed <n>] [--out <dir>] [--latency-ms <n>]
import { createTrader, type TraderEndpoints } from '../app/trader.js';
import { runBacktestCommand } from '../backtest/backtest-command.js';
import type { TraderConfig } from '../config/config-types.js';
import { loadConfig } from '../config/load-config.js';
import { loadSecrets, type TraderSecrets } from '../config/secrets.js';
import { isTraderError } from '../errors.js';
import { setCrashLog } from '../internal/crash-log.js';
import { createLogWriter, type Log } from '../internal/log.js';
import { watchParent } from '../internal/parent-watch.js';
import { runRecordCommand } from '../recording/record-command.js';
import { type KekSource, loadKek } from '../security/kek-source.js';
import { runAuditCommand } from './audit-command.js';
import { runJournalCommand } from './journal-command.js';
import { runKeysCommand } from './keys-command.js';
import { runUsersCommand } from './users-command.js';

/** Where the command writes, and what it reads from the environment (tests pass their own). */
export interface TraderCommandIo {
  out(line: string): void;
  err(line: string): void;
  env: NodeJS.ProcessEnv;
  /**
   * The file descriptors behind `out` and `err` when they are the process's own: with `log.format: json` the lines
   * are written to them synchronously (see `createLogWriter`). Without it JSON lines go through `out` and `err`.
   */
  fds?: { out: number; err: number };
}

const PROCESS_IO: TraderCommandIo = {
  out: (line) => console.log(line),
  err: (line) => console.error(line),
  env: process.env,
  fds: { out: 1, err: 2 },
};

/** Exit code of an engine that lost its lease (EX_TEMPFAIL): restart it, it comes back as a standby. */
export const EXIT_DEMOTED = 75;

/**
 * Runs the trader's command line and resolves with the exit code: `journal ...` subcommands, or a trader of the
 * configured role until a signal (SIGINT, SIGTERM, SIGHUP; a second one exits at once), the end of `--duration`,
 * or the loss of the supervisor named by `TRADER_SUPERVISOR_PID`. Exit codes: 0 after a clean stop, 1 when the
 * start failed, 2 for a configuration error, 75 ({@link EXIT_DEMOTED}) for an engine that lost its lease.
 */

export async function runTraderCommand(argv: string[], io: TraderCommandIo = PROCESS_IO): Promise<number> {
  if (argv[0] === 'journal') return runJournalCommand(argv.slice(1), { out: io.out, err: io.err });
  if (argv[0] === 'users') return runUsersCommand(argv.slice(1), io);
  if (argv[0] === 'audit') return runAuditCommand(argv.slice(1), io);
  if (argv[0] === 'keys') return runKeysCommand(argv.slice(1), io);
  if (argv[0] === 'record') return runRecordCommand(argv.slice(1), io);
  if (argv[0] === 'backtest') return runBacktestCommand(argv.slice(1), io);
  let config: TraderConfig;
  let secrets: TraderSecrets;
  let kek: KekSource;
  // The process's own command: a crash is written in the deployment's format (see crash-log.ts).
  const ownProcess = io === PROCESS_IO;
  if (ownProcess) setCrashLog(io.env.TRADER_LOG_FORMAT === 'json' ? configErrorLog(io) : undefined);
  try {
    config = loadConfig({ argv, env: io.env });
    secrets = loadSecrets(io.env, config);
    kek = loadKek(io.env, config);
  } catch (e) {
    if (isTraderError(e)) {
      configErrorLog(io)(`trader: configuration error${e.field ? ` in ${e.field}` : ''}: ${e.message}`, 'error');
      return 2;
    }
    throw e;
  }
  // Every line of the run in `log.format`: the command's own on stdout (`out`) or stderr (`err`), the trader's
  // (counted by level in createTrader) on stdout, as before.
  const logBase = { role: config.role, instance: config.instanceId, pid: process.pid };
  const writer = (stream: 'out' | 'err') =>
    createLogWriter({
      format: config.log.format,
      level: config.log.level,
      base: logBase,
      write: (line) => io[stream](line),
      ...(io.fds === undefined ? {} : { fd: io.fds[stream] }),
    });
  const out = writer('out');
  const err = writer('err');
  if (ownProcess) setCrashLog(config.log.format === 'json' ? err : undefined);

  // Stop requests are taken from the first moment, so a signal during start still shuts down in order.
  let requestStop: (reason: string) => void = () => {};
  const stopRequested = new Promise<string>((resolve) => {
    requestStop = resolve;
  });
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) {
      err(`trader: ${signal} again while stopping: exiting now`, 'warn');
      process.exit(1);
    }
    requestStop(signal);
  };
  const signals = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
  for (const s of signals) process.on(s, onSignal);
  const release = () => {
    for (const s of signals) process.off(s, onSignal);
  };
  const supervisor = Number(io.env.TRADER_SUPERVISOR_PID);
  const parentWatch =
    Number.isInteger(supervisor) && supervisor > 0
      ? watchParent({ pid: supervisor, onGone: () => requestStop('supervisor gone') })
      : undefined;

  // Engine active/standby: a demoted engine stops in order and exits non-zero, for its supervisor to restart it.
  let fatal: string | undefined;
  if (kek.warning !== undefined) err(kek.warning, 'warn');
  const trader = createTrader({
    config,
    ...secrets,
    kek: kek.kek,
    previousKeks: kek.previous,
    log: out,
    onFatal: (reason) => {
      fatal ??= reason;
      requestStop(reason);
    },
  });
  out(`trader: starting role ${config.role} (${config.env}), pid ${process.pid}, symbols ${config.symbols.join(', ')}`);
  let endpoints: TraderEndpoints;
  try {
    endpoints = await trader.start();
  } catch (e) {
    parentWatch?.stop();
    release();
    err(`trader: failed to start: ${e instanceof Error ? e.message : String(e)}`, 'error');
    return 1;
  }
  printEndpoints(trader, endpoints, config, out);

  const duration =
    config.durationSec > 0 ? setTimeout(() => requestStop('duration elapsed'), config.durationSec * 1000) : undefined;
  const reason = await stopRequested;
  stopping = true;
  out(`trader: stopping (${reason})`);
  clearTimeout(duration);
  await trader.stop(reason);
  parentWatch?.stop();
  release();
  out(`trader: summary ${JSON.stringify(trader.summary(), null, 2)}`);
  return fatal === undefined ? 0 : EXIT_DEMOTED;
}

/**
 * Where a configuration error is written: the configuration is what failed, so its `log.format` is unknown; a
 * `TRADER_LOG_FORMAT=json` in the environment (how the deployments set it) still gets a JSON line for the log store,
 * with the role and instance the environment names, if it names them.
 */
function configErrorLog(io: TraderCommandIo): Log {
  if (io.env.TRADER_LOG_FORMAT !== 'json') return (line) => io.err(line);
  const base: Record<string, string | number> = {};
  if (io.env.TRADER_ROLE !== undefined) base.role = io.env.TRADER_ROLE;
  if (io.env.TRADER_INSTANCE_ID !== undefined) base.instance = io.env.TRADER_INSTANCE_ID;
  base.pid = process.pid;
  return createLogWriter({
    format: 'json',
    base,
    write: (line) => io.err(line),
    ...(io.fds === undefined ? {} : { fd: io.fds.err }),
  });
}

function printEndpoints(
  trader: ReturnType<typeof createTrader>,
  ep: TraderEndpoints,
  config: TraderConfig,
  out: (line: string) => void,
): void {
  if (ep.ha?.role === 'standby')
    out('trader: standby: the journal follows the event stream; this engine takes over when the lease expires');
  else if (trader.role !== 'gateway') {
    const r = trader.replay();
    out(
      `trader: replayed ${r.entries} journal entries (${r.orders} orders, ${r.fills} fills, ${r.reconciledCancelled} open orders reconciled as cancelled)`,
    );
  }
  out(`trader: health    ${ep.health}  (readiness ${ep.readiness}, liveness ${ep.http}/health/liveness)`);
  out(`trader: metrics   ${ep.metrics}`);
  if (ep.dashboard !== undefined)
    out(
      `trader: dashboard ${ep.dashboard}  (API ${ep.http}/api, OpenAPI ${ep.http}/api/openapi.json, streams ${ep.http.replace(/^http/, 'ws')}/api/stream)`,
    );
  if (ep.localAdminToken !== undefined)
    out(
      'trader: no TRADER_JWT_SECRET set: the API uses a random secret for this run, and the link above holds an admin token valid for 15 minutes',
    );
  if (ep.market !== undefined) out(`trader: market    ${ep.market.ws} (snapshots ${ep.market.rest})`);
  if (ep.database !== undefined) out(`trader: database  ${ep.database}`);
  if (ep.cache !== undefined) out(`trader: cache     ${ep.cache}`);
  if (ep.journal !== undefined) out(`trader: journal   ${ep.journal}`);
  out(`trader: bus       ${ep.bus}`);
  out(`trader: running${config.durationSec > 0 ? ` for ${config.durationSec} s` : ' (Ctrl-C to stop)'}`);
}
