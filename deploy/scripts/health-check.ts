// Checks a running deployment through its endpoints: liveness, readiness, /health/status (with a token), /metrics
// (with the scrape token), event-stream lag and persistence lag against thresholds. Prints a table; exit 0 healthy,
// 1 unhealthy (the failing rows say what is wrong), 2 bad command line.
import { readFileSync } from 'node:fs';
import { EXIT, type Io, isMain, numberFlag, parseFlags, required, runScript, stdio, table } from './cli.js';

/** The script's `--help` text. */
export const USAGE = `Usage: npx tsx deploy/scripts/health-check.ts --url BASE [options]

  --url BASE                   the deployment's base URL (a gateway, the engine, or nginx in front of them).
  --token-file F               a bearer token (viewer or better) for /health/status; without it that row is skipped.
  --metrics-token-file F       the scrape token for /metrics (default: the --token-file token).
  --max-stream-lag-ms N        event-stream lag limit, cryptoscalp_stats_event_stream_lag_ms (default 2000).
  --max-persistence-lag N      persistence lag limit in journal entries, cryptoscalp_stats_persistence_lag (default 5000).
  --timeout-ms N               per request (default 5000).
  --help                       this text.

Exit codes: 0 healthy, 1 unhealthy (the FAIL rows say what), 2 bad command line.`;

/** One row of the report. `warn` is shown but does not fail the check. */
export interface CheckRow {
  check: string;
  status: 'ok' | 'warn' | 'fail' | 'skip';
  detail: string;
}

interface Options {
  url: string;
  token?: string;
  metricsToken?: string;
  maxStreamLagMs: number;
  maxPersistenceLag: number;
  timeoutMs: number;
}

async function get(opts: Options, path: string, token?: string): Promise<{ status: number; body: string }> {
  const res = await fetch(new URL(path, opts.url), {
    headers: token ? { authorization: `Bearer ${token}` } : {},
    signal: AbortSignal.timeout(opts.timeoutMs),
  });
  return { status: res.status, body: await res.text() };
}

/** Runs `probe`, turning a network error or timeout into a failed row. */
async function row(check: string, probe: () => Promise<Omit<CheckRow, 'check'>>): Promise<CheckRow> {
  try {
    return { check, ...(await probe()) };
  } catch (error) {
    // fetch wraps the socket error; with several addresses tried it is an AggregateError of them.
    const cause = (error as { cause?: { code?: string; message?: string; errors?: { code?: string }[] } }).cause;
    const code = cause?.code ?? cause?.errors?.[0]?.code;
    return { check, status: 'fail', detail: `unreachable: ${code ?? cause?.message ?? (error as Error).message}` };
  }
}

/** The largest sample of a Prometheus metric in an exposition, or undefined when it is not exported. */
function metricMax(exposition: string, name: string): number | undefined {
  const values = exposition
    .split('\n')
    .filter((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`))
    .map((l) => Number(l.slice(l.lastIndexOf(' ') + 1)));
  return values.length === 0 ? undefined : Math.max(...values);
}

function lagRow(check: string, value: number | undefined, max: number, unit: string): CheckRow {
  if (value === undefined) return { check, status: 'skip', detail: 'not exported by this role' };
  return value <= max
    ? { check, status: 'ok', detail: `${value} ${unit} (limit ${max})` }
    : { check, status: 'fail', detail: `${value} ${unit} is over the limit of ${max}` };
}

/** Checks a deployment at `opts.url`; every row, in order. */
export async function healthCheck(opts: Options): Promise<CheckRow[]> {
  const rows: CheckRow[] = [];
  for (const probe of ['liveness', 'readiness'] as const) {
    rows.push(
      await row(probe, async () => {
        const { status, body } = await get(opts, `/health/${probe}`);
        return status === 200
          ? { status: 'ok', detail: `200 ${body.slice(0, 60)}` }
          : { status: 'fail', detail: `HTTP ${status} ${body.slice(0, 120)}` };
      }),
    );
  }
  if (opts.token === undefined) rows.push({ check: 'status', status: 'skip', detail: 'no --token-file' });
  else {
    const token = opts.token;
    rows.push(
      await row('status', async () => {
        const { status, body } = await get(opts, '/health/status', token);
        if (status !== 200) return { status: 'fail', detail: `HTTP ${status} ${body.slice(0, 120)}` };
        const doc = JSON.parse(body) as {
          status: string;
          checks?: Record<string, { status: string; critical?: boolean; output?: string }[]>;
        };
        const failing = Object.entries(doc.checks ?? {}).flatMap(([name, entries]) =>
          entries
            .filter((e) => e.status === 'fail')
            .map((e) => ({ name, critical: e.critical !== false, output: e.output })),
        );
        const critical = failing.filter((f) => f.critical);
        const describe = (fs: typeof failing) =>
          fs.map((f) => `${f.name}${f.output ? ` (${f.output})` : ''}`).join(', ');
        if (doc.status === 'fail' || critical.length > 0)
          return { status: 'fail', detail: `status ${doc.status}; failing: ${describe(critical) || 'none named'}` };
        if (failing.length > 0)
          return { status: 'warn', detail: `status ${doc.status}; non-critical failing: ${describe(failing)}` };
        return { status: 'ok', detail: `status ${doc.status}, ${Object.keys(doc.checks ?? {}).length} checks pass` };
      }),
    );
  }
  let exposition: string | undefined;
  rows.push(
    await row('metrics', async () => {
      const { status, body } = await get(opts, '/metrics', opts.metricsToken);
      if (status !== 200)
        return {
          status: 'fail',
          detail: `HTTP ${status}${status === 401 || status === 403 ? ' (is --metrics-token-file the scrape token?)' : ''}`,
        };
      exposition = body;
      return { status: 'ok', detail: `${body.split('\n').filter((l) => l && !l.startsWith('#')).length} samples` };
    }),
  );
  if (exposition === undefined) {
    rows.push({ check: 'event-stream lag', status: 'skip', detail: 'no metrics' });
    rows.push({ check: 'persistence lag', status: 'skip', detail: 'no metrics' });
  } else {
    rows.push(
      lagRow(
        'event-stream lag',
        metricMax(exposition, 'cryptoscalp_stats_event_stream_lag_ms'),
        opts.maxStreamLagMs,
        'ms',
      ),
    );
    rows.push(
      lagRow(
        'persistence lag',
        metricMax(exposition, 'cryptoscalp_stats_persistence_lag'),
        opts.maxPersistenceLag,
        'entries',
      ),
    );
  }
  return rows;
}

const readToken = (file: unknown): string | undefined =>
  typeof file === 'string' ? readFileSync(file, 'utf8').replace(/\r?\n$/, '') : undefined;

/** The script: returns its exit code, or `undefined` for `--help`; throws UsageError on a bad command line. */
export async function main(argv: readonly string[], io: Io = stdio): Promise<number | undefined> {
  const flags = parseFlags(argv, {
    url: { type: 'string' },
    'token-file': { type: 'string' },
    'metrics-token-file': { type: 'string' },
    'max-stream-lag-ms': { type: 'string' },
    'max-persistence-lag': { type: 'string' },
    'timeout-ms': { type: 'string' },
  });
  if (flags === undefined) return undefined;
  const token = readToken(flags['token-file']);
  const rows = await healthCheck({
    url: required(flags.url, 'url'),
    token,
    metricsToken: readToken(flags['metrics-token-file']) ?? token,
    maxStreamLagMs: numberFlag(flags['max-stream-lag-ms'], 'max-stream-lag-ms', 2000),
    maxPersistenceLag: numberFlag(flags['max-persistence-lag'], 'max-persistence-lag', 5000),
    timeoutMs: numberFlag(flags['timeout-ms'], 'timeout-ms', 5000, 1),
  });
  io.out(
    `${table(
      ['check', 'status', 'detail'],
      rows.map((r) => [r.check, r.status.toUpperCase(), r.detail]),
    )}\n`,
  );
  const failed = rows.filter((r) => r.status === 'fail');
  if (failed.length === 0) return EXIT.ok;
  io.err(`health-check: unhealthy: ${failed.map((r) => `${r.check}: ${r.detail}`).join('; ')}\n`);
  return EXIT.failed;
}

if (isMain(import.meta.url)) await runScript(USAGE, main);
