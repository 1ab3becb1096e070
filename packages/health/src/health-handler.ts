import type { IncomingMessage, ServerResponse } from 'node:http';
import { DEFAULT_BENCHMARK, DEFAULT_HANDLER_OPTIONS } from './defaults.js';
import { type HealthRegistry, ReadinessState } from './health-registry.js';
import type { CheckRecord, CheckRunner } from './internal/check-runner.js';
import {
  HEALTH_JSON,
  JSON_TYPE,
  PROMETHEUS_TEXT,
  type PreparedResponse,
  prepare,
  send,
  sendPrepared,
} from './internal/responses.js';
import { describeError } from './internal/sanitize.js';
import { SelfBenchmark } from './internal/self-benchmark.js';
import {
  checkBoolean,
  checkFunction,
  checkInteger,
  checkKnownKeys,
  checkObject,
  invalidOption,
} from './internal/validate.js';
import type {
  AuthorizeFunction,
  HealthCheckEntry,
  HealthHandler,
  HealthHandlerOptions,
  HealthResponse,
  HealthStatus,
  NextFunction,
} from './types.js';

const HANDLER_KEYS = ['basePath', 'metrics', 'alerts', 'benchmark', 'authorize', 'protectMetrics'] as const;
const ALLOW = { allow: 'GET, HEAD' };
const RANK: Record<HealthStatus, number> = { pass: 0, warn: 1, fail: 2 };
const WORDS: readonly HealthStatus[] = ['pass', 'warn', 'fail'];

type Route =
  | 'liveness'
  | 'readiness'
  | 'startup'
  | 'metrics'
  | 'status'
  | 'components'
  | 'component'
  | 'alerts'
  | 'benchmark';

/**
 * Creates a node:http request handler serving the health routes under `basePath` (default `/health`):
 * `liveness`, `readiness`, `startup`, `metrics`, `status`, `components`, `components/:name`, `alerts`, `benchmark`.
 * It is also Express/Connect middleware: with a `next`, requests outside `basePath` go to `next()`;
 * without one they get 404.
 * @throws HealthError `E_HEALTH_INVALID_OPTION` naming the bad field.
 */
export function createHealthHandler(registry: HealthRegistry, options: HealthHandlerOptions = {}): HealthHandler {
  checkObject(options, 'options');
  checkKnownKeys(options, HANDLER_KEYS);
  checkFunction(options.metrics, 'metrics');
  checkFunction(options.alerts, 'alerts');
  checkFunction(options.authorize, 'authorize');
  checkBoolean(options.protectMetrics, 'protectMetrics');
  if (options.basePath !== undefined) {
    if (typeof options.basePath !== 'string' || !/^\/[A-Za-z0-9._~/-]*$/.test(options.basePath)) {
      throw invalidOption('basePath', "must start with '/' and contain only URL path characters");
    }
  }
  let benchmark: SelfBenchmark | undefined;
  if (options.benchmark !== undefined && options.benchmark !== false) {
    const b = options.benchmark === true ? {} : options.benchmark;
    checkObject(b, 'benchmark');
    checkKnownKeys(b, ['rounds', 'budgetMs', 'minIntervalMs'], 'benchmark.');
    checkInteger(b.rounds, 'benchmark.rounds', 1, 10_000);
    checkInteger(b.budgetMs, 'benchmark.budgetMs', 1, 60_000);
    checkInteger(b.minIntervalMs, 'benchmark.minIntervalMs', 0, 24 * 60 * 60 * 1000);
    benchmark = new SelfBenchmark(
      registry,
      b.rounds ?? DEFAULT_BENCHMARK.rounds,
      b.budgetMs ?? DEFAULT_BENCHMARK.budgetMs,
      b.minIntervalMs ?? DEFAULT_BENCHMARK.minIntervalMs,
    );
  }
  const base = (options.basePath ?? DEFAULT_HANDLER_OPTIONS.basePath).replace(/\/+$/, '');
  const livenessPath = `${base}/liveness`;
  const readinessPath = `${base}/readiness`;
  const metrics = options.metrics;
  const alerts = options.alerts;
  const authorize = options.authorize;
  const protectMetrics = options.protectMetrics ?? DEFAULT_HANDLER_OPTIONS.protectMetrics;

  // Bodies of the probes, serialized once: liveness and readiness reveal nothing but their status.
  const live: readonly PreparedResponse[] = [
    prepare(200, { status: 'pass' }),
    prepare(200, { status: 'warn' }),
    prepare(503, { status: 'fail' }),
  ];
  const ready: readonly PreparedResponse[] = [];
  (ready as PreparedResponse[])[ReadinessState.pass] = prepare(200, { status: 'pass' });
  (ready as PreparedResponse[])[ReadinessState.warn] = prepare(200, { status: 'warn' });
  (ready as PreparedResponse[])[ReadinessState.fail] = prepare(503, { status: 'fail' });
  (ready as PreparedResponse[])[ReadinessState.starting] = prepare(503, { status: 'fail', output: 'starting' });
  (ready as PreparedResponse[])[ReadinessState.draining] = prepare(503, { status: 'fail', output: 'shutting down' });
  const startupDone = prepare(200, { status: 'pass' });
  const startupPending = prepare(503, { status: 'fail', output: 'starting' });
  const notFound = prepare(404, { status: 'fail', output: 'not found' });

  const slow = (req: IncomingMessage, res: ServerResponse, next: NextFunction | undefined): void => {
    const raw = req.url ?? '/';
    const q = raw.indexOf('?');
    let path = q === -1 ? raw : raw.slice(0, q);
    if (path.length > 1 && path.endsWith('/')) path = path.slice(0, -1);
    if (path !== base && !path.startsWith(`${base}/`)) {
      if (next !== undefined) next();
      else sendPrepared(res, notFound);
      return;
    }
    const sub = path.slice(base.length);
    let route: Route | undefined;
    let component: string | undefined;
    switch (sub) {
      case '':
      case '/readiness':
        route = 'readiness';
        break;
      case '/liveness':
        route = 'liveness';
        break;
      case '/startup':
        route = 'startup';
        break;
      case '/status':
        route = 'status';
        break;
      case '/components':
        route = 'components';
        break;
      case '/metrics':
        route = metrics === undefined ? undefined : 'metrics';
        break;
      case '/alerts':
        route = alerts === undefined ? undefined : 'alerts';
        break;
      case '/benchmark':
        route = benchmark === undefined ? undefined : 'benchmark';
        break;
      default:
        if (sub.startsWith('/components/')) {
          component = decode(sub.slice('/components/'.length));
          if (component !== undefined && !component.includes('/')) route = 'component';
        }
    }
    if (route === undefined) {
      sendPrepared(res, notFound);
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      send(res, 405, { status: 'fail', output: 'method not allowed' }, HEALTH_JSON, ALLOW);
      return;
    }
    switch (route) {
      case 'liveness':
        sendPrepared(res, live[registry.livenessState()] as PreparedResponse);
        return;
      case 'readiness':
        sendPrepared(res, ready[registry.readinessState()] as PreparedResponse);
        return;
      case 'startup':
        sendPrepared(res, registry.started ? startupDone : startupPending);
        return;
    }
    const needsAuth = authorize !== undefined && (route !== 'metrics' || protectMetrics);
    const work = needsAuth
      ? guarded(authorize, req, res, () => detail(route, req, res, component))
      : detail(route, req, res, component);
    work.catch((error: unknown) => {
      send(res, 500, { status: 'fail', output: `internal error: ${describeError(error)}` });
    });
  };

  const detail = async (route: Route, req: IncomingMessage, res: ServerResponse, component?: string): Promise<void> => {
    switch (route) {
      case 'status': {
        const body = await statusBody(registry);
        send(res, body.status === 'fail' ? 503 : 200, body);
        return;
      }
      case 'components': {
        const results = await registry.results();
        const checks: Record<string, HealthCheckEntry[]> = {};
        let worst = 0;
        for (const { runner, record } of results) {
          addCheck(checks, runner, record, false);
          worst = Math.max(worst, effectiveRank(runner, record));
        }
        const status = WORDS[worst] as HealthStatus;
        send(res, status === 'fail' ? 503 : 200, { status, checks } satisfies HealthResponse);
        return;
      }
      case 'component': {
        const runner = registry.runner(component as string);
        if (runner === undefined) {
          sendPrepared(res, notFound);
          return;
        }
        const record = await runner.get();
        const checks: Record<string, HealthCheckEntry[]> = {};
        addCheck(checks, runner, record, true);
        send(res, record.status === 'fail' ? 503 : 200, { status: record.status, checks } satisfies HealthResponse);
        return;
      }
      case 'metrics': {
        const text = await (metrics as NonNullable<typeof metrics>)();
        if (typeof text !== 'string') throw new TypeError('the metrics source did not return a string');
        send(res, 200, text, PROMETHEUS_TEXT);
        return;
      }
      case 'alerts': {
        const list = await (alerts as NonNullable<typeof alerts>)();
        send(res, 200, { alerts: list ?? [] }, JSON_TYPE);
        return;
      }
      case 'benchmark': {
        const bench = benchmark as SelfBenchmark;
        const wait = bench.retryAfterSeconds();
        if (wait > 0) {
          send(res, 429, { status: 'fail', output: 'benchmark rate limited' }, HEALTH_JSON, {
            'retry-after': String(wait),
          });
          return;
        }
        // HEAD must not start a benchmark just to drop its body.
        if (req.method === 'HEAD') {
          send(res, 200, '', JSON_TYPE);
          return;
        }
        send(res, 200, await bench.run(), JSON_TYPE);
        return;
      }
    }
  };

  return function healthHandler(req: IncomingMessage, res: ServerResponse, next?: NextFunction): void {
    // Hot path: exact probe URLs, precomputed bodies, no allocation of our own.
    const method = req.method;
    if (method === 'GET' || method === 'HEAD') {
      const url = req.url;
      if (url === readinessPath) {
        const prepared = ready[registry.readinessState()] as PreparedResponse;
        res.writeHead(prepared.statusCode, prepared.headers);
        res.end(prepared.body);
        return;
      }
      if (url === livenessPath) {
        const prepared = live[registry.livenessState()] as PreparedResponse;
        res.writeHead(prepared.statusCode, prepared.headers);
        res.end(prepared.body);
        return;
      }
    }
    slow(req, res, next);
  };
}

async function guarded(
  authorize: AuthorizeFunction,
  req: IncomingMessage,
  res: ServerResponse,
  then: () => Promise<void>,
): Promise<void> {
  let verdict: Awaited<ReturnType<AuthorizeFunction>>;
  try {
    verdict = await authorize(req);
  } catch {
    verdict = false;
  }
  if (verdict === true) {
    await then();
    return;
  }
  if (typeof verdict === 'object' && verdict !== null && verdict.status === 403) {
    send(res, 403, { status: 'fail', output: 'forbidden' });
    return;
  }
  const challenge =
    typeof verdict === 'object' && verdict !== null && verdict.wwwAuthenticate ? verdict.wwwAuthenticate : 'Bearer';
  send(res, 401, { status: 'fail', output: 'unauthorized' }, HEALTH_JSON, { 'www-authenticate': challenge });
}

async function statusBody(registry: HealthRegistry): Promise<HealthResponse> {
  const results = await registry.results();
  const checks: Record<string, HealthCheckEntry[]> = {
    uptime: [
      {
        componentType: 'system',
        observedValue: Math.round(process.uptime() * 1000) / 1000,
        observedUnit: 's',
        status: 'pass',
        time: new Date().toISOString(),
      },
    ],
  };
  let liveness = 0;
  for (const { runner, record } of results) {
    addCheck(checks, runner, record, false);
    if (runner.settings.kind === 'liveness') liveness = Math.max(liveness, RANK[record.status]);
  }
  const readiness = registry.readinessState();
  const readyRank = readiness === ReadinessState.pass ? 0 : readiness === ReadinessState.warn ? 1 : 2;
  const body: HealthResponse = { status: WORDS[Math.max(readyRank, liveness)] as HealthStatus };
  if (registry.version !== undefined) body.version = registry.version;
  if (registry.releaseId !== undefined) body.releaseId = registry.releaseId;
  if (registry.serviceId !== undefined) body.serviceId = registry.serviceId;
  if (registry.description !== undefined) body.description = registry.description;
  if (readiness === ReadinessState.starting) body.output = 'starting';
  else if (readiness === ReadinessState.draining) body.output = 'shutting down';
  body.phase = registry.phase;
  body.started = registry.started;
  body.uptimeSeconds = Math.round(process.uptime() * 1000) / 1000;
  body.checks = checks;
  return body;
}

function effectiveRank(runner: CheckRunner, record: CheckRecord): number {
  const rank = RANK[record.status];
  return rank === 2 && !runner.settings.critical ? 1 : rank;
}

function addCheck(
  checks: Record<string, HealthCheckEntry[]>,
  runner: CheckRunner,
  record: CheckRecord,
  withDetails: boolean,
): void {
  const key = `${runner.settings.name}:${runner.settings.measurement}`;
  const entry =
    withDetails && record.details !== undefined ? { ...record.entry, details: record.details } : record.entry;
  const list = checks[key];
  if (list === undefined) checks[key] = [entry];
  else list.push(entry);
}

function decode(segment: string): string | undefined {
  try {
    return decodeURIComponent(segment);
  } catch {
    return undefined;
  }
}
