// The trader's command line:
//   trader [--role all|engine|gateway] [--duration <s>] [--data-dir <dir>] [--port <n>] [--config <file>] [--env <name>]
//   trader journal verify|repair [--data-dir <dir> | --journal <file>] [--json] [--yes]
// `npm start` runs the compiled `dist/main.js` with `--role all` on embedded defaults. On SIGINT/SIGTERM/SIGHUP, at
// the end of --duration, or when the supervisor named by TRADER_SUPERVISOR_PID is gone, it stops trading first,
// then shuts down in reverse start order and prints the final summary.
import { runTraderCommand } from './cli/trader-command.js';
import { logCrash } from './internal/crash-log.js';

// A closed terminal or pipe must not crash a shutdown in progress: output errors (EPIPE) are ignored.
for (const stream of [process.stdout, process.stderr]) stream.on('error', () => {});

const described = (e: unknown): string => (e instanceof Error ? (e.stack ?? e.message) : String(e));

// With `log.format: json` a crash is also one `fatal` JSON line (the monitor changes nothing else: node still
// prints its report and exits 1).
process.on('uncaughtExceptionMonitor', (e, origin) => {
  logCrash(`trader: crashed (${origin}): ${described(e)}`);
});

runTraderCommand(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e: unknown) => {
    const line = `trader: failed: ${described(e)}`;
    if (!logCrash(line)) console.error(line);
    process.exit(1);
  },
);
