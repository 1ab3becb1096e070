import { execFile } from 'node:child_process';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { percentiles } from '@cryptoscalp/testkit';
import { decodeJwt } from 'jose';
import { afterAll, describe, expect, it } from 'vitest';
import { createTrader, type Trader } from '../../src/app/trader.js';
import { loadConfig } from '../../src/config/load-config.js';
import { tempDirs } from '../temp-dir.js';

/**
 * The whole trader (role all, embedded defaults) with no JWT secret (development) and a scrape token: probe findings 3
 * (a `/metrics` flood slowed the trading loop) and 5 (a 12-hour admin token on stdout).
 */
const METRICS_TOKEN = 'scrape-4f9c2e71b8d05a36c1e7f2094ab8d6e3';
const tempDir = tempDirs('security-trader-');
const autocannon = fileURLToPath(new URL('../../../../node_modules/.bin/autocannon', import.meta.url));
const run = promisify(execFile);
let trader: Trader | undefined;

afterAll(async () => {
  await trader?.stop('test end');
}, 60_000);

interface AutocannonResult {
  requests: { total: number };
  non2xx: number;
}

/** Liveness latency percentiles (ms), event-loop delay p99 (ms), and what the flood sent. */
interface Figures {
  p50: number;
  p99: number;
  loopP99: number;
  probes: number;
  requests: number;
  non2xx: number;
}

/**
 * Liveness latencies (ms) of sequential requests until `until` settles (or `count` requests when it is absent). The
 * status is not checked: liveness may answer 503 when the event-loop delay check of `@cryptoscalp/health` trips.
 */
async function liveness(url: string, until: Promise<unknown> | undefined, count = 200): Promise<number[]> {
  let done = false;
  void until?.finally(() => {
    done = true;
  });
  const out: number[] = [];
  while (until === undefined ? out.length < count : !done) {
    const t0 = performance.now();
    const r = await fetch(url);
    await r.arrayBuffer();
    out.push(performance.now() - t0);
  }
  return out;
}

describe('the trader without a JWT secret, with a scrape token', () => {
  it('prints a 15-minute token in the link fragment; /metrics floods do not stall liveness', async () => {
    const config = loadConfig({
      env: {},
      overrides: {
        dataDir: tempDir(),
        http: { port: 0, shutdownDelayMs: 0 },
        journal: { fsync: 'never' },
        database: { embedded: 'memory' },
      },
    });
    trader = createTrader({ config, metricsToken: METRICS_TOKEN, log: () => {} });
    const ep = await trader.start();

    // Finding 5: the link holds the token in its fragment (never sent to a server or logged), valid 15 minutes.
    expect(ep.dashboard).toBe(`${ep.http}/#token=${ep.localAdminToken}`);
    const claims = decodeJwt(ep.localAdminToken as string);
    expect((claims.exp as number) - (claims.iat as number)).toBe(900);

    // Finding 3: the scrape token reads /metrics and nothing else.
    const scrape = { authorization: `Bearer ${METRICS_TOKEN}` };
    const metrics = await fetch(ep.metrics, { headers: scrape });
    expect(metrics.status).toBe(200);
    // The audit log's dead-letter count is a metric (finding 1).
    expect(await metrics.text()).toMatch(/^cryptoscalp_stats_http_audit_dead_lettered\{[^}]*\} 0$/m);
    expect((await fetch(`${ep.http}/api/me`, { headers: scrape })).status).toBe(401);
    expect((await fetch(`${ep.http}/health/status`, { headers: scrape })).status).toBe(401);

    // 50 connections (autocannon, in its own process) on /metrics, then on liveness itself (the cheapest route: the
    // baseline, same run), while liveness is probed in sequence and this process's event-loop delay is recorded.
    const live = `${ep.http}/health/liveness`;
    const measure = async (flood: string | undefined): Promise<Figures> => {
      const loop = monitorEventLoopDelay({ resolution: 5 });
      loop.enable();
      const load =
        flood === undefined
          ? undefined
          : run(autocannon, ['-c', '50', '-d', '2', '-j', '-H', `authorization=Bearer ${METRICS_TOKEN}`, flood], {
              maxBuffer: 16 * 1024 * 1024,
            });
      const latencies = await liveness(live, load);
      loop.disable();
      const result = load === undefined ? undefined : (JSON.parse((await load).stdout) as AutocannonResult);
      const { p50 = Number.NaN, p99 = Number.NaN } = percentiles(latencies, [50, 99]);
      return {
        p50,
        p99,
        loopP99: loop.percentile(99) / 1e6,
        probes: latencies.length,
        requests: result?.requests.total ?? 0,
        non2xx: result?.non2xx ?? 0,
      };
    };
    const idle = await measure(undefined);
    // /metrics first: 2 s stay under the per-IP limit (1,000 per 10 s) here; probes are never rate limited.
    const scrapes = await measure(ep.metrics);
    const cheap = await measure(live);
    expect(scrapes.requests).toBeGreaterThan(0);
    // Reported, not asserted: a timed bound would be flaky on a shared machine.
    const line = (name: string, f: Figures) =>
      `${name}: liveness p50 ${f.p50.toFixed(1)} ms p99 ${f.p99.toFixed(1)} ms, event-loop delay p99 ${f.loopP99.toFixed(1)} ms (${f.probes} probes; ${f.requests} flood requests, ${f.non2xx} not 2xx)`;
    console.log(
      [
        line('idle', idle),
        line('50-connection liveness flood', cheap),
        line('50-connection /metrics flood', scrapes),
        `/metrics flood vs liveness flood: liveness p99 x${(scrapes.p99 / cheap.p99).toFixed(2)}, loop delay p99 x${(scrapes.loopP99 / cheap.loopP99).toFixed(2)}`,
      ].join('\n'),
    );
  }, 180_000);
});
