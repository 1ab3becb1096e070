import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { freePort, selfSignedCert, serviceUrls, uniqueName, waitFor } from '@cryptoscalp/testkit';
import { Redis } from 'ioredis';
import { issueToken } from '../../apps/trader/src/http/tokens.js';
import type { NginxSettings } from '../nginx/render-config.js';
import { StreamClients, type StreamReport, startWrk, type WrkResult, type WrkRun } from './load.js';
import { NginxServer } from './nginx-server.js';
import { dropTraderSchema, startTraderRole, type TraderRole } from './trader-process.js';

/** Options of {@link rehearse}. */
export interface RehearsalOptions {
  /** Gateways per set (blue, green). @default 2 */
  gateways?: number;
  /** Open live-stream clients through nginx. @default 100 */
  streamClients?: number;
  /** Seconds of steady load before and after each action. @default 3 */
  holdSeconds?: number;
  /** wrk connections; with `paceMs` they set the request rate (about connections x 1000 / paceMs). @default 64 */
  connections?: number;
  /** Pause of each wrk connection between requests, ms. @default 20 */
  paceMs?: number;
  /** @default REDIS_URL or the local Redis */
  redisUrl?: string;
  /** @default DATABASE_URL or the local PostgreSQL */
  databaseUrl?: string;
  /** Progress lines. @default none */
  log?: (line: string) => void;
}

/** One phase under load: what wrk and the stream clients saw, and how long the switch took. */
export interface PhaseResult {
  /** `steady`: the same load with nothing changed, the baseline measured in the same run. */
  phase: 'steady' | 'rolling restart' | 'blue-green' | 'rollback';
  load: WrkResult;
  streams: StreamReport;
  /** Rolling restart: all gateways drained, replaced and back; blue-green and rollback: upstream swap until nginx's new workers serve it. */
  switchMs: number;
  /** Until the old set had drained and exited (blue-green, rollback). */
  drainMs: number;
  /** Until the standby set was up and ready, before the switch (blue-green, rollback). */
  standbyMs: number;
}

const phaseKeys = ['reconnects', 'resumed', 'resnapshots', 'lost', 'messages'] as const;
const minus = (a: StreamReport, b: StreamReport): StreamReport => ({
  ...a,
  ...Object.fromEntries(phaseKeys.map((k) => [k, a[k] - b[k]])),
});
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * The zero-downtime rehearsal: a real nginx (TLS) in front of gateway processes and one engine on Redis and
 * PostgreSQL, under steady wrk load and open stream clients, through a rolling restart of every gateway, a
 * blue-green switch and a rollback. Every process it starts is stopped by its PID before it returns or throws.
 */
export async function rehearse(options: RehearsalOptions = {}): Promise<PhaseResult[]> {
  const o = {
    gateways: 2,
    streamClients: 100,
    holdSeconds: 3,
    connections: 64,
    paceMs: 20,
    redisUrl: serviceUrls.redis,
    databaseUrl: serviceUrls.postgres,
    log: () => {},
    ...options,
  };
  if (!Number.isInteger(o.gateways) || o.gateways < 2) throw new RangeError('gateways: at least 2');
  const dir = mkdtempSync(join(tmpdir(), 'rehearsal-'));
  const id = uniqueName('rehearsal');
  const busKey = `rehearsal:${id}`;
  const cachePrefix = `rehearsal.${id}`;
  const secret = `rehearsal-${id}-secret-0123456789abcdef`;
  const started = new Set<TraderRole>();
  let nginx: NginxServer | undefined;
  let wrk: WrkRun | undefined;
  let streams: StreamClients | undefined;
  const env = (instance: string): Record<string, string> => ({
    REDIS_URL: o.redisUrl,
    DATABASE_URL: o.databaseUrl,
    TRADER_DATABASE_SCHEMA: id,
    TRADER_BUS_KEY: busKey,
    TRADER_CACHE_PREFIX: cachePrefix,
    TRADER_BUS_SNAPSHOT_INTERVAL_MS: '1000',
    TRADER_JWT_SECRET: secret,
    TRADER_INSTANCE_ID: instance,
    TRADER_DATA_DIR: join(dir, instance),
    TRADER_HTTP_SHUTDOWN_DELAY_MS: '500',
    // Behind nginx every client has nginx's address: nginx limits per client, the gateways per token.
    TRADER_HTTP_RATE_LIMIT_PER_IP: '0',
  });
  let gatewayCount = 0;
  const startGateway = async () => {
    const g = await startTraderRole('gateway', await freePort(), env(`gw-${++gatewayCount}`), started);
    // What a Kubernetes readiness gate waits for: the gateway serves from the stream.
    await waitFor(async () => (await fetch(`${g.url}/health/readiness`)).status === 200, {
      timeoutMs: 60_000,
      intervalMs: 100,
      what: `gateway ${g.url} ready`,
    });
    return g;
  };
  const address = (g: TraderRole) => g.url.replace('http://', '');
  const stopAll = async (set: readonly TraderRole[]) => {
    const codes = await Promise.all(set.map((g) => g.stop()));
    for (const [i, code] of codes.entries())
      if (code !== 0) throw new Error(`gateway ${set[i]?.url} exited with ${code}:\n${set[i]?.output()}`);
    for (const g of set) started.delete(g);
  };

  try {
    o.log(`engine and ${o.gateways} gateways (bus ${busKey}, schema ${id})`);
    await startTraderRole('engine', await freePort(), env('engine'), started);
    let blue = await Promise.all(Array.from({ length: o.gateways }, startGateway));
    const cert = await selfSignedCert(dir);
    const ca = readFileSync(cert.cert, 'utf8');
    const httpsPort = await freePort();
    const settings: NginxSettings = {
      workerProcesses: '1',
      pidFile: join(dir, 'nginx.pid'),
      errorLog: 'stderr error',
      accessLog: 'off',
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
    const tokens = await Promise.all(
      Array.from({ length: 64 }, (_, i) => issueToken({ sub: `load-${i}`, role: 'viewer', secret, ttl: '1h' })),
    );
    o.log(`${o.streamClients} stream clients`);
    streams = await StreamClients.open(
      `wss://127.0.0.1:${httpsPort}/api/stream`,
      tokens,
      o.streamClients,
      'prices.BTCUSDT',
      ca,
    );
    const results: PhaseResult[] = [];
    const phase = async (
      name: PhaseResult['phase'],
      action: () => Promise<Omit<PhaseResult, 'phase' | 'load' | 'streams'>>,
    ) => {
      o.log(`${name}: load on`);
      const before = streams?.report() as StreamReport;
      wrk = startWrk({
        url: `https://127.0.0.1:${httpsPort}/api/positions`,
        tokens,
        dir,
        connections: o.connections,
        threads: 2,
        paceMs: o.paceMs,
      });
      await sleep(o.holdSeconds * 1000);
      const timing = await action();
      await streams?.settled();
      await sleep(o.holdSeconds * 1000);
      const load = await wrk.stop();
      wrk = undefined;
      const result = { phase: name, load, streams: minus(streams?.report() as StreamReport, before), ...timing };
      o.log(`${name}: ${JSON.stringify(result)}`);
      results.push(result);
    };

    await phase('steady', async () => ({ switchMs: 0, drainMs: 0, standbyMs: 0 }));
    await phase('rolling restart', async () => {
      const t0 = performance.now();
      for (let i = 0; i < blue.length; i++) {
        const old = blue[i] as TraderRole;
        // Out of the upstream first (reload), then SIGTERM: nginx sends it nothing more while it drains.
        await nginx?.setGateways(blue.filter((g) => g !== old).map(address));
        await stopAll([old]);
        const replacement = await startGateway();
        blue = blue.map((g) => (g === old ? replacement : g));
        await nginx?.setGateways(blue.map(address));
      }
      return { switchMs: performance.now() - t0, drainMs: 0, standbyMs: 0 };
    });

    const swap = async (from: TraderRole[], to: () => Promise<TraderRole[]>) => {
      const s0 = performance.now();
      const next = await to();
      const t0 = performance.now();
      await nginx?.setGateways(next.map(address));
      const switchMs = performance.now() - t0;
      await stopAll(from);
      return { next, timing: { switchMs, drainMs: performance.now() - t0 - switchMs, standbyMs: t0 - s0 } };
    };
    let green: TraderRole[] = [];
    await phase('blue-green', async () => {
      const { next, timing } = await swap(blue, () => Promise.all(Array.from({ length: o.gateways }, startGateway)));
      green = next;
      return timing;
    });
    await phase('rollback', async () => {
      // Blue is the previous version: brought back, switched to, and green drained.
      const { next, timing } = await swap(green, () => Promise.all(Array.from({ length: o.gateways }, startGateway)));
      blue = next;
      return timing;
    });
    return results;
  } finally {
    await wrk?.kill();
    streams?.close();
    await nginx?.stop();
    // Gateways before the engine, each by its PID.
    for (const p of [...started].reverse()) await p.stop();
    const redis = new Redis(o.redisUrl);
    try {
      for (const pattern of [`${busKey}*`, `${cachePrefix}*`]) {
        const keys = await redis.keys(pattern);
        if (keys.length > 0) await redis.del(...keys);
      }
    } finally {
      redis.disconnect();
    }
    await dropTraderSchema(o.databaseUrl, id);
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The results as a Markdown table. */
export function formatTable(results: readonly PhaseResult[]): string {
  const rows = results.map((r) =>
    [
      r.phase,
      r.load.answered,
      Math.round(r.load.requestsPerSecond),
      r.load.failed === 0
        ? 0
        : `${r.load.failed} (unanswered ${r.load.sent - r.load.answered}, ${Object.entries(r.load.statuses)
            .map(([code, n]) => `${code}: ${n}`)
            .join(', ')})`,
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
    '| phase | requests | req/s | failed | p99 ms | stream clients | reconnects | resumed | resnapshots | lost | standby ready ms | switch ms | old set drained ms |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|---|',
    ...rows.map((r) => `| ${r} |`),
  ].join('\n');
}

// `npm run rehearsal -w @cryptoscalp/deploy [-- --gateways 3 --clients 200 --hold 10]`: exits 1 unless every phase
// had no failed request, no lost stream client, and at least 1,000 requests/s.
if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({
    options: {
      gateways: { type: 'string', default: '3' },
      clients: { type: 'string', default: '100' },
      hold: { type: 'string', default: '10' },
      connections: { type: 'string', default: '64' },
      pace: { type: 'string', default: '20' },
    },
    strict: true,
  });
  const int = (name: keyof typeof values) => {
    const n = Number(values[name]);
    if (!Number.isInteger(n) || n < 1)
      throw new RangeError(`--${name} must be a positive integer, got ${values[name]}`);
    return n;
  };
  const results = await rehearse({
    gateways: int('gateways'),
    streamClients: int('clients'),
    holdSeconds: int('hold'),
    connections: int('connections'),
    paceMs: int('pace'),
    log: (line) => console.error(`rehearsal: ${line}`),
  });
  console.log(formatTable(results));
  const bad = results.filter((r) => r.load.failed > 0 || r.streams.lost > 0 || r.load.requestsPerSecond < 1000);
  process.exit(bad.length === 0 ? 0 : 1);
}
