// The trader's command line:
//   trader [--role all|engine|gateway] [--duration <s>] [--data-dir <dir>] [--port <n>] [--config <file>] [--env <name>]
//   trader journal verify|repair [--data-dir <dir> | --journal <file>] [--json] [--yes]
// `npm start` runs the compiled `dist/main.js` with `--role all` on embedded defaults. On SIGINT/SIGTERM/SIGHUP, at
// the end of --duration, or when the supervisor named by TRADER_SUPERVISOR_PID is gone, it stops trading first,
// then shuts down in reverse start order and prints the final summary.
import { runTraderCommand } from './cli/trader-command.js';

// A closed terminal or pipe must not crash a shutdown in progress: output errors (EPIPE) are ignored.
for (const stream of [process.stdout, process.stderr]) stream.on('error', () => {});

runTraderCommand(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e: unknown) => {
    console.error('trader: failed:', e instanceof Error ? (e.stack ?? e.message) : e);
    process.exit(1);
  },
);
