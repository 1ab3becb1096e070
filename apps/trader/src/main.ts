// The trader's command line:
//   trader [--role all|engine|gateway] [--duration <s>] [--data-dir <dir>] [--port <n>] [--config <file>] [--env <name>]
//   trader journal verify|repair [--data-dir <dir> | --journal <file>] [--json] [--yes]
// `npm start` runs the compiled `dist/main.js` with `--role all` on embedded defaults. On SIGINT/SIGTERM/SIGHUP, at
// the end of --duration, or when the supervisor named by TRADER_SUPERVISOR_PID is gone, it stops trading first,
// then shuts down in reverse start order and prints the final summary.
import { createTrader, type TraderEndpoints } from './app/trader.js';
import { runJournalCommand } from './cli/journal-command.js';
import type { TraderConfig } from './config/config-types.js';
import { loadConfig } from './config/load-config.js';
import { isTraderError } from './errors.js';
import { watchParent } from './internal/parent-watch.js';

// A closed terminal or pipe must not crash a shutdown in progress: output errors (EPIPE) are ignored.
for (const stream of [process.stdout, process.stderr]) stream.on('error', () => {});

async function main(argv: string[]): Promise<number> {
  if (argv[0] === 'journal') return runJournalCommand(argv.slice(1));
  let config: TraderConfig;
  try {
    config = loadConfig({ argv });
  } catch (e) {
    if (isTraderError(e)) {
      console.error(`trader: configuration error${e.field ? ` in ${e.field}` : ''}: ${e.message}`);
      return 2;
    }
    throw e;
  }

  // Stop requests are taken from the first moment, so a signal during start still shuts down in order.
  let requestStop: (reason: string) => void = () => {};
  const stopRequested = new Promise<string>((resolve) => {
    requestStop = resolve;
  });
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) {
      console.error(`trader: ${signal} again while stopping: exiting now`);
      process.exit(1);
    }
    requestStop(signal);
  };
  for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(s, onSignal);
  const supervisor = Number(process.env.TRADER_SUPERVISOR_PID);
  const parentWatch =
    Number.isInteger(supervisor) && supervisor > 0
      ? watchParent({ pid: supervisor, onGone: () => requestStop('supervisor gone') })
      : undefined;

  const trader = createTrader({ config, jwtSecret: process.env.TRADER_JWT_SECRET ?? '' });
  console.log(
    `trader: starting role ${config.role} (${config.env}), pid ${process.pid}, symbols ${config.symbols.join(', ')}`,
  );
  let endpoints: TraderEndpoints;
  try {
    endpoints = await trader.start();
  } catch (e) {
    parentWatch?.stop();
    console.error(`trader: failed to start: ${e instanceof Error ? e.message : String(e)}`);
    return 1;
  }
  printEndpoints(trader, endpoints, config);

  if (config.durationSec > 0) setTimeout(() => requestStop('duration elapsed'), config.durationSec * 1000).unref();
  const reason = await stopRequested;
  stopping = true;
  console.log(`trader: stopping (${reason})`);
  await trader.stop(reason);
  parentWatch?.stop();
  console.log(`trader: summary ${JSON.stringify(trader.summary(), null, 2)}`);
  return 0;
}

function printEndpoints(trader: ReturnType<typeof createTrader>, ep: TraderEndpoints, config: TraderConfig): void {
  if (trader.role !== 'gateway') {
    const r = trader.replay();
    console.log(
      `trader: replayed ${r.entries} journal entries (${r.orders} orders, ${r.fills} fills, ${r.reconciledCancelled} open orders reconciled as cancelled)`,
    );
  }
  console.log(`trader: health    ${ep.health}  (readiness ${ep.readiness}, liveness ${ep.http}/health/liveness)`);
  console.log(`trader: metrics   ${ep.metrics}`);
  if (ep.dashboard !== undefined)
    console.log(
      `trader: dashboard ${ep.dashboard}  (API ${ep.http}/api, OpenAPI ${ep.http}/api/openapi.json, streams ${ep.http.replace(/^http/, 'ws')}/api/stream)`,
    );
  if (ep.localAdminToken !== undefined)
    console.log(
      'trader: no TRADER_JWT_SECRET set: the API uses a random secret for this run, and the link above holds an admin token',
    );
  if (ep.market !== undefined) console.log(`trader: market    ${ep.market.ws} (snapshots ${ep.market.rest})`);
  if (ep.database !== undefined) console.log(`trader: database  ${ep.database}`);
  if (ep.cache !== undefined) console.log(`trader: cache     ${ep.cache}`);
  if (ep.journal !== undefined) console.log(`trader: journal   ${ep.journal}`);
  console.log(`trader: bus       ${ep.bus}`);
  console.log(`trader: running${config.durationSec > 0 ? ` for ${config.durationSec} s` : ' (Ctrl-C to stop)'}`);
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e: unknown) => {
    console.error('trader: failed:', e instanceof Error ? (e.stack ?? e.message) : e);
    process.exit(1);
  },
);
