// Bench: GET /api/positions through the full API (JWT auth, per-IP and per-token rate limits, Fastify routing,
// request id, security headers) against a raw node:http handler returning the same JSON, both driven by
// autocannon with 1,000 concurrent keep-alive connections.
//
// Method: each server runs in its own child process (this same file with `--serve api|raw`); autocannon runs in
// this process. Warm-up of each, then interleaved rounds (raw, api, api, raw) so the drift of a shared machine
// falls on both alike. p95 is computed from every response's latency (autocannon's `response` event).
//
//   npx tsx apps/trader/bench/api-positions.ts
import { type ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { percentiles, reportBench, serviceUrls, uniqueName } from '@cryptoscalp/testkit';
import pg from 'pg';
import { createApiServer, issueToken } from '../src/api/index.js';
import type { PositionView, TraderPort } from '../src/api/trader-port.js';

const SECRET = 'bench-secret-0123456789abcdef-0123456789';
const CONNECTIONS = 1_000;
const ROUND_SECONDS = 4;
/** Requests per second of all paced clients together: 2 per user per second. */
const RATE = 2_000;

const POSITIONS: PositionView[] = ['BTCUSDT', 'ETHUSDT', 'SOLUSDT'].map((symbol, i) => ({
  symbol,
  qty: 0.5 * (i + 1),
  avgPrice: 1_000 * (i + 1),
  markPrice: 1_001 * (i + 1),
  notional: 500 * (i + 1) ** 2,
  realizedPnl: 12.5 * i,
  unrealizedPnl: 0.5 * (i + 1),
  fees: 0.1 * i,
}));

/** The smallest trader that answers the positions endpoint; the other calls are not exercised here. */
function benchTrader(): TraderPort {
  const none = () => {
    throw new Error('not used by the bench');
  };
  return {
    positions: () => POSITIONS,
    orders: () => [],
    order: () => undefined,
    fills: () => [],
    pnl: none,
    risk: none,
    strategyParams: () => ({}),
    setStrategyParams: none,
    engageKillSwitch: none,
    releaseKillSwitch: none,
    alerts: { list: () => [], silence: none, acknowledge: none },
    status: none,
    subscribe: () => () => {},
  };
}

interface Autocannon {
  (options: Record<string, unknown>): AutocannonInstance;
  track?: unknown;
}
interface AutocannonInstance {
  on(event: 'response', fn: (client: unknown, status: number, bytes: number, ms: number) => void): void;
  on(event: 'done', fn: (result: AutocannonResult) => void): void;
}
interface AutocannonResult {
  requests: { total: number };
  duration: number;
  errors: number;
  timeouts: number;
  non2xx: number;
  latency: { p50: number; p99: number };
}

// autocannon ships no types; it is used only by the benches.
const autocannon = createRequire(import.meta.url)('autocannon') as Autocannon;

const mode = process.argv[process.argv.indexOf('--serve') + 1];
if (process.argv.includes('--serve')) {
  // Child: one server, prints its port, exits when the parent closes stdin.
  let close: () => Promise<void>;
  let port: number;
  if (mode === 'raw') {
    const server = createServer((_req, res) => {
      const body = JSON.stringify(POSITIONS);
      res.writeHead(200, {
        'content-type': 'application/json; charset=utf-8',
        'content-length': Buffer.byteLength(body),
      });
      res.end(body);
    });
    server.keepAliveTimeout = 72_000;
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as { port: number }).port;
    close = () => new Promise<void>((r) => server.close(() => r()));
  } else {
    const pool = new pg.Pool({ connectionString: serviceUrls.postgres, max: 2 });
    const api = await createApiServer({
      trader: benchTrader(),
      auth: { secret: SECRET },
      audit: { pool, schema: process.env.BENCH_SCHEMA ?? 'bench_api' },
      // Limits far above the load: the checks run on every request, they just never refuse.
      rateLimit: { perIp: 1_000_000_000, perToken: 1_000_000_000 },
      dashboard: false,
    });
    port = Number(new URL(api.url).port);
    close = async () => {
      await api.close();
      await pool.query(`DROP SCHEMA IF EXISTS "${process.env.BENCH_SCHEMA}" CASCADE`).catch(() => {});
      await pool.end();
    };
  }
  console.log(`LISTENING ${port}`);
  process.stdin.resume();
  process.stdin.on('end', () => {
    void close().then(() => process.exit(0));
  });
} else {
  await runBench();
}

async function startChild(kind: 'api' | 'raw', schema: string): Promise<{ url: string; stop(): Promise<void> }> {
  const file = fileURLToPath(import.meta.url);
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', file, '--serve', kind], {
    stdio: ['pipe', 'pipe', 'inherit'],
    env: { ...process.env, BENCH_SCHEMA: schema },
  });
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /LISTENING (\d+)/.exec(out);
      if (m?.[1] !== undefined) resolve(Number(m[1]));
    });
    child.once('exit', (code) => reject(new Error(`${kind} server exited with ${code}`)));
  });
  return {
    url: `http://127.0.0.1:${port}/api/positions`,
    stop: () =>
      new Promise<void>((resolve) => {
        const t = setTimeout(() => child.kill('SIGKILL'), 5_000);
        child.once('exit', () => {
          clearTimeout(t);
          resolve();
        });
        child.stdin?.end();
      }),
  };
}

interface Round {
  samples: number[];
  total: number;
  seconds: number;
  errors: number;
  non2xx: number;
}

function load(url: string, token: string, seconds: number, overallRate?: number): Promise<Round> {
  return new Promise((resolve) => {
    const samples: number[] = [];
    const instance = autocannon({
      url,
      connections: CONNECTIONS,
      duration: seconds,
      pipelining: 1,
      timeout: 10,
      headers: { authorization: `Bearer ${token}` },
      ...(overallRate === undefined ? {} : { overallRate }),
    });
    instance.on('response', (_c, _status, _bytes, ms) => {
      samples.push(ms);
    });
    instance.on('done', (r) => {
      resolve({
        samples,
        total: r.requests.total,
        seconds: r.duration || seconds,
        errors: r.errors + r.timeouts,
        non2xx: r.non2xx,
      });
    });
  });
}

async function runBench(): Promise<void> {
  const schema = uniqueName('bench_api');
  const token = await issueToken({ sub: 'bench', role: 'viewer', secret: SECRET, ttl: '10m' });
  const raw = await startChild('raw', schema);
  const api = await startChild('api', schema);
  try {
    await load(raw.url, token, 2);
    await load(api.url, token, 2);
    type Kind = 'raw' | 'api';
    const url = (kind: Kind) => (kind === 'raw' ? raw.url : api.url);
    // Saturation: every connection sends its next request as soon as the previous answer arrives.
    const saturated: Record<Kind, Round[]> = { raw: [], api: [] };
    for (const kind of ['raw', 'api'] as const) saturated[kind].push(await load(url(kind), token, ROUND_SECONDS));
    // Paced: the same 1,000 connections, but the clients together send RATE requests per second (2 per user per
    // second), which is how 1,000 dashboard users load the API; latency is then service time, not queueing.
    const paced: Record<Kind, Round[]> = { raw: [], api: [] };
    for (const kind of ['api', 'raw'] as const) paced[kind].push(await load(url(kind), token, ROUND_SECONDS, RATE));
    const sum = (rs: Round[]) => {
      const samples = rs.flatMap((r) => r.samples);
      const p = percentiles(samples, [50, 95, 99]);
      return {
        p50: p.p50 as number,
        p95: p.p95 as number,
        p99: p.p99 as number,
        rps: rs.reduce((x, r) => x + r.total, 0) / rs.reduce((x, r) => x + r.seconds, 0),
        errors: rs.reduce((x, r) => x + r.errors + r.non2xx, 0),
        responses: samples.length,
      };
    };
    const sa = sum(saturated.api);
    const sb = sum(saturated.raw);
    const pa = sum(paced.api);
    const pb = sum(paced.raw);
    const method = `autocannon 8, ${CONNECTIONS} keep-alive connections, 2 s warm-up each; each server in its own child process, load generator in this one; p95 over every response; API path: JWT (HS256, verified-token cache) + per-IP and per-token in-memory rate limits + Fastify routing and hooks; measured on a shared 2-core machine under contention`;
    const raw1 = 'raw node:http handler, same JSON';
    reportBench({
      package: '@cryptoscalp/trader',
      bench: 'api-positions',
      figures: [
        {
          name: `GET /api/positions p95, ${CONNECTIONS} connections paced at ${RATE} req/s`,
          value: pa.p95,
          unit: 'ms',
          baseline: { name: raw1, value: pb.p95 },
          higherIsBetter: false,
          method: `${method}; paced: ${ROUND_SECONDS} s per server with overallRate ${RATE}`,
          extra: {
            p50: pa.p50,
            p99: pa.p99,
            errors: pa.errors,
            responses: pa.responses,
            rawP50: pb.p50,
            rawP99: pb.p99,
            rawErrors: pb.errors,
            targetP95Ms: 20,
          },
        },
        {
          name: `GET /api/positions p95, ${CONNECTIONS} connections saturated (closed loop)`,
          value: sa.p95,
          unit: 'ms',
          baseline: { name: raw1, value: sb.p95 },
          higherIsBetter: false,
          method: `${method}; saturated: ${ROUND_SECONDS} s per server, no pacing (latency = queueing at max throughput)`,
          extra: { p50: sa.p50, p99: sa.p99, errors: sa.errors, rawP50: sb.p50, rawP99: sb.p99, rawErrors: sb.errors },
        },
        {
          name: `GET /api/positions throughput, ${CONNECTIONS} connections saturated`,
          value: sa.rps,
          unit: 'req/s',
          baseline: { name: raw1, value: sb.rps },
          higherIsBetter: true,
          method: `${method}; saturated`,
          extra: { errors: sa.errors, rawErrors: sb.errors },
        },
      ],
    });
    const a = { errors: sa.errors + pa.errors, non2xx: 0 };
    if (a.errors + a.non2xx > 0) process.exitCode = 1;
  } finally {
    await api.stop();
    await raw.stop();
  }
}
