// The image's entrypoint: connection strings and notifier credentials from files, then the trader in this same
// process, so node stays PID 1 and the trader's own SIGTERM handling (drain, stop in reverse order, summary) is
// what a `stop` gets.
//
// Compose and Kubernetes mount secrets as files (`/run/secrets/...`). The trader reads its own secrets from files
// (`TRADER_JWT_SECRET_FILE`, `TRADER_METRICS_TOKEN_FILE`); the variables below carry passwords inside URLs or
// tokens and are read from the environment only, so for each `<NAME>_FILE` set here `<NAME>` becomes that file's
// content (one trailing line break dropped) and `<NAME>_FILE` is removed (the trader refuses unknown `TRADER_*`
// variables). Both `<NAME>` and `<NAME>_FILE`, or an unreadable file, stop the start with exit code 2.
// With TRADER_LOG_FORMAT=json (how the deployments run) a refusal is one JSON line in the trader's own shape, so the
// log store reads its level like any other line.
import { readFileSync } from 'node:fs';

function refuse(msg) {
  if (process.env.TRADER_LOG_FORMAT === 'json') {
    const line = { level: 'error', time: Date.now() };
    if (process.env.TRADER_ROLE !== undefined) line.role = process.env.TRADER_ROLE;
    if (process.env.TRADER_INSTANCE_ID !== undefined) line.instance = process.env.TRADER_INSTANCE_ID;
    line.pid = process.pid;
    line.msg = msg;
    process.stderr.write(`${JSON.stringify(line)}\n`);
  } else console.error(msg);
  process.exit(2);
}

const FROM_FILE = [
  'DATABASE_URL',
  'DATABASE_REPLICA_URLS',
  'REDIS_URL',
  'TRADER_BUS_REDIS_URL',
  'TRADER_ALERTS_SLACK_TOKEN',
  'TRADER_ALERTS_WEBHOOK_URL',
];

for (const name of FROM_FILE) {
  const path = process.env[`${name}_FILE`];
  if (path === undefined) continue;
  if (process.env[name] !== undefined) refuse(`entrypoint: both ${name} and ${name}_FILE are set; keep one`);
  try {
    process.env[name] = readFileSync(path, 'utf8').replace(/\r?\n$/, '');
  } catch (e) {
    refuse(`entrypoint: ${name}_FILE: cannot read ${path}: ${e instanceof Error ? e.message : String(e)}`);
  }
  delete process.env[`${name}_FILE`];
}

await import('./apps/trader/dist/main.js');
