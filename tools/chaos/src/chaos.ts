import { execFileSync } from 'node:child_process';
import {
  closeSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  statfsSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { request } from 'node:https';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, selfSignedCert, uniqueName, waitFor } from '@cryptoscalp/testkit';
import type { Redis } from 'ioredis';
import pg from 'pg';
import { loadConfig } from '../../../apps/trader/src/config/load-config.js';
import { createRedisClient } from '../../../apps/trader/src/config/redis-url.js';
import { TradingEngine } from '../../../apps/trader/src/engine/trading-engine.js';
import { issueToken } from '../../../apps/trader/src/http/tokens.js';
import { Prng } from '../../../apps/trader/src/internal/prng.js';
import { Journal, type JournalEntry } from '../../../apps/trader/src/journal/journal.js';
import type { Fill } from '../../../apps/trader/src/model/types.js';
import type { NginxSettings } from '../../../deploy/nginx/render-config.js';
import { StreamClients, type StreamReport } from '../../../deploy/rehearsal/load.js';
import { NginxServer } from '../../../deploy/rehearsal/nginx-server.js';
import type { TraderRole } from '../../../deploy/rehearsal/trader-process.js';
import { FeedProcess } from './feed-process.js';
import { PgHa } from './pg-ha.js';
import { RedisHa } from './redis-ha.js';
import { Supervised } from './supervised.js';

/** The faults the suite injects. */
export const FAULT_KINDS = [
  'engine-kill',
  'engine-stop',
  'gateway-kill',
  'gateway-stop',
  'pg-kill',
  'pg-stop',
  'redis-kill',
  'redis-stop',
  'feed-kill',
  'feed-stop',
  'disk-full',
  'clock-jump',
] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

/** Options of {@link runChaos}. */
export interface ChaosOptions {
  /** Seed of the fault schedule (and of the simulated market). */
  seed: number;
  /** Faults are injected until this many seconds after the system is up; the run then checks the invariants. */
  durationSec: number;
  /**
   * The fault kinds to draw from; each round is a seeded shuffle of them (a kind that cannot run here, the full disk
   * without root, is left out). @default every kind ({@link FAULT_KINDS})
   */
  faults?: readonly FaultKind[];
  /** Stop injecting after this many faults even if `durationSec` has not passed. @default no limit */
  maxFaults?: number;
  /** Stream clients through nginx. @default 20 */
  streamClients?: number;
  /** How long a SIGSTOP, a Redis primary's absence or a full disk lasts, ms. @default 5000 */
  holdMs?: number;
  /** Recovery deadline per fault, ms: the invariant. @default 30000 */
  recoverWithinMs?: number;
  /** The engines' lease TTL (`ha.leaseTtlMs`); renewals every quarter of it. @default 10000 */
  leaseTtlMs?: number;
  /** Progress lines. @default none */
  log?: (line: string) => void;
  /**
   * Ends the run early (SIGINT/SIGTERM of `npm run chaos`): no fault is injected after it fires; the fault in progress
   * is observed to its end, then the run stops the system gracefully, checks the invariants and stops every process.
   */
  signal?: AbortSignal;
}

/** What one fault did. Times are seconds from the injection; undefined: not seen within the observation window. */
export interface FaultResult {
  n: number;
  fault: FaultKind;
  /** What was hit (pid, port). */
  target: string;
  injectedAt: number;
  /** The first health signal that changed (a probe unanswered, readiness 503, a check not passing, a new leader). */
  detectS: number | undefined;
  detectedBy: string;
  /** One active engine, ready, its checks back to the baseline, the stream fresh, nginx serving the API. */
  serviceS: number | undefined;
  /** Everything back as before the fault: every engine and gateway process up and ready. */
  recoverS: number | undefined;
  /** The first order submitted after the injection, from the stream. */
  firstOrderS: number | undefined;
  /** What was still wrong at the end of the window, when it did not recover. */
  stillWrong: string;
  /** What kept the service from recovering longest: the problems of the last probe before it did. */
  blockedBy: string;
}

/** One invariant checked at the end of the run. */
export interface InvariantResult {
  name: string;
  ok: boolean;
  detail: string;
}

/** Everything a run measured. */
export interface ChaosReport {
  seed: number;
  durationSec: number;
  startedAt: string;
  faults: FaultResult[];
  invariants: InvariantResult[];
  streams: StreamReport;
  counts: { entries: number; orders: number; fills: number; engineRestarts: number; gatewayRestarts: number };
  pgFailovers: number;
  notes: string[];
}

/** Checks that follow the machine's load rather than a fault. */
const LOAD_CHECKS = new Set(['uptime', 'event-loop:delay', 'heap:utilization']);

/**
 * How long a process may take to answer a probe before it counts as not answering. A killed process is refused at
 * once; a live one on this 2-core machine at load average 20 to 30 took over a second to answer its health status.
 */
const PROBE_TIMEOUT_MS = 3_000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface ProcObs {
  up: boolean;
  ready: boolean;
  role: 'active' | 'standby' | 'other';
  checks: Record<string, string>;
}

interface Obs {
  t: number;
  engines: ProcObs[];
  gateways: ProcObs[];
  apiOk: boolean;
  streamAgeMs: number;
}

async function probeProcess(url: string): Promise<ProcObs> {
  const down: ProcObs = { up: false, ready: false, role: 'other', checks: {} };
  try {
    const [readiness, status] = await Promise.all([
      fetch(`${url}/health/readiness`, { signal: AbortSignal.timeout(PROBE_TIMEOUT_MS) }),
      fetch(`${url}/health/status`, { signal: AbortSignal.timeout(PROBE_TIMEOUT_MS) }),
    ]);
    await readiness.body?.cancel();
    const body = (await status.json()) as { checks?: Record<string, { status: string; output?: string }[]> };
    const checks: Record<string, string> = {};
    let role: ProcObs['role'] = 'other';
    for (const [name, list] of Object.entries(body.checks ?? {})) {
      const c = list[0];
      if (c === undefined) continue;
      checks[name.replace(/:responseTime$/, '')] = c.status;
      if (name.startsWith('ha:')) role = c.output?.startsWith('active') ? 'active' : 'standby';
    }
    return { up: true, ready: readiness.status === 200, role, checks };
  } catch {
    return down;
  }
}

function httpsStatus(url: string, ca: string, token: string): Promise<number> {
  return new Promise((resolve) => {
    const req = request(url, { ca, headers: { authorization: `Bearer ${token}` }, timeout: 2_000 }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', () => resolve(0));
    req.end();
  });
}

interface StreamEntry {
  offset: number;
  ts: number;
  writer: string;
  entry: JournalEntry;
}

async function readStream(redis: Redis, key: string): Promise<StreamEntry[]> {
  const out: StreamEntry[] = [];
  let start = '-';
  for (;;) {
    const rows = (await redis.xrange(key, start, '+', 'COUNT', 5_000)) as [string, string[]][];
    for (const [id, fields] of rows) {
      const f = new Map<string, string>();
      for (let i = 0; i + 1 < fields.length; i += 2) f.set(fields[i] as string, fields[i + 1] as string);
      const data = JSON.parse(f.get('d') as string) as { k: string; entry?: JournalEntry };
      if (data.k === 'entry')
        out.push({
          offset: Number(id.split('-')[0]),
          ts: Number(f.get('t')),
          writer: f.get('w') as string,
          entry: data.entry as JournalEntry,
        });
    }
    if (rows.length < 5_000) return out;
    start = `(${(rows.at(-1) as [string, string[]])[0]}`;
  }
}

/** The checks of a process's health status that do not pass, with what they say (for the log of a late fault). */
async function failingChecks(url: string): Promise<string> {
  try {
    const res = await fetch(`${url}/health/status`, { signal: AbortSignal.timeout(PROBE_TIMEOUT_MS) });
    const body = (await res.json()) as { checks?: Record<string, { status: string; output?: string }[]> };
    const bad = Object.entries(body.checks ?? {})
      .filter(([, list]) => list[0] !== undefined && list[0].status !== 'pass')
      .map(([name, list]) => `${name} ${list[0]?.status}: ${(list[0]?.output ?? '').slice(0, 300)}`);
    return bad.length === 0 ? 'none' : bad.join(' | ');
  } catch (e) {
    return `no answer (${(e as Error).message})`;
  }
}

/** The last `n` lines of `text`, each cut to 300 characters. */
function lastLines(text: string, n: number): string {
  return text
    .split('\n')
    .slice(-n)
    .map((l) => `    ${l.slice(0, 300)}`)
    .join('\n');
}

/** Fills the file system holding `dir` to the last byte; returns the filler's path. */
function fillDisk(dir: string): string {
  const path = join(dir, 'chaos-filler');
  const fd = openSync(path, 'w');
  const chunk = Buffer.alloc(1 << 20);
  try {
    for (;;) {
      const free = statfsSync(dir).bavail * statfsSync(dir).bsize;
      if (free <= 0) break;
      try {
        writeSync(fd, chunk, 0, Math.min(chunk.length, free));
      } catch {
        break; // ENOSPC: full
      }
    }
  } finally {
    closeSync(fd);
  }
  return path;
}

/**
 * The chaos suite: the composed system (two engines with `ha.enabled`, two gateways behind nginx with TLS, a
 * PostgreSQL primary with a synchronous replica behind a switching proxy and its failover watchdog, Redis with a
 * replica and three Sentinels, the simulated venue as its own process) under a seeded schedule of faults. Measures
 * detect and recover times per fault and checks the invariants at the end. Every process it starts is stopped by
 * its PID before it returns or throws.
 */
export async function runChaos(options: ChaosOptions): Promise<ChaosReport> {
  const o = {
    streamClients: 20,
    holdMs: 5_000,
    recoverWithinMs: 30_000,
    leaseTtlMs: 10_000,
    faults: FAULT_KINDS,
    maxFaults: Number.POSITIVE_INFINITY,
    log: () => {},
    ...options,
  };
  // Every progress line carries the seconds since the run began, so a slow phase shows in the log.
  const t0 = Date.now();
  const log = options.log ?? (() => {});
  o.log = (line: string) => log(`[+${((Date.now() - t0) / 1000).toFixed(1)} s] ${line}`);
  for (const k of o.faults)
    if (!(FAULT_KINDS as readonly string[]).includes(k))
      throw new TypeError(`faults: unknown fault kind ${JSON.stringify(k)} (one of ${FAULT_KINDS.join(', ')})`);
  if (o.faults.length === 0) throw new TypeError('faults: at least one fault kind');
  const rng = new Prng(o.seed);
  const notes: string[] = [];
  const load = () =>
    loadavg()
      .map((x) => x.toFixed(1))
      .join(' / ');
  notes.push(`load average (1 / 5 / 15 min) at the start: ${load()}`);
  const dir = mkdtempSync(join(tmpdir(), 'chaos-'));
  const id = uniqueName('chaos');
  const busKey = `chaos:${id}`;
  const secret = `chaos-${id}-secret-0123456789abcdef`;
  const symbols = ['BTCUSDT', 'ETHUSDT'];
  const started = new Set<TraderRole>();
  const mounts: string[] = [];
  let pgHa: PgHa | undefined;
  let redisHa: RedisHa | undefined;
  let feed: FeedProcess | undefined;
  let nginx: NginxServer | undefined;
  let streams: StreamClients | undefined;
  let redis: Redis | undefined;
  const engines: Supervised[] = [];
  const gateways: Supervised[] = [];
  let filler: string | undefined;
  let probeTimer: NodeJS.Timeout | undefined;

  try {
    o.log(`PostgreSQL primary + replica, Redis primary + replica + 3 Sentinels, the feed (bus ${busKey})`);
    [pgHa, redisHa] = await Promise.all([PgHa.start({ log: o.log }), RedisHa.start()]);
    feed = new FeedProcess({ port: await freePort(), symbols, seed: o.seed, eventsPerSecond: 100 });
    await feed.start();

    // Each engine's data dir on its own small tmpfs, so the disk can be filled (needs root; else no disk fault).
    const engineDirs = ['engine-a', 'engine-b'].map((name) => {
      const d = join(dir, name);
      mkdirSync(d, { recursive: true });
      try {
        execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=256m', 'tmpfs', d], { stdio: 'pipe' });
        mounts.push(d);
      } catch (e) {
        notes.push(`no tmpfs for ${name} (${(e as Error).message.split('\n')[0]}): the disk-full fault is skipped`);
      }
      return d;
    });
    const env = (instance: string, extra: Record<string, string>): Record<string, string> => ({
      REDIS_URL: (redisHa as RedisHa).url,
      TRADER_BUS_REDIS_URL: (redisHa as RedisHa).url,
      DATABASE_URL: (pgHa as PgHa).url,
      TRADER_DATABASE_SCHEMA: 'chaos',
      TRADER_BUS_KEY: busKey,
      TRADER_CACHE_PREFIX: `chaos.${id}`,
      TRADER_BUS_SNAPSHOT_INTERVAL_MS: '1000',
      // A batch counts as durable once the Redis replica holds it: a Sentinel failover then loses no acknowledged entry.
      TRADER_BUS_WAIT_REPLICAS: '1',
      TRADER_JWT_SECRET: secret,
      TRADER_INSTANCE_ID: instance,
      TRADER_HTTP_SHUTDOWN_DELAY_MS: '200',
      TRADER_HTTP_RATE_LIMIT_PER_IP: '0',
      TRADER_SIMULATOR_ENABLED: 'false',
      TRADER_MARKET_WS_URL: (feed as FeedProcess).wsUrl,
      TRADER_MARKET_REST_URL: (feed as FeedProcess).restUrl,
      TRADER_STRATEGY_WARMUP_SAMPLES: '10',
      // The lease: the defaults (TTL 2 s, renewals every 500 ms), and 4 s, demoted healthy leaders here at load
      // average 25 to 33 (renewals took up to 5.8 s); a longer TTL trades takeover time for fewer false demotions.
      TRADER_HA_LEASE_TTL_MS: String(o.leaseTtlMs),
      TRADER_HA_RENEW_INTERVAL_MS: String(Math.round(o.leaseTtlMs / 4)),
      TRADER_SYMBOLS: symbols.join(','),
      ...extra,
    });
    for (const [i, d] of engineDirs.entries())
      engines.push(
        new Supervised(
          `engine-${'ab'[i]}`,
          'engine',
          await freePort(),
          env('chaos', { TRADER_HA_ENABLED: 'true', TRADER_DATA_DIR: d }),
          started,
          o.log,
        ),
      );
    for (let i = 0; i < 2; i++)
      gateways.push(
        new Supervised(
          `gateway-${i + 1}`,
          'gateway',
          await freePort(),
          env(`gw-${i + 1}`, { TRADER_DATA_DIR: join(dir, `gateway-${i + 1}`) }),
          started,
          o.log,
        ),
      );
    o.log('engines and gateways');
    // The first engine first, so the lease has one obvious holder; then the standby and the gateways.
    await (engines[0] as Supervised).start();
    // One at a time: on a loaded machine parallel starts time out.
    for (const p of [engines[1] as Supervised, ...gateways]) await p.start();

    const cert = await selfSignedCert(dir);
    const ca = readFileSync(cert.cert, 'utf8');
    const httpsPort = await freePort();
    const settings: NginxSettings = {
      workerProcesses: '1',
      pidFile: join(dir, 'nginx.pid'),
      errorLog: 'stderr error',
      accessLog: 'off',
      apiRate: '100000r/s',
      apiBurst: '10000',
      connPerClient: '10000',
      resolver: '127.0.0.1',
      httpListen: `127.0.0.1:${await freePort()}`,
      httpsListen: `127.0.0.1:${httpsPort}`,
      serverName: 'localhost',
      tlsCert: cert.cert,
      tlsKey: cert.key,
      gateways: gateways.map((g) => `127.0.0.1:${g.port}`),
    };
    nginx = await NginxServer.start(settings, join(dir, 'nginx'), httpsPort);
    const tokens = await Promise.all(
      Array.from({ length: 8 }, (_, i) => issueToken({ sub: `chaos-${i}`, role: 'viewer', secret, ttl: '2h' })),
    );
    redis = createRedisClient(redisHa.url, { maxRetriesPerRequest: 1, commandTimeout: 1_000 });
    redis.on('error', () => undefined);
    const logKey = `${busKey}:events:log`;

    // The probe: every 250 ms, every process's readiness and checks, nginx, and the stream's freshness.
    const observations: Obs[] = [];
    const observe = async (): Promise<Obs> => {
      const [es, gs, api, last] = await Promise.all([
        Promise.all(engines.map((e) => probeProcess(e.url))),
        Promise.all(gateways.map((g) => probeProcess(g.url))),
        httpsStatus(`https://127.0.0.1:${httpsPort}/api/positions`, ca, tokens[0] as string),
        (redis as Redis).xrevrange(logKey, '+', '-', 'COUNT', 1).catch(() => []),
      ]);
      const row = (last as [string, string[]][])[0];
      const t = row === undefined ? undefined : Number(row[1][row[1].indexOf('t') + 1]);
      return {
        t: Date.now(),
        engines: es,
        gateways: gs,
        apiOk: api === 200,
        streamAgeMs: t === undefined ? Number.POSITIVE_INFINITY : Date.now() - t,
      };
    };
    let probing = false;
    probeTimer = setInterval(() => {
      if (probing) return;
      probing = true;
      void observe()
        .then((obs) => {
          observations.push(obs);
          if (observations.length > 2_000) observations.splice(0, 1_000);
        })
        .finally(() => {
          probing = false;
        });
    }, 250);

    o.log('waiting for one active engine, ready gateways and trading');
    let baseline: Set<string> = new Set();
    await waitFor(
      async () => {
        const obs = observations.at(-1);
        if (obs === undefined) return false;
        const active = obs.engines.filter((e) => e.role === 'active');
        if (active.length !== 1 || !obs.engines.every((e) => e.up && e.ready)) return false;
        if (!obs.gateways.every((g) => g.up && g.ready) || !obs.apiOk || obs.streamAgeMs > 3_000) return false;
        // Load indicators (event-loop delay, heap) move with the machine's load, not with the faults.
        baseline = new Set(
          Object.entries((active[0] as ProcObs).checks)
            .filter(([n, s]) => s === 'pass' && !LOAD_CHECKS.has(n))
            .map(([n]) => n),
        );
        const orders = (await readStream(redis as Redis, logKey)).filter((s) => s.entry.type === 'order.submitted');
        return orders.length >= 3;
      },
      { timeoutMs: 180_000, intervalMs: 2_000, what: 'the system up and trading' },
    ).catch((e: unknown) => {
      throw new Error(
        `${(e as Error).message}; last observation: ${JSON.stringify(observations.at(-1))}\n${engines.map((x) => `${x.name}:\n${x.output().slice(-2_000)}`).join('\n')}`,
      );
    });
    o.log(`baseline checks passing on the active engine: ${[...baseline].join(', ')}`);
    streams = await StreamClients.open(
      `wss://127.0.0.1:${httpsPort}/api/stream`,
      tokens,
      o.streamClients,
      'prices.BTCUSDT',
      ca,
    );

    const problems = (obs: Obs, full: boolean): string[] => {
      const out: string[] = [];
      const active = obs.engines.filter((e) => e.role === 'active');
      if (active.length !== 1) out.push(`${active.length} active engines`);
      for (const a of active) {
        if (!a.ready) out.push('active engine not ready');
        for (const c of baseline) if (a.checks[c] !== 'pass') out.push(`active ${c} ${a.checks[c] ?? 'missing'}`);
      }
      if (obs.streamAgeMs > 3_000)
        out.push(
          `stream ${Number.isFinite(obs.streamAgeMs) ? `${(obs.streamAgeMs / 1000).toFixed(1)} s old` : 'unreadable'}`,
        );
      if (!obs.apiOk) out.push('API through nginx failed');
      if (full) {
        for (const [i, e] of obs.engines.entries())
          if (!e.up || !e.ready) out.push(`${engines[i]?.name} ${e.up ? 'not ready' : 'not answering'}`);
        for (const [i, g] of obs.gateways.entries())
          if (!g.up || !g.ready) out.push(`${gateways[i]?.name} ${g.up ? 'not ready' : 'not answering'}`);
      }
      return out;
    };

    const activeEngine = (): Supervised | undefined => {
      const obs = observations.at(-1);
      const i = obs?.engines.findIndex((e) => e.role === 'active') ?? -1;
      return i < 0 ? undefined : engines[i];
    };

    const results: FaultResult[] = [];
    const kinds = o.faults.filter((k) => k !== 'disk-full' || mounts.length === 2);
    if (kinds.length < o.faults.length) notes.push('disk-full: not injected (no tmpfs: needs root)');
    let bag: FaultKind[] = [];
    const nextKind = (): FaultKind => {
      if (bag.length === 0) {
        bag = [...kinds];
        for (let i = bag.length - 1; i > 0; i--) {
          const j = Math.floor(rng.next() * (i + 1));
          [bag[i], bag[j]] = [bag[j] as FaultKind, bag[i] as FaultKind];
        }
      }
      return bag.shift() as FaultKind;
    };

    const runStart = Date.now();
    while (Date.now() - runStart < o.durationSec * 1000 && results.length < o.maxFaults && !o.signal?.aborted) {
      const kind = nextKind();
      const n = results.length + 1;
      // A fault on the active engine needs one: after a fault that did not recover there may be none for a while.
      let active = activeEngine();
      if (kind === 'engine-kill' || kind === 'engine-stop' || kind === 'disk-full') {
        const until = Date.now() + 30_000;
        while (active === undefined && Date.now() < until) {
          await sleep(250);
          active = activeEngine();
        }
        if (active === undefined) {
          notes.push(`fault ${results.length + 1} (${kind}): no active engine after 30 s, engine-a hit instead`);
          active = engines[0];
        }
      }
      let target = '';
      let undo: (() => Promise<void>) | undefined;
      const injectedAt = Date.now();
      const hold = () => sleep(o.holdMs);
      switch (kind) {
        case 'engine-kill':
        case 'engine-stop': {
          const e = active as Supervised;
          target = `${e.name} pid ${e.pid}`;
          if (kind === 'engine-kill') e.signal('SIGKILL');
          else {
            e.signal('SIGSTOP');
            undo = async () => {
              await hold();
              e.signal('SIGCONT');
            };
          }
          break;
        }
        case 'gateway-kill':
        case 'gateway-stop': {
          const g = gateways[Math.floor(rng.next() * gateways.length)] as Supervised;
          target = `${g.name} pid ${g.pid}`;
          if (kind === 'gateway-kill') g.signal('SIGKILL');
          else {
            g.signal('SIGSTOP');
            undo = async () => {
              await hold();
              g.signal('SIGCONT');
            };
          }
          break;
        }
        case 'pg-kill':
        case 'pg-stop': {
          const p = (pgHa as PgHa).primary;
          target = `PostgreSQL primary :${p.port} pid ${p.pid}`;
          // The watchdog fences (SIGKILLs) a paused primary before promoting, so both end the same way.
          process.kill(p.pid as number, kind === 'pg-kill' ? 'SIGKILL' : 'SIGSTOP');
          break;
        }
        case 'redis-kill':
        case 'redis-stop': {
          const r = await (redisHa as RedisHa).primary();
          if (r === undefined) throw new Error('no Redis primary to fault');
          target = `Redis primary :${r.port} pid ${r.pid}`;
          if (kind === 'redis-kill') {
            await r.kill();
            undo = async () => {
              await hold();
              await r.start();
            };
          } else {
            r.pause();
            undo = async () => {
              await hold();
              r.resume();
            };
          }
          break;
        }
        case 'feed-kill':
        case 'feed-stop': {
          const f = feed as FeedProcess;
          target = `feed pid ${f.pid}`;
          if (kind === 'feed-kill') {
            await f.kill();
            undo = async () => {
              await sleep(1_000);
              await f.start();
            };
          } else {
            f.pause();
            undo = async () => {
              await hold();
              f.resume();
            };
          }
          break;
        }
        case 'clock-jump': {
          // The venue's clock steps 30 to 120 s, forwards or backwards, for the hold, then steps back.
          const f = feed as FeedProcess;
          const ms = (rng.next() < 0.5 ? -1 : 1) * (30_000 + Math.floor(rng.next() * 90_001));
          await f.jumpClock(ms);
          target = `feed pid ${f.pid}: venue clock ${ms > 0 ? '+' : ''}${(ms / 1000).toFixed(1)} s`;
          undo = async () => {
            await hold();
            await f.jumpClock(-ms);
          };
          break;
        }
        case 'disk-full': {
          const e = active as Supervised;
          const d = engineDirs[engines.indexOf(e)] as string;
          target = `${e.name} data dir (tmpfs)`;
          filler = fillDisk(d);
          undo = async () => {
            await hold();
            if (filler !== undefined) unlinkSync(filler);
            filler = undefined;
          };
          break;
        }
      }
      o.log(`fault ${n}: ${kind} on ${target}`);
      // An undo that fails (the feed not listening again in time) is part of the result, not the end of the run.
      let undoError = '';
      const undone = undo?.().catch((e: unknown) => {
        undoError = `undo failed: ${(e as Error).message}`;
      });
      const result: FaultResult = {
        n,
        fault: kind,
        target,
        injectedAt,
        detectS: undefined,
        detectedBy: '',
        serviceS: undefined,
        recoverS: undefined,
        firstOrderS: undefined,
        stillWrong: '',
        blockedBy: '',
      };
      // Observe until everything is back (and the undo ran), or twice the deadline.
      // Each observation is judged once, in order (judging earlier ones again after the detection would take a
      // clean probe from before it for the service time); by time, since the buffer drops its oldest half when full.
      let judgedUntil = injectedAt;
      const windowMs = o.recoverWithinMs * 2;
      let undoneYet = undone === undefined;
      let undoneAt = injectedAt;
      void undone?.then(() => {
        undoneYet = true;
        undoneAt = Date.now();
      });
      while (Date.now() - injectedAt < windowMs) {
        await sleep(250);
        const fresh = observations.filter((x) => x.t > injectedAt);
        for (const obs of fresh) {
          if (obs.t <= judgedUntil) continue;
          judgedUntil = obs.t;
          const s = (obs.t - injectedAt) / 1000;
          const full = problems(obs, true);
          if (result.detectS === undefined && full.length > 0) {
            result.detectS = s;
            result.detectedBy = full.slice(0, 2).join('; ');
          }
          const service = problems(obs, false);
          if (result.detectS !== undefined && result.serviceS === undefined) {
            if (service.length === 0) result.serviceS = s;
            else result.blockedBy = service.slice(0, 3).join('; ');
          }
          if (result.detectS !== undefined && full.length > 0) result.recoverS = undefined;
          else if (result.detectS !== undefined && result.recoverS === undefined && undoneYet) result.recoverS = s;
        }
        const last = fresh.at(-1);
        // Recovered for good: three probes in a row clean after the undo, and the infrastructure settled.
        const tail = fresh.slice(-3);
        if (
          undoneYet &&
          result.recoverS !== undefined &&
          tail.length === 3 &&
          tail.every((x) => problems(x, true).length === 0)
        )
          break;
        if (last !== undefined && result.detectS === undefined && Date.now() - injectedAt > 15_000 && undoneYet) {
          // Every probe since the injection was clean (the system absorbed the fault, e.g. a feed paused for less
          // than the market-data staleness limit): recovered at the first probe after the undo.
          result.detectedBy = 'nothing changed in the health surface';
          const after = fresh.find((x) => x.t >= undoneAt);
          if (after !== undefined) result.recoverS = (after.t - injectedAt) / 1000;
          break;
        }
      }
      await undone;
      if (result.recoverS === undefined || result.recoverS * 1000 > windowMs) {
        const last = observations.at(-1);
        result.stillWrong = last === undefined ? 'no observation' : problems(last, true).join('; ');
      }
      if (undoError !== '') result.stillWrong = [undoError, result.stillWrong].filter((x) => x !== '').join('; ');
      // What the traders said when a fault did not recover in time: the cause is usually in their last lines.
      if (result.recoverS === undefined || result.recoverS * 1000 > o.recoverWithinMs)
        for (const p of [...engines, ...gateways])
          o.log(
            `${p.name} (pid ${p.pid ?? '-'}): checks not passing: ${await failingChecks(p.url)}; its last lines:\n${lastLines(p.output(), 25)}`,
          );
      results.push(result);
      o.log(
        `fault ${n}: ${kind}: detect ${result.detectS ?? '-'} s (${result.detectedBy}), service ${result.serviceS ?? '-'} s, recover ${result.recoverS ?? '-'} s${result.stillWrong ? `; still wrong: ${result.stillWrong}` : ''}`,
      );
      // Redundancy back before the next fault: a new PostgreSQL replica, every supervised process up.
      await (pgHa as PgHa).settled();
      await sleep(2_000 + Math.floor(rng.next() * 3_000));
    }

    // The end: stream clients settle, trading stops gracefully (the writer catches PostgreSQL up), then the checks.
    o.log('stopping: stream clients settle, gateways and engines stop gracefully');
    await streams.settled().catch((e: unknown) => notes.push(`stream clients: ${(e as Error).message}`));
    const streamReport = streams.report();
    streams.close();
    streams = undefined;
    clearInterval(probeTimer);
    probeTimer = undefined;
    const lastActive = activeEngine();
    for (const g of gateways) await g.stop();
    // The standby first, so it does not take over when the active engine releases the lease.
    for (const e of engines.filter((x) => x !== lastActive)) await e.stop();
    if (lastActive === undefined) notes.push('no engine was active at the last probe');
    else {
      const activeCode = await lastActive.stop(30_000);
      // null: ended by a signal (the graceful stop ran out of time and it was SIGKILLed).
      if (activeCode !== 0)
        notes.push(`the last active engine (${lastActive.name}) exited with ${activeCode ?? 'a signal'}`);
    }

    const all = await readStream(redis, logKey);
    const entries = all.map((s) => s.entry);
    const ofType = (type: string, field: string) =>
      entries.filter((e) => e.type === type).map((e) => (e.data as Record<string, string>)[field] as string);
    const submitted = ofType('order.submitted', 'clientOrderId');
    const fills = entries.filter((e) => e.type === 'fill').map((e) => e.data as Fill);
    const invariants: InvariantResult[] = [];
    const check = (name: string, ok: boolean, detail: string) => invariants.push({ name, ok, detail });
    const gaps = entries.filter((e, i) => e.seq !== i + 1).length;
    check('stream is one gapless journal', gaps === 0, `${entries.length} entries, ${gaps} out of place`);
    check(
      'no duplicate client order id',
      new Set(submitted).size === submitted.length,
      `${submitted.length} orders, ${submitted.length - new Set(submitted).size} duplicates`,
    );
    const fillIds = fills.map((f) => f.fillId);
    check(
      'no duplicated fill',
      new Set(fillIds).size === fillIds.length,
      `${fillIds.length} fills, ${fillIds.length - new Set(fillIds).size} duplicates`,
    );
    if (lastActive === undefined)
      check('last leader journal = stream (no lost fill)', false, 'no active engine at the end');
    else {
      const journal = Journal.read(join(engineDirs[engines.indexOf(lastActive)] as string, 'journal.jsonl'));
      const same =
        journal.length === entries.length && journal.every((e, i) => JSON.stringify(e) === JSON.stringify(entries[i]));
      check(
        'last leader journal = stream (no lost fill)',
        same,
        `journal ${journal.length} entries, stream ${entries.length}`,
      );
    }
    const db = new pg.Client({ connectionString: pgHa.url });
    await db.connect();
    try {
      const dbFills = (
        await db.query<{ fill_id: string }>('select fill_id from chaos.fills order by fill_id')
      ).rows.map((r) => r.fill_id);
      const expected = [...fillIds].sort();
      const missingFills = entries
        .filter((e) => e.type === 'fill' && !dbFills.includes((e.data as Fill).fillId))
        .map((e) => e.seq);
      const cursor = await db
        .query<{ c: string }>('select row_to_json(x)::text as c from chaos.writer_cursor x')
        .then((r) => r.rows.map((x) => x.c).join(', '))
        .catch((e: unknown) => `unreadable (${(e as Error).message})`);
      check(
        'PostgreSQL fills = stream fills, exactly once',
        JSON.stringify(dbFills) === JSON.stringify(expected),
        `PostgreSQL ${dbFills.length}, stream ${expected.length}, missing ${missingFills.length}${missingFills.length > 0 ? ` (stream seq ${missingFills[0]}..${missingFills.at(-1)} of ${entries.length})` : ''}, extra ${dbFills.filter((f) => !expected.includes(f)).length}; PostgreSQL cursor at ${cursor}`,
      );
      const dbOrders = (
        await db.query<{ client_order_id: string }>('select client_order_id from chaos.orders order by client_order_id')
      ).rows.map((r) => r.client_order_id);
      check(
        'PostgreSQL orders = stream orders',
        JSON.stringify(dbOrders) === JSON.stringify([...submitted].sort()),
        `PostgreSQL ${dbOrders.length}, stream ${submitted.length}`,
      );
      const { journal } = Journal.open(join(dir, 'reference.jsonl'), { fsync: 'never' });
      const reference = new TradingEngine({
        config: loadConfig({ env: {}, overrides: { instanceId: 'chaos', symbols } }),
        journal,
      });
      reference.replay(entries, { reconcile: false });
      const dbPositions = (
        await db.query<{ symbol: string; qty: number; realized: number; fees: number }>(
          'select symbol, qty, realized, fees from chaos.positions order by symbol',
        )
      ).rows;
      const close = (a: number, b: number) => Math.abs(a - b) < 1e-9 * Math.max(1, Math.abs(b));
      const off = dbPositions.filter((r) => {
        const p = reference.portfolio.snapshot(r.symbol);
        return !close(Number(r.qty), p.qty) || !close(Number(r.realized), p.realized) || !close(Number(r.fees), p.fees);
      });
      check(
        'positions (PostgreSQL) = replay of the stream',
        off.length === 0 && dbPositions.length === reference.portfolio.snapshots().length,
        `${dbPositions.length} symbols, ${off.length} differ`,
      );
      await reference.close();
      journal.close();
    } finally {
      await db.end();
    }
    check(
      'stream clients gapless or explicit resnapshot',
      streamReport.lost === 0,
      `${streamReport.clients} clients, ${streamReport.reconnects} reconnects, ${streamReport.resumed} resumed, ${streamReport.resnapshots} resnapshots, ${streamReport.lost} lost`,
    );
    for (const r of results) {
      const s = all.find((x) => x.ts > r.injectedAt && x.entry.type === 'order.submitted');
      r.firstOrderS = s === undefined ? undefined : (s.ts - r.injectedAt) / 1000;
    }
    const late = results.filter((r) => r.recoverS === undefined || r.recoverS * 1000 > o.recoverWithinMs);
    check(
      `every fault recovered within ${o.recoverWithinMs / 1000} s`,
      late.length === 0,
      late.length === 0
        ? `${results.length} faults`
        : late
            .map((r) =>
              r.recoverS === undefined
                ? `#${r.n} ${r.fault}: not recovered in the window (${r.stillWrong})`
                : `#${r.n} ${r.fault}: ${r.recoverS} s (${r.stillWrong})`,
            )
            .join('; '),
    );
    notes.push(`load average (1 / 5 / 15 min) at the end: ${load()}`);
    return {
      seed: o.seed,
      durationSec: o.durationSec,
      startedAt: new Date(runStart).toISOString(),
      faults: results,
      invariants,
      streams: streamReport,
      counts: {
        entries: entries.length,
        orders: submitted.length,
        fills: fills.length,
        engineRestarts: engines.reduce((s, e) => s + e.restarts, 0),
        gatewayRestarts: gateways.reduce((s, g) => s + g.restarts, 0),
      },
      pgFailovers: pgHa.failovers.length,
      notes,
    };
  } finally {
    clearInterval(probeTimer);
    streams?.close();
    await nginx?.stop();
    for (const p of [...gateways, ...engines]) await p.stop(10_000).catch(() => undefined);
    for (const p of started) await p.stop(5_000).catch(() => undefined);
    await feed?.kill();
    redis?.disconnect();
    await redisHa?.close();
    await pgHa?.close();
    if (filler !== undefined) rmSync(filler, { force: true });
    for (const m of mounts) {
      try {
        execFileSync('umount', [m], { stdio: 'pipe' });
      } catch {
        execFileSync('umount', ['-l', m], { stdio: 'pipe' });
      }
    }
    rmSync(dir, { recursive: true, force: true });
  }
}

const fmt = (s: number | undefined) => (s === undefined ? '-' : s.toFixed(1));

/** The report as Markdown: one row per fault, then the invariants. */
export function formatReport(r: ChaosReport): string {
  const rows = r.faults.map(
    (f) =>
      `| ${f.n} | ${f.fault} | ${f.target} | ${fmt(f.detectS)} | ${f.detectedBy.replace(/\|/g, '/')} | ${fmt(f.serviceS)} | ${f.blockedBy.replace(/\|/g, '/')} | ${fmt(f.recoverS)} | ${fmt(f.firstOrderS)} | ${f.recoverS !== undefined && f.recoverS <= 30 ? 'yes' : `**no**${f.stillWrong ? ` (${f.stillWrong})` : ''}`} |`,
  );
  return [
    '| # | fault | target | detect s | detected by | service s | service waited on | recover s | first order s | recovered within 30 s |',
    '|---|---|---|---|---|---|---|---|---|---|',
    ...rows,
    '',
    '| invariant | result | detail |',
    '|---|---|---|',
    ...r.invariants.map((i) => `| ${i.name} | ${i.ok ? 'pass' : '**FAIL**'} | ${i.detail} |`),
    '',
    `Stream: ${r.counts.entries} journal entries, ${r.counts.orders} orders, ${r.counts.fills} fills; engine restarts ${r.counts.engineRestarts}, gateway restarts ${r.counts.gatewayRestarts}, PostgreSQL failovers ${r.pgFailovers}.`,
    ...r.notes.map((n) => `Note: ${n}`),
  ].join('\n');
}
