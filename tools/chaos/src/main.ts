// `npm run chaos -- --seed N --duration S [--json path] [--clients N] [--faults kind,kind] [--max-faults N]`: runs
// the chaos suite, prints the table and writes the report as JSON; exits 1 when an invariant failed.
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { FAULT_KINDS, type FaultKind, formatReport, runChaos } from './chaos.js';

const { values } = parseArgs({
  options: {
    seed: { type: 'string', default: '1' },
    duration: { type: 'string', default: '120' },
    clients: { type: 'string', default: '20' },
    json: { type: 'string', default: 'chaos-report.json' },
    faults: { type: 'string', default: FAULT_KINDS.join(',') },
    'max-faults': { type: 'string' },
  },
  strict: true,
});
const int = (name: 'seed' | 'duration' | 'clients', min: number) => {
  const n = Number(values[name]);
  if (!Number.isInteger(n) || n < min)
    throw new RangeError(`--${name} must be an integer >= ${min}, got ${values[name]}`);
  return n;
};
const faults = (values.faults as string).split(',').filter((k) => k !== '') as FaultKind[];
const maxFaults = values['max-faults'] === undefined ? undefined : Number(values['max-faults']);
if (maxFaults !== undefined && !(Number.isInteger(maxFaults) && maxFaults >= 1))
  throw new RangeError(`--max-faults must be an integer >= 1, got ${values['max-faults']}`);
const options = {
  seed: int('seed', 0),
  durationSec: int('duration', 1),
  streamClients: int('clients', 1),
  faults,
  ...(maxFaults === undefined ? {} : { maxFaults }),
};
const started = Date.now();
// Ctrl-C or a SIGTERM ends the run early but still through its cleanup (every process it started is stopped by PID);
// a second signal is left to its default action.
const stop = new AbortController();
for (const sig of ['SIGINT', 'SIGTERM'] as const)
  process.once(sig, () => {
    console.error(`chaos: ${sig}: no more faults; stopping the system and checking the invariants (again to abort)`);
    stop.abort();
  });
const report = await runChaos({ ...options, signal: stop.signal, log: (line) => console.error(`chaos: ${line}`) });
if (stop.signal.aborted) report.notes.push('stopped early by a signal: fewer faults than the duration would give');
console.log(formatReport(report));
console.log(`\nwall time ${((Date.now() - started) / 1000).toFixed(0)} s`);
writeFileSync(values.json as string, `${JSON.stringify(report, null, 2)}\n`);
console.error(`chaos: report written to ${values.json}`);
process.exit(report.invariants.every((i) => i.ok) ? 0 : 1);
