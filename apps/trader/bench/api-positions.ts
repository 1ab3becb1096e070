// Bench: GET /api/positions throughput through the whole HTTP server (createHttpServer: load shedding, security
// headers, per-IP and per-token rate limits, JWT auth, role check, Fastify routing, request id) against a raw node:http
// handler serving the same JSON, driven by autocannon with 50 keep-alive connections. A second baseline is the same raw
// handler sending the API's response headers too (security headers, request id, cache-control): node:http spends about
// 1 µs per response header, so that one isolates what the framework, auth and limits cost from what the headers cost.
//
// Method: the three servers run in one child process (this file with `--serve`); autocannon runs in this process.
// After a 1 s warm-up of each, ROUNDS rounds of ROUND_SECONDS per server, the order rotating every round so the drift
// of a shared machine falls on all alike; req/s, p50 and p99 are the medians over the rounds. The audit pool is a stub
// (the only audit write on this path is the token's first use), so no database is needed.
//
// With BENCH_SESSIONS=1, two more servers on the local PostgreSQL and Redis (own schema, own key prefix) compare a
// person's session token (revocation list checked on every request, no cache) with a service token on the same server:
// `redis` (revocation keys in Redis; its rate limits in Redis too) and `pg` (no Redis: the sessions table).
//
//   npx tsx apps/trader/bench/api-positions.ts
//   BENCH_SESSIONS=1 BENCH_ROUNDS=4 npx tsx apps/trader/bench/api-positions.ts
import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { combineLoadRuns, type LoadFigures, reportBench, serviceUrls } from '@cryptoscalp/testkit';
import { Redis } from 'ioredis';
import { generate } from 'otplib';
import pg from 'pg';
import { API_HELMET_OPTIONS, helmetHeaders } from '../src/http/plugins/security-headers.js';
import { createHttpServer } from '../src/http/server.js';
import { issueToken } from '../src/http/tokens.js';
import type { PositionView, TraderPort } from '../src/http/trader-port.js';
import { createUser } from '../src/http/users/users.js';
import { generateKeyMaterial, localKek, parseKeyMaterial } from '../src/security/kek.js';
import { Keyring } from '../src/security/keyring.js';

const SECRET = 'bench-secret-0123456789abcdef-0123456789';
const CONNECTIONS = 50;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 8);
const ROUND_SECONDS = 2;
const TARGET = 0.8;
const SESSIONS = process.env.BENCH_SESSIONS === '1';

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

interface AutocannonResult {
  requests: { total: number };
  duration: number;
  errors: number;
  timeouts: number;
  non2xx: number;
  latency: { p50: number; p99: number };
}
type Autocannon = (options: Record<string, unknown>) => Promise<AutocannonResult>;

// autocannon ships no types; it is used only by the benches.
const autocannon = createRequire(import.meta.url)('autocannon') as Autocannon;

if (process.argv.includes('--serve')) await serve();
else await runBench();

/** Child: both servers; prints their ports, exits when the parent closes stdin. */
async function serve(): Promise<void> {
  const raw = createServer((_req, res) => {
    const body = JSON.stringify(POSITIONS);
    res.writeHead(200, {
      'content-type': 'application/json; charset=utf-8',
      'content-length': Buffer.byteLength(body),
    });
    res.end(body);
  });
  raw.keepAliveTimeout = 72_000;
  await new Promise<void>((r) => raw.listen(0, '127.0.0.1', r));
  const security = helmetHeaders(API_HELMET_OPTIONS);
  const headed = createServer((_req, res) => {
    const body = JSON.stringify(POSITIONS);
    res.writeHead(200, {
      ...security,
      'x-request-id': randomUUID(),
      'cache-control': 'no-store',
      'content-type': 'application/json; charset=utf-8',
      'content-length': Buffer.byteLength(body),
    });
    res.end(body);
  });
  headed.keepAliveTimeout = 72_000;
  await new Promise<void>((r) => headed.listen(0, '127.0.0.1', r));
  const api = await createHttpServer({
    trader: benchTrader(),
    auth: { secret: SECRET },
    audit: { pool: { query: async () => ({ rows: [] }) } },
    // Limits far above the load: the checks run on every request, they just never refuse.
    rateLimit: { perIp: 1_000_000_000, perToken: 1_000_000_000 },
    dashboard: false,
  });
  const portOf = (server: typeof raw) => (server.address() as { port: number }).port;
  const sessions = SESSIONS ? await sessionServers() : undefined;
  console.log(
    `PORTS ${JSON.stringify({ raw: portOf(raw), headed: portOf(headed), api: Number(new URL(api.url).port), ...sessions?.ports })}`,
  );
  if (sessions !== undefined) console.log(`SESSION_TOKENS ${JSON.stringify(sessions.tokens)}`);
  process.stdin.resume();
  process.stdin.on('end', () => {
    void api
      .close()
      .then(() => sessions?.close())
      .then(() => process.exit(0));
  });
}

/** The session servers of BENCH_SESSIONS: one with Redis, one without; a user logged in on each. */
async function sessionServers() {
  const pool = new pg.Pool({ connectionString: serviceUrls.postgres, max: 8 });
  const redis = new Redis(serviceUrls.redis);
  const schema = `bench_sessions_${process.pid}`;
  const prefix = `bench:${process.pid}:revoked:`;
  const common = {
    trader: benchTrader(),
    auth: { secret: SECRET },
    audit: { pool, schema },
    rateLimit: { perIp: 1_000_000_000, perToken: 1_000_000_000, keyPrefix: `bench:${process.pid}:rl:` },
    dashboard: false,
  };
  const kek = localKek(parseKeyMaterial(generateKeyMaterial(), 'kek'));
  const keyring = new Keyring({ pool, schema, kek });
  const withRedis = await createHttpServer({ ...common, redis, sessions: { revokedKeyPrefix: prefix, kek } });
  const withPg = await createHttpServer({ ...common, sessions: { kek } });
  const tokens: Record<string, string> = {};
  for (const [name, server] of [
    ['redis', withRedis],
    ['pg', withPg],
  ] as const) {
    const password = 'bench password 0123456789';
    const user = await createUser(
      pool,
      schema,
      keyring,
      { username: `bench-${name}`, role: 'viewer', password },
      'Bench',
    );
    const secret = new URL(user.otpauthUri).searchParams.get('secret') as string;
    const res = await fetch(`${server.url}/api/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: `bench-${name}`, password, totp: await generate({ secret }) }),
    });
    tokens[`${name}Session`] = ((await res.json()) as { accessToken: string }).accessToken;
  }
  return {
    ports: { redis: Number(new URL(withRedis.url).port), pg: Number(new URL(withPg.url).port) },
    tokens,
    async close() {
      await withRedis.close();
      await withPg.close();
      const keys = await redis.keys(`bench:${process.pid}:*`);
      if (keys.length > 0) await redis.del(...keys);
      redis.disconnect();
      await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await pool.end();
    },
  };
}

async function load(url: string, token: string, seconds: number): Promise<LoadFigures> {
  const r = await autocannon({
    url,
    connections: CONNECTIONS,
    duration: seconds,
    pipelining: 1,
    headers: { authorization: `Bearer ${token}` },
  });
  return {
    rps: r.requests.total / (r.duration || seconds),
    p50: r.latency.p50,
    p99: r.latency.p99,
    errors: r.errors + r.timeouts,
    non2xx: r.non2xx,
  };
}

type Kind = 'raw' | 'headed' | 'api' | 'redisService' | 'redisSession' | 'pgService' | 'pgSession';

async function runBench(): Promise<void> {
  const token = await issueToken({ sub: 'bench', role: 'viewer', secret: SECRET, ttl: '10m' });
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--serve'], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  try {
    const { ports, sessionTokens } = await new Promise<{
      ports: Record<string, number>;
      sessionTokens: Record<string, string>;
    }>((resolve, reject) => {
      let out = '';
      child.stdout?.on('data', (d: Buffer) => {
        out += d.toString();
        const m = /PORTS (.*)\n/.exec(out);
        const t = /SESSION_TOKENS (.*)\n/.exec(out);
        if (m?.[1] !== undefined && (!SESSIONS || t?.[1] !== undefined))
          resolve({ ports: JSON.parse(m[1]), sessionTokens: t?.[1] === undefined ? {} : JSON.parse(t[1]) });
      });
      child.once('exit', (code) => reject(new Error(`server child exited with ${code}`)));
    });
    const target: Record<Kind, { port: number; token: string }> = {
      raw: { port: ports.raw as number, token },
      headed: { port: ports.headed as number, token },
      api: { port: ports.api as number, token },
      redisService: { port: ports.redis as number, token },
      redisSession: { port: ports.redis as number, token: sessionTokens.redisSession as string },
      pgService: { port: ports.pg as number, token },
      pgSession: { port: ports.pg as number, token: sessionTokens.pgSession as string },
    };
    const url = (kind: Kind) => `http://127.0.0.1:${target[kind].port}/api/positions`;
    const kinds: Kind[] = [
      'raw',
      'api',
      'headed',
      ...(SESSIONS ? (['redisService', 'redisSession', 'pgService', 'pgSession'] as const) : []),
    ];
    for (const kind of kinds) await load(url(kind), target[kind].token, 1);
    const runs: Record<Kind, LoadFigures[]> = {
      raw: [],
      headed: [],
      api: [],
      redisService: [],
      redisSession: [],
      pgService: [],
      pgSession: [],
    };
    const pairRatios: number[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      const round: Partial<Record<Kind, LoadFigures>> = {};
      for (let j = 0; j < kinds.length; j++) {
        const kind = kinds[(i + j) % kinds.length] as Kind;
        round[kind] = await load(url(kind), target[kind].token, ROUND_SECONDS);
        runs[kind].push(round[kind]);
      }
      pairRatios.push(Math.round(((round.api as LoadFigures).rps / (round.raw as LoadFigures).rps) * 100) / 100);
    }
    const a = combineLoadRuns(runs.api);
    const b = combineLoadRuns(runs.raw);
    const h = combineLoadRuns(runs.headed);
    const method = `autocannon 8, ${CONNECTIONS} keep-alive connections, ${ROUNDS} rounds of ${ROUND_SECONDS} s per server (order rotating each round) after 1 s warm-up each; the servers in one child process, load generator in the parent; req/s, p50, p99 are medians over the rounds. API path: under-pressure, per-IP @fastify/rate-limit hook, JWT (HS256, verified-token cache), per-token limit (same store), role, Fastify routing, helmet headers, request id; measured on a shared 2-core machine`;
    reportBench({
      package: '@cryptoscalp/trader',
      bench: 'api-positions',
      figures: [
        {
          name: `GET /api/positions throughput, ${CONNECTIONS} connections`,
          value: a.rps,
          unit: 'req/s',
          baseline: { name: 'raw node:http handler, same JSON', value: b.rps },
          higherIsBetter: true,
          target: TARGET,
          method,
          extra: {
            p50Ms: a.p50,
            p99Ms: a.p99,
            baselineP50Ms: b.p50,
            baselineP99Ms: b.p99,
            errors: a.errors + b.errors + h.errors,
            non2xx: a.non2xx + b.non2xx + h.non2xx,
            pairRatios: pairRatios.join(' '),
          },
        },
        {
          name: `GET /api/positions throughput, ${CONNECTIONS} connections, against raw node:http sending the same response headers`,
          value: a.rps,
          unit: 'req/s',
          baseline: { name: 'raw node:http handler, same JSON and the API response headers', value: h.rps },
          higherIsBetter: true,
          method: `${method}. The baseline writes the same security headers, a random X-Request-Id and Cache-Control: it shows the cost of Fastify, auth, rate limits and shedding alone`,
          extra: { baselineP50Ms: h.p50, baselineP99Ms: h.p99, headedVsRaw: Math.round((h.rps / b.rps) * 100) / 100 },
        },
      ],
    });
    if (SESSIONS) reportSessions(runs, method);
    if (a.errors + a.non2xx + b.errors + b.non2xx + h.errors + h.non2xx > 0) process.exitCode = 1;
  } finally {
    child.stdin?.end();
    setTimeout(() => child.kill('SIGKILL'), 5_000).unref();
  }
}

/** BENCH_SESSIONS: a session token (revocation checked per request) against a service token on the same server. */
function reportSessions(runs: Record<Kind, LoadFigures[]>, method: string): void {
  const figures = (['redis', 'pg'] as const).map((store) => {
    const session = combineLoadRuns(runs[`${store}Session`]);
    const service = combineLoadRuns(runs[`${store}Service`]);
    if (session.errors + session.non2xx + service.errors + service.non2xx > 0) process.exitCode = 1;
    return {
      name: `GET /api/positions throughput with a session token, revocation list in ${store === 'redis' ? 'Redis' : 'PostgreSQL'}, ${CONNECTIONS} connections`,
      value: session.rps,
      unit: 'req/s',
      baseline: { name: 'the same server, a service token (no session check)', value: service.rps },
      higherIsBetter: true,
      method: `${method}. Both on a server with sessions enabled on the local ${store === 'redis' ? 'Redis (rate limits in Redis too)' : 'PostgreSQL (no Redis)'}; the session check runs on every request, uncached`,
      extra: { p50Ms: session.p50, p99Ms: session.p99, baselineP50Ms: service.p50, baselineP99Ms: service.p99 },
    };
  });
  reportBench({ package: '@cryptoscalp/trader', bench: 'api-positions-sessions', figures });
}
