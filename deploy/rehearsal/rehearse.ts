import { closeSync, existsSync, fstatSync, mkdtempSync, openSync, readFileSync, readSync, statSync } from 'node:fs';
import { loadavg, setPriority, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { freePort, selfSignedCert, serviceUrls, uniqueName, waitFor } from '@cryptoscalp/testkit';
import { issueToken } from '../../apps/trader/src/http/tokens.js';
import type { NginxSettings } from '../nginx/render-config.js';
import { CpuMeter, childrenNamed, childrenOf } from './cpu-usage.js';
import { type CapacityResult, measureCapacity, StreamClients, type StreamReport, startWrk } from './load.js';
import { NginxServer } from './nginx-server.js';
import { type LoadResult, type LoadRun, OpenLoopLoad, startOpenLoopLoad } from './open-loop-load.js';
import { removeRunState, startTraderRole, type TraderRole } from './trader-process.js';

/** Options of {@link rehearse}. */
export interface RehearsalOptions {
  /** Gateways per set (blue, green). @default 2 */
  gateways?: number;
  /** Open live-stream clients through nginx. @default 100 */
  streamClients?: number;
  /** Seconds of steady load before and after each action. @default 3 */
  holdSeconds?: number;
  /**
   * The phases' load generator. `open-loop` (open-loop-load.ts): GETs at `ratePerSecond` on kept-alive connections,
   * whatever the answers do, with the retry HTTP clients make when a server closes a reused connection under a
   * request. `wrk`: paced wrk connections with a new connection per request (wrk does not retry); its rate is set by
   * `paceMs` or derived from `ratePerSecond` or `loadFraction`. @default 'open-loop'
   */
  load?: 'open-loop' | 'wrk';
  /** Connections at most (open-loop), or wrk's connections (with `paceMs` they set its rate). @default 64 */
  connections?: number;
  /** wrk: pause of each connection between requests, ms. @default 20 */
  paceMs?: number;
  /**
   * The rate the phases aim at, requests/s. Open-loop: sent at this rate (0: 1000, or `loadFraction` of the measured
   * kept-alive capacity through nginx when that is less). wrk: `paceMs` is derived from it
   * (connections x 1000 / rate), over `loadFraction`; each connection waits for its answer before its pause, so the
   * rate reached is lower when answers take longer than the pause. The table prints what was reached. @default 0
   */
  ratePerSecond?: number;
  /** @default REDIS_URL or the local Redis */
  redisUrl?: string;
  /** @default DATABASE_URL or the local PostgreSQL */
  databaseUrl?: string;
  /**
   * The gateways' `http.shutdownDelayMs`: after SIGTERM, readiness 503 while the gateway still serves, before its
   * server closes. It must cover what nginx's old workers still forward after a reload. @default 5000 (as in
   * deploy/k8s/base/config.json)
   */
  shutdownDelayMs?: number;
  /** Seconds of each unpaced capacity measurement before the phases (0: none). @default 3 */
  capacitySeconds?: number;
  /**
   * Seconds of the phases' load through nginx before the steady phase, not measured (0: none): the first set has
   * just started (its code not yet compiled, the gateways started beside it still finishing their start), so without
   * it the baseline would measure a cold start rather than a steady state. @default 3
   */
  warmupSeconds?: number;
  /**
   * Seconds of load sent to each gateway started before the phases directly (plain HTTP, `directWarmupRate`
   * requests/s each, all side by side), as a deployment warms (smoke-tests) a new set before switching traffic to it:
   * a gateway that has answered nothing yet runs its request path unoptimized, and a set taking the whole load at
   * once fell seconds behind (p99 2.6-10 s in the blue-green switch at 1,000 requests/s on 2 cores). Not for
   * replacements started in the rolling restart's phase. 0: none. @default 3
   */
  directWarmupSeconds?: number;
  /** Requests/s each gateway gets during `directWarmupSeconds`. @default 250 */
  directWarmupRate?: number;
  /**
   * With a capacity measurement and no `ratePerSecond`: the phases' load is at most this fraction of the capacity
   * through nginx in the generator's mode (open-loop: kept-alive, capped at 1,000 requests/s; wrk: a connection per
   * request, and `paceMs` is derived from it). A load at capacity leaves the gateways no room for a
   * switch (a starting gateway's CPU, 100 stream clients resuming at once): their event loops lag past the
   * load-shedding threshold and they answer 503, which is then the machine, not the switch. 0: use `paceMs`.
   * @default 0.5
   */
  loadFraction?: number;
  /**
   * Scheduling niceness of a gateway while it starts beside the serving ones (0: none); it is set back to 0 once it
   * is ready. @default 0
   */
  standbyNice?: number;
  /**
   * Start the rolling restart's replacements before the phases, side by side with the standby sets, instead of in
   * the phase under its load (as surge pods do). In a deployment a surge pod starts on capacity of its own; on a
   * 2-core machine its start (about 1.4 s of CPU) takes that CPU from the serving gateways, the load generator and
   * nginx, and costs the phase its wall-clock time. What the phase then measures is the traffic while each gateway
   * is replaced in the upstream and drained. @default false
   */
  replacementsFirst?: boolean;
  /** Progress lines (prefixed with the seconds since the rehearsal started). @default none */
  log?: (line: string) => void;
  /**
   * Aborting stops every process the rehearsal started (by PID) at once; the rehearsal then fails. For a test
   * runner's timeout, whose `afterAll` would otherwise leave them running.
   */
  signal?: AbortSignal;
}

/** CPU seconds each part used over a measurement, its wall-clock seconds, and the 1-minute load average at its end. */
export interface CpuShare {
  wallSeconds: number;
  /**
   * By part: `nginx` (master and workers), `gateways`, `engine`, `load` (the load generator: wrk or the open-loop
   * generator's process), `rehearsal` (this process: the stream clients).
   */
  cpuSeconds: Record<string, number>;
  loadAverage: number;
}

/** One unpaced wrk measurement (see {@link RehearsalReport.capacity}). */
export interface CapacityRow {
  target: string;
  result: CapacityResult;
  cpu: CpuShare;
}

/** What {@link rehearse} measured. */
export interface RehearsalReport {
  /**
   * The baseline of the same run: what the first set can answer at all, unpaced, before any phase: one gateway
   * directly (plain HTTP) and all of them through nginx (TLS), with kept-alive connections and with one connection
   * per request (the phases' mode).
   */
  capacity: CapacityRow[];
  /**
   * The phases' load generator and the rate it aims at: open-loop at `targetPerSecond` on at most `connections`
   * kept-alive connections; wrk with `connections` paced by `paceMs` (connections x 1000 / pace).
   */
  load: { mode: 'open-loop' | 'wrk'; connections: number; paceMs: number; targetPerSecond: number };
  phases: PhaseResult[];
}

/** One phase under load: what the load generator and the stream clients saw, and how long the switch took. */
export interface PhaseResult {
  /** `steady`: the same load with nothing changed, the baseline measured in the same run. */
  phase: 'steady' | 'rolling restart' | 'blue-green' | 'rollback';
  load: LoadResult;
  streams: StreamReport;
  /** Rolling restart: replacements started, every gateway replaced and drained; blue-green and rollback: upstream swap until nginx's new workers serve it. */
  switchMs: number;
  /** Until the old set had drained and exited (blue-green, rollback). */
  drainMs: number;
  /** Until the standby sets were up and ready (blue-green, rollback): they start with the first set, before any phase. */
  standbyMs: number;
  /** nginx's access log of the phase: answers other than 2xx and 101, by `status upstream_status` (`-` when no gateway answered). */
  proxyErrors: Record<string, number>;
  cpu: CpuShare;
}

const phaseKeys = ['reconnects', 'resumed', 'resnapshots', 'lost', 'messages'] as const;
const minus = (a: StreamReport, b: StreamReport): StreamReport => ({
  ...a,
  ...Object.fromEntries(phaseKeys.map((k) => [k, a[k] - b[k]])),
});
/** Answers other than 2xx and 101 in nginx's JSON access log from byte `from` on, by `status upstream_status`. */
function proxyErrors(file: string, from: number): Record<string, number> {
  const out: Record<string, number> = {};
  if (!existsSync(file)) return out;
  const fd = openSync(file, 'r');
  try {
    const size = fstatSync(fd).size;
    const buf = Buffer.alloc(size - from);
    readSync(fd, buf, 0, buf.length, from);
    for (const line of buf.toString('utf8').split('\n')) {
      if (line === '') continue;
      const e = JSON.parse(line) as { status: number; upstream: string; upstream_status: string };
      if ((e.status >= 200 && e.status < 300) || e.status === 101) continue;
      // The upstream's name instead of an address: every gateway was marked failed (max_fails), none was tried.
      const noLive = e.upstream.split(', ').includes('gateways') ? ' (no live upstream)' : '';
      const key = `${e.status} ${e.upstream_status || '-'}${noLive}`;
      out[key] = (out[key] ?? 0) + 1;
    }
  } finally {
    closeSync(fd);
  }
  return out;
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The keys {@link rehearse} takes: any other is refused by name. */
const OPTION_KEYS = new Set<string>([
  'gateways',
  'streamClients',
  'holdSeconds',
  'load',
  'connections',
  'paceMs',
  'ratePerSecond',
  'redisUrl',
  'databaseUrl',
  'shutdownDelayMs',
  'capacitySeconds',
  'warmupSeconds',
  'directWarmupSeconds',
  'directWarmupRate',
  'loadFraction',
  'standbyNice',
  'replacementsFirst',
  'log',
  'signal',
] satisfies (keyof RehearsalOptions)[]);

/**
 * The zero-downtime rehearsal: a real nginx (TLS) in front of gateway processes and one engine on Redis and
 * PostgreSQL, under steady HTTP load and open stream clients, through a rolling restart of every gateway, a
 * blue-green switch and a rollback. Every process it starts is stopped by its PID before it returns or throws.
 */
export async function rehearse(options: RehearsalOptions = {}): Promise<RehearsalReport> {
  for (const key of Object.keys(options))
    if (!OPTION_KEYS.has(key)) throw new TypeError(`${key}: unknown option of rehearse()`);
  const o = {
    gateways: 2,
    streamClients: 100,
    holdSeconds: 3,
    load: 'open-loop' as 'open-loop' | 'wrk',
    connections: 64,
    paceMs: 20,
    ratePerSecond: 0,
    shutdownDelayMs: 5_000,
    capacitySeconds: 3,
    warmupSeconds: 3,
    directWarmupSeconds: 3,
    directWarmupRate: 250,
    loadFraction: 0.5,
    standbyNice: 0,
    replacementsFirst: false,
    redisUrl: serviceUrls.redis,
    databaseUrl: serviceUrls.postgres,
    log: () => {},
    ...options,
  };
  // Seconds since the start on every line, so a stall in a phase's latencies can be set against what happened then.
  const tStart = performance.now();
  const log = (line: string) => o.log(`${((performance.now() - tStart) / 1000).toFixed(1)}s ${line}`);
  if (!Number.isInteger(o.gateways) || o.gateways < 2) throw new RangeError('gateways: at least 2');
  const dir = mkdtempSync(join(tmpdir(), 'rehearsal-'));
  const id = uniqueName('rehearsal');
  const busKey = `rehearsal:${id}`;
  const cachePrefix = `rehearsal.${id}`;
  const secret = `rehearsal-${id}-secret-0123456789abcdef`;
  const started = new Set<TraderRole>();
  let nginx: NginxServer | undefined;
  let loadRun: LoadRun | undefined;
  let streams: StreamClients | undefined;
  const env = (instance: string): Record<string, string> => ({
    REDIS_URL: o.redisUrl,
    DATABASE_URL: o.databaseUrl,
    TRADER_DATABASE_SCHEMA: id,
    TRADER_BUS_KEY: busKey,
    TRADER_CACHE_PREFIX: cachePrefix,
    TRADER_JWT_SECRET: secret,
    TRADER_INSTANCE_ID: instance,
    TRADER_DATA_DIR: join(dir, instance),
    TRADER_HTTP_SHUTDOWN_DELAY_MS: String(o.shutdownDelayMs),
    // Behind nginx every client has nginx's address: nginx limits per client, the gateways per token.
    TRADER_HTTP_RATE_LIMIT_PER_IP: '0',
    // As in staging and production (deploy/k8s): nginx on loopback is a trusted proxy, so its connections are not
    // capped per address (it holds every stream client's connection) and the client's address is X-Forwarded-For.
    TRADER_HTTP_TRUST_PROXY: 'loopback',
  });
  const onAbort = () => {
    void loadRun?.kill();
    void nginx?.stop();
    for (const p of started) void p.stop(1_000);
  };
  o.signal?.addEventListener('abort', onAbort, { once: true });
  let gatewayCount = 0;
  let engine: TraderRole | undefined;
  // What each part of the rehearsal costs on this machine: the rate it reaches is bounded by their sum.
  const parts: Record<string, () => Iterable<number>> = {
    nginx: () => (nginx === undefined ? [] : [nginx.pid, ...childrenOf(nginx.pid)]),
    gateways: () => [...started].filter((p) => p !== engine).map((p) => p.pid),
    engine: () => (engine === undefined ? [] : [engine.pid]),
    load: () => [...childrenNamed(process.pid, 'wrk'), ...(loadRun === undefined ? [] : [loadRun.pid])],
    rehearsal: () => [process.pid],
  };
  /** Runs `f` while metering every part's CPU (sampled every 250 ms, so a process that exits keeps its share). */
  const metered = async <T>(f: () => Promise<T>): Promise<[T, CpuShare]> => {
    const meter = new CpuMeter(parts);
    const timer = setInterval(() => meter.sample(), 250);
    try {
      const result = await f();
      return [result, { ...meter.read(), loadAverage: loadavg()[0] as number }];
    } finally {
      clearInterval(timer);
    }
  };
  // On one machine a gateway that starts (seconds of CPU: module loading, JIT, catching up with the stream) competes
  // with the serving gateways for the same cores; in a deployment it starts on capacity of its own (a surge pod, the
  // standby set's hosts). Starting it niced keeps the serving set's event loops from lagging into load shedding.
  const startGateway = async (beside: boolean) => {
    if (o.signal?.aborted) throw new Error('rehearsal aborted');
    const nice = beside ? o.standbyNice : 0;
    const t0 = performance.now();
    const g = await startTraderRole('gateway', await freePort(), env(`gw-${++gatewayCount}`), started, [], nice);
    const running = performance.now();
    // What a Kubernetes readiness gate waits for: the gateway serves from the stream.
    await waitFor(async () => (await fetch(`${g.url}/health/readiness`)).status === 200, {
      timeoutMs: 90_000,
      intervalMs: 100,
      what: `gateway ${g.url} ready`,
    });
    log(
      `gateway ${g.url} running in ${Math.round(running - t0)} ms, ready in ${Math.round(performance.now() - t0)} ms (load average ${loadavg()[0]?.toFixed(1)})`,
    );
    if (nice !== 0) {
      try {
        setPriority(g.pid, 0);
      } catch (error) {
        log(`gateway ${g.url} stays at nice ${nice}: ${(error as Error).message}`);
      }
    }
    return g;
  };
  const address = (g: TraderRole) => g.url.replace('http://', '');
  // SIGTERM, then the gateway drains (readiness 503 for shutdownDelayMs while serving, then streams closed with
  // 1001 and requests in flight finished); resolves when all have exited cleanly.
  const stopAll = async (set: readonly TraderRole[]) => {
    const codes = await Promise.all(set.map((g) => g.stop()));
    for (const [i, code] of codes.entries())
      if (code !== 0) throw new Error(`gateway ${set[i]?.url} exited with ${code}:\n${set[i]?.output()}`);
    for (const g of set) started.delete(g);
  };

  try {
    log(
      `engine, ${o.gateways} gateways and two standby sets of ${o.gateways}${o.replacementsFirst ? ", and the rolling restart's replacements" : ''} (bus ${busKey}, schema ${id})`,
    );
    // The engine first: it creates the schema's tables, which gateways starting beside it would race to create too.
    engine = await startTraderRole('engine', await freePort(), env('engine'), started);
    log('engine running');
    // The standby sets of the blue-green switch (green) and of the rollback (blue again) start here with the first set,
    // side by side, and wait out of the upstream until their phase: a start is seconds of CPU, most of a phase's time
    // on a loaded machine, and starts side by side take little more wall-clock time than one. What those phases
    // measure is the traffic while the upstream changes, the same whether the standby set became ready a second or a
    // minute before (it is ready before any switch in a blue-green deployment too); the table prints how long the
    // starts took. The rolling restart's replacements start in their phase, under its load, as surge pods do, or
    // here too with `replacementsFirst`.
    const s0 = performance.now();
    const sets = o.replacementsFirst ? 4 : 3;
    const all = await Promise.all(Array.from({ length: sets * o.gateways }, (_, i) => startGateway(i >= o.gateways)));
    const standbyMs = performance.now() - s0;
    const set = (k: number) => all.slice(k * o.gateways, (k + 1) * o.gateways);
    let blue = set(0);
    const [green, previous] = [set(1), set(2)];
    const readyReplacements = o.replacementsFirst ? set(3) : undefined;
    const accessLog = join(dir, 'access.log');
    const cert = await selfSignedCert(dir);
    const ca = readFileSync(cert.cert, 'utf8');
    const httpsPort = await freePort();
    const settings: NginxSettings = {
      workerProcesses: '1',
      pidFile: join(dir, 'nginx.pid'),
      errorLog: 'stderr error',
      // Every answer, so a failed request can be traced to nginx or to a gateway (see proxyErrors).
      accessLog: `${accessLog} json`,
      // The load generator is one address standing for many clients: the per-client limits are lifted here.
      apiRate: '100000r/s',
      apiBurst: '10000',
      connPerClient: '10000',
      resolver: '127.0.0.1',
      httpListen: `127.0.0.1:${await freePort()}`,
      httpsListen: `127.0.0.1:${httpsPort}`,
      serverName: 'localhost',
      tlsCert: cert.cert,
      tlsKey: cert.key,
      gateways: blue.map(address),
    };
    nginx = await NginxServer.start(settings, join(dir, 'nginx'), httpsPort);
    // A token set per measurement: the per-token limit (500 per 10 s, shared through Redis) is not what is measured,
    // and unpaced runs would exhaust it for the phases after them.
    const tokenSet = (name: string) =>
      Promise.all(
        Array.from({ length: 64 }, (_, i) => issueToken({ sub: `${name}-${i}`, role: 'viewer', secret, ttl: '1h' })),
      );
    const tokens = await tokenSet('load');
    if (o.directWarmupSeconds > 0) {
      // In this process (no generator process to start per gateway); its own tokens, so the per-token limits the
      // phases use are untouched.
      const warmTokens = await tokenSet('warm-gateways');
      const warming = all;
      const runs = warming.map(
        (g) =>
          new OpenLoopLoad({
            url: `${g.url}/api/positions`,
            tokens: warmTokens,
            ratePerSecond: o.directWarmupRate,
            connections: 16,
          }),
      );
      for (const r of runs) r.start();
      await sleep(o.directWarmupSeconds * 1000);
      const warmed = await Promise.all(runs.map((r) => r.stop()));
      log(
        `gateways warmed directly: ${warmed.map((w, i) => `${address(warming[i] as TraderRole)} ${w.answered}/${w.sent} answered, ${w.failed} failed, p99 ${Math.round(w.p99Ms)} ms`).join('; ')}`,
      );
    }
    const capacity: CapacityRow[] = [];
    if (o.capacitySeconds > 0) {
      const direct = `${blue[0]?.url}/api/positions`;
      const proxied = `https://127.0.0.1:${httpsPort}/api/positions`;
      // Not measured: a gateway that has just started answers slower until its code is compiled.
      const warm = { dir, connections: o.connections, threads: 2, seconds: 1, keepAlive: true };
      await Promise.all([
        measureCapacity({ ...warm, url: direct, tokens: await tokenSet('warm-direct') }),
        measureCapacity({ ...warm, url: proxied, tokens: await tokenSet('warm-proxied') }),
      ]);
      for (const [target, url, keepAlive] of [
        ['1 gateway direct (HTTP), kept-alive', direct, true],
        ['1 gateway direct (HTTP), a connection per request', direct, false],
        [`nginx (TLS) to ${o.gateways} gateways, kept-alive`, proxied, true],
        [`nginx (TLS) to ${o.gateways} gateways, a connection per request`, proxied, false],
      ] as const) {
        const set = await tokenSet(`capacity-${capacity.length}`);
        const [result, cpu] = await metered(() =>
          measureCapacity({
            url,
            tokens: set,
            dir,
            connections: o.connections,
            threads: 2,
            seconds: o.capacitySeconds,
            keepAlive,
          }),
        );
        log(`capacity, ${target}: ${JSON.stringify({ ...result, cpu })}`);
        capacity.push({ target, result, cpu });
      }
    }
    const modeCapacity = capacity.at(-1)?.result.requestsPerSecond;
    // The open-loop generator's mode is nginx kept-alive: at most the goal of 1,000 requests/s, less when a fraction of
    // what this machine answers right now is less (an open-loop load above capacity only queues until it times out).
    const keptAliveCapacity = capacity.at(-2)?.result.requestsPerSecond;
    const openLoopRate =
      o.ratePerSecond > 0
        ? o.ratePerSecond
        : o.loadFraction > 0 && keptAliveCapacity !== undefined && keptAliveCapacity > 0
          ? Math.min(1000, Math.round(o.loadFraction * keptAliveCapacity))
          : 1000;
    const paceMs =
      o.ratePerSecond > 0
        ? Math.max(1, Math.round((o.connections * 1000) / o.ratePerSecond))
        : o.loadFraction > 0 && modeCapacity !== undefined && modeCapacity > 0
          ? Math.max(1, Math.round((o.connections * 1000) / (o.loadFraction * modeCapacity)))
          : o.paceMs;
    const load =
      o.load === 'open-loop'
        ? {
            mode: o.load,
            connections: o.connections,
            paceMs: 0,
            targetPerSecond: openLoopRate,
          }
        : { mode: o.load, connections: o.connections, paceMs, targetPerSecond: (o.connections * 1000) / paceMs };
    log(`load: ${JSON.stringify(load)}`);
    log(`${o.streamClients} stream clients`);
    streams = await StreamClients.open(
      `wss://127.0.0.1:${httpsPort}/api/stream`,
      tokens,
      o.streamClients,
      'prices.BTCUSDT',
      ca,
    );
    const url = `https://127.0.0.1:${httpsPort}/api/positions`;
    const startLoad = () =>
      load.mode === 'open-loop'
        ? startOpenLoopLoad({
            url,
            tokens,
            ratePerSecond: load.targetPerSecond,
            connections: o.connections,
            caFile: cert.cert,
          })
        : Promise.resolve(startWrk({ url, tokens, dir, connections: o.connections, threads: 2, paceMs }));
    // The open-loop generator runs once, from the warm-up to the end of the last phase, and each phase is a window
    // of it (`mark`): the load never pauses between phases, as in a deployment, and no phase begins with a generator
    // starting and opening its connections (a second of extra CPU and latency that a machine without headroom never
    // caught up with). wrk starts and stops with each phase.
    if (o.warmupSeconds > 0) {
      loadRun = await startLoad();
      await sleep(o.warmupSeconds * 1000);
      if (loadRun.mark === undefined) {
        const warm = await loadRun.stop();
        loadRun = undefined;
        log(`warm-up (not measured): ${JSON.stringify(warm)}`);
      }
    }
    const phaseCount = 4;
    const results: PhaseResult[] = [];
    const phase = async (
      name: PhaseResult['phase'],
      action: () => Promise<Pick<PhaseResult, 'switchMs' | 'drainMs' | 'standbyMs'>>,
    ) => {
      log(`${name}: load on`);
      const [result, cpu] = await metered(() => loaded(name, action));
      log(`${name}: load off`);
      const withCpu = { ...result, cpu };
      log(`${name}: ${JSON.stringify(withCpu)}`);
      results.push(withCpu);
    };
    const loaded = async (
      name: PhaseResult['phase'],
      action: () => Promise<Pick<PhaseResult, 'switchMs' | 'drainMs' | 'standbyMs'>>,
    ): Promise<Omit<PhaseResult, 'cpu'>> => {
      const before = streams?.report() as StreamReport;
      const logFrom = existsSync(accessLog) ? statSync(accessLog).size : 0;
      if (loadRun?.mark !== undefined && results.length === 0) {
        // The warm-up's window ends here, and the steady phase's begins.
        log(`warm-up (not measured): ${JSON.stringify(await loadRun.mark())}`);
      }
      if (loadRun === undefined) loadRun = await startLoad();
      log(`${name}: load generator sending`);
      await sleep(o.holdSeconds * 1000);
      const timing = await action();
      await streams?.settled();
      log(`${name}: stream clients settled`);
      await sleep(o.holdSeconds * 1000);
      // The next phase's window opens as this one ends: the last phase, or wrk, stops the generator.
      const last = results.length === phaseCount - 1 || loadRun.mark === undefined;
      const result = last ? await loadRun.stop() : await (loadRun.mark as () => Promise<LoadResult>)();
      if (last) loadRun = undefined;
      return {
        phase: name,
        load: result,
        streams: minus(streams?.report() as StreamReport, before),
        ...timing,
        proxyErrors: proxyErrors(accessLog, logFrom),
      };
    };

    await phase('steady', async () => ({ switchMs: 0, drainMs: 0, standbyMs: 0 }));
    await phase('rolling restart', async () => {
      const t0 = performance.now();
      // As the gateways' RollingUpdate with maxUnavailable 0 and a surge of the whole set: the replacements start
      // first (side by side), then each replaces one old gateway in the upstream (one reload each) while the others
      // serve, so as many gateways serve throughout. Then SIGTERM: new workers send the old one nothing more, and for
      // shutdownDelayMs it still answers what the old workers had already accepted. The next one is replaced once that
      // delay is over (the old one closes its streams then, and they move to the others).
      const replacements = readyReplacements ?? (await Promise.all(blue.map(() => startGateway(true))));
      const draining: Promise<void>[] = [];
      for (const [i, old] of [...blue].entries()) {
        if (i > 0) await sleep(o.shutdownDelayMs);
        blue = blue.map((g) => (g === old ? (replacements[i] as TraderRole) : g));
        await nginx?.setGateways(blue.map(address));
        log(`rolling restart: ${address(old)} replaced by ${address(replacements[i] as TraderRole)}, SIGTERM to it`);
        draining.push(stopAll([old]));
      }
      await Promise.all(draining);
      log('rolling restart: old gateways exited');
      return { switchMs: performance.now() - t0, drainMs: 0, standbyMs: 0 };
    });

    /** Switches the upstream from `from` to the ready set `to`, then drains `from`. */
    const swap = async (from: TraderRole[], to: TraderRole[], standbyMs: number) => {
      const t0 = performance.now();
      await nginx?.setGateways(to.map(address));
      const switchMs = performance.now() - t0;
      log(`upstream swapped to ${to.map(address).join(', ')}; SIGTERM to ${from.map(address).join(', ')}`);
      // The old set serves on for shutdownDelayMs: nginx's old workers may still forward requests they accepted
      // before the reload, and they have no other upstream to retry on.
      await stopAll(from);
      log('old set exited');
      return { switchMs, drainMs: performance.now() - t0 - switchMs, standbyMs };
    };
    // Blue-green deploys its new set (green) beside the serving one and switches once it is ready; the rollback
    // brings the previous version back the same way.
    await phase('blue-green', () => swap(blue, green, standbyMs));
    // Blue is the previous version: switched back to, and green drained.
    await phase('rollback', () => swap(green, previous, standbyMs));
    return { capacity, load, phases: results };
  } finally {
    o.signal?.removeEventListener('abort', onAbort);
    await loadRun?.kill();
    streams?.close();
    await nginx?.stop();
    // The gateways (side by side: each drains for shutdownDelayMs), then the engine, each by its PID.
    await Promise.all([...started].filter((p) => p !== engine).map((p) => p.stop()));
    await engine?.stop();
    await removeRunState({
      redisUrl: o.redisUrl,
      databaseUrl: o.databaseUrl,
      keyPrefixes: [busKey, cachePrefix],
      schema: id,
      dir,
    });
  }
}

/** The results as a Markdown table. */
export function formatTable(report: RehearsalReport): string {
  const steady = report.phases.find((r) => r.phase === 'steady');
  const capacity = report.capacity.map(
    ({ target, result: c, cpu }) =>
      `| ${target} | ${c.ok} | ${Math.round(c.requestsPerSecond)} | ${c.requests - c.ok + c.socketErrors} | ${c.p99Ms.toFixed(1)} | ${perRequest(cpu, c.requests)} | ${cpu.loadAverage.toFixed(1)} |`,
  );
  const rows = report.phases.map((r) =>
    [
      r.phase,
      r.load.answered,
      `${Math.round(r.load.requestsPerSecond)}${steady === undefined || r === steady ? '' : ` (${(r.load.requestsPerSecond / steady.load.requestsPerSecond).toFixed(2)}x)`}`,
      r.load.retried,
      r.load.failed === 0
        ? 0
        : `${r.load.failed} (unanswered ${r.load.sent - r.load.answered}: ${Object.entries(r.load.socketErrors)
            .filter(([, n]) => n > 0)
            .map(([kind, n]) => `${kind} ${n}`)
            .join(', ')}${
            r.load.errors === undefined || Object.keys(r.load.errors).length === 0
              ? ''
              : ` (${Object.entries(r.load.errors)
                  .map(([kind, n]) => `${kind} x${n}`)
                  .join(', ')})`
          }; ${Object.entries(r.load.statuses)
            .map(([code, n]) => `${code}: ${n}`)
            .join(', ')}; nginx: ${
            Object.entries(r.proxyErrors)
              .map(([k, n]) => `${k} x${n}`)
              .join(', ') || 'none'
          })`,
      r.load.p99Ms.toFixed(1),
      r.streams.clients,
      r.streams.reconnects,
      r.streams.resumed,
      r.streams.resnapshots,
      r.streams.lost,
      Math.round(r.standbyMs),
      Math.round(r.switchMs),
      Math.round(r.drainMs),
    ].join(' | '),
  );
  return [
    ...(capacity.length === 0
      ? []
      : [
          '| capacity (unpaced wrk, before the phases) | 2xx | req/s | not 2xx or socket errors | p99 ms | CPU ms per request: nginx / gateways / wrk | load average |',
          '|---|---|---|---|---|---|---|',
          ...capacity,
          '',
        ]),
    report.load.mode === 'open-loop'
      ? `Phases: open-loop GETs at ${Math.round(report.load.targetPerSecond)} requests/s on at most ${report.load.connections} kept-alive connections (Node https, retrying a GET once or twice only when a reused connection closed before any byte of its answer: "retried"); p99 from each request's scheduled time; ratios against the steady phase.`
      : `Phases: ${report.load.connections} wrk connections, a connection per request, ${report.load.paceMs} ms pause each, aiming at ${Math.round(report.load.targetPerSecond)} requests/s; ratios against the steady phase.`,
    '',
    '| phase | requests | req/s | retried | failed | p99 ms | stream clients | reconnects | resumed | resnapshots | lost | standby ready ms | switch ms | old set drained ms |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|---|---|',
    ...rows.map((r) => `| ${r} |`),
    '',
    'CPU of each part over the phase (seconds, from /proc), the cores it kept busy, and the load average at its end:',
    '',
    `| phase | wall s | ${CPU_PARTS.join(' | ')} | cores busy | CPU ms per request | of which load generator | load average |`,
    `|---|---|${CPU_PARTS.map(() => '---|').join('')}---|---|---|---|`,
    ...report.phases.map(({ phase, cpu, load }) => {
      const total = Object.values(cpu.cpuSeconds).reduce((a, b) => a + b, 0);
      const perAnswer = (seconds: number) => ((seconds * 1000) / Math.max(1, load.answered)).toFixed(3);
      // The open-loop generator's own figure leaves out its process start (tsx, TLS handshakes are in).
      const generator = load.generatorCpuMs === undefined ? (cpu.cpuSeconds.load ?? 0) : load.generatorCpuMs / 1000;
      return `| ${phase} | ${cpu.wallSeconds.toFixed(1)} | ${CPU_PARTS.map((p) => (cpu.cpuSeconds[p] ?? 0).toFixed(1)).join(' | ')} | ${(total / cpu.wallSeconds).toFixed(2)} | ${perAnswer(total)} | ${perAnswer(generator)} | ${cpu.loadAverage.toFixed(1)} |`;
    }),
  ].join('\n');
}

const CPU_PARTS = ['nginx', 'gateways', 'engine', 'load', 'rehearsal'] as const;
/** CPU ms per request of nginx, the gateways and the load generator (wrk) over a capacity run. */
function perRequest(cpu: CpuShare, requests: number): string {
  const ms = (part: string) => (((cpu.cpuSeconds[part] ?? 0) * 1000) / Math.max(1, requests)).toFixed(3);
  return `${ms('nginx')} / ${ms('gateways')} / ${ms('load')}`;
}

// `npm run rehearsal -w @cryptoscalp/deploy [-- --gateways 3 --clients 200 --hold 10 --rate 1000 --min-rate 1000]`
// (`--load wrk`: wrk with a connection per request instead of the open-loop generator; `--replacements-first`: the
// rolling restart's replacements start before the phases, as in the CI test; `--warmup 0`: no warm-up load):
// prints the table and the lowest rate a phase reached; exits 1 unless every phase had no failed request, no lost
// stream client, and at least --min-rate requests/s.
if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({
    options: {
      gateways: { type: 'string', default: '3' },
      load: { type: 'string', default: 'open-loop' },
      clients: { type: 'string', default: '100' },
      hold: { type: 'string', default: '10' },
      connections: { type: 'string', default: '64' },
      pace: { type: 'string', default: '20' },
      'shutdown-delay': { type: 'string', default: '5000' },
      capacity: { type: 'string', default: '5' },
      warmup: { type: 'string', default: '3' },
      'direct-warmup': { type: 'string', default: '3' },
      'replacements-first': { type: 'boolean', default: false },
      'load-percent': { type: 'string', default: '50' },
      rate: { type: 'string', default: '1000' },
      'min-rate': { type: 'string', default: '1000' },
    },
    strict: true,
  });
  const int = (name: Exclude<keyof typeof values, 'replacements-first'>) => {
    const n = Number(values[name]);
    if (
      !Number.isInteger(n) ||
      n <
        (['shutdown-delay', 'capacity', 'warmup', 'direct-warmup', 'load-percent', 'rate', 'min-rate'].includes(name)
          ? 0
          : 1)
    )
      throw new RangeError(`--${name} must be a positive integer, got ${values[name]}`);
    return n;
  };
  if (values.load !== 'open-loop' && values.load !== 'wrk')
    throw new RangeError(`--load must be open-loop or wrk, got ${values.load}`);
  const report = await rehearse({
    load: values.load,
    gateways: int('gateways'),
    streamClients: int('clients'),
    holdSeconds: int('hold'),
    connections: int('connections'),
    paceMs: int('pace'),
    shutdownDelayMs: int('shutdown-delay'),
    capacitySeconds: int('capacity'),
    warmupSeconds: int('warmup'),
    directWarmupSeconds: int('direct-warmup'),
    replacementsFirst: values['replacements-first'],
    loadFraction: int('load-percent') / 100,
    ratePerSecond: int('rate'),
    log: (line) => console.error(`rehearsal: ${line}`),
  });
  console.log(formatTable(report));
  const minRate = int('min-rate');
  const reached = Math.min(...report.phases.map((r) => r.load.requestsPerSecond));
  console.log(
    `\nLowest phase rate: ${Math.round(reached)} requests/s (required: ${minRate}); load average ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
  );
  // The rate is answered requests over the time to the last answer, so a phase paced at exactly the target reads a
  // hair under it (999.7 of 1,000): within 1 % counts as reaching it.
  const bad = report.phases.filter(
    (r) => r.load.failed > 0 || r.streams.lost > 0 || r.load.requestsPerSecond < minRate * 0.99,
  );
  process.exit(bad.length === 0 ? 0 : 1);
}
