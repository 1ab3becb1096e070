import { spawn, spawnSync } from 'node:child_process';
import diagnostics_channel from 'node:diagnostics_channel';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, systemProgramTestRuns, waitFor } from '@cryptoscalp/testkit';
import { Counter, Histogram, Summary } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { CACHE_BREAKER_CHANNEL, DB_QUERY_CHANNEL, Monitoring } from '../../src/index.js';

// Debian's `prometheus` package provides both binaries; .ci/run installs it. Outside CI a contributor without it
// skips these two tests; in CI a missing binary fails them.
const hasPromtool = systemProgramTestRuns('promtool');
const hasPrometheus = systemProgramTestRuns('prometheus');
const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** A Monitoring with every kind of metric this package produces, fed through the real channels. */
async function busyMonitoring(defaultMetrics: boolean): Promise<Monitoring> {
  const m = new Monitoring({
    defaultMetrics,
    tracing: false,
    alerting: {
      rules: [{ name: 'A', condition: { type: 'threshold', metric: 'cryptoscalp_alerts', op: '>', value: 1e9 } }],
    },
  });
  cleanups.push(() => m.close());
  m.watch({ name: 'cache', stats: () => ({ l1: { hits: 10, hitRate: 0.9, size: 3 }, l2: { connected: true } }) });
  m.watch({ name: 'postgres', stats: () => ({ pool: { total: 10, idle: 4 } }) });
  const db = diagnostics_channel.tracingChannel(DB_QUERY_CHANNEL);
  await db.tracePromise(async () => 1, {
    component: 'postgres',
    operation: 'query',
    statement: 'SELECT 1',
    role: 'read',
    host: '127.0.0.1:5432',
    rowCount: 1,
  });
  diagnostics_channel.channel(CACHE_BREAKER_CHANNEL).publish({ component: 'cache', state: 'open' });
  m.trading().recordTrade({
    strategy: 'scalp',
    symbol: 'BTCUSDT',
    side: 'buy',
    quantity: 1,
    price: 100,
    realizedPnl: 5,
  });
  m.models().observeInference('lstm', 0.001);
  const c = new Counter({
    name: 'app_weird_total',
    help: 'help with \\ and\nnewline',
    labelNames: ['v'],
    registers: [m.registry],
  });
  c.inc({ v: 'quote " backslash \\ newline \n end' });
  new Histogram({ name: 'app_plain_seconds', help: 'x', registers: [m.registry] }).observe(0.2);
  new Summary({ name: 'app_size_bytes', help: 'x', registers: [m.registry] }).observe(5);
  return m;
}

function promtool(text: string): { status: number | null; output: string } {
  const r = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

describe('exposition validity', () => {
  it.skipIf(!hasPromtool)(
    'passes `promtool check metrics` (no parse errors; no lint problems in our metric names)',
    async () => {
      const strict = await busyMonitoring(false);
      const text = await strict.metrics();
      const r = promtool(text);
      expect(r.output).toBe('');
      expect(r.status).toBe(0);
    },
  );

  it.skipIf(!hasPromtool)(
    'with prom-client default metrics, the only lint findings are prom-client’s own names',
    async () => {
      const m = await busyMonitoring(true);
      const r = promtool(await m.metrics());
      expect([0, 3]).toContain(r.status); // 1 would be a parse error
      for (const line of r.output.split('\n').filter(Boolean)) expect(line).toMatch(/^nodejs_/);
    },
  );

  it.skipIf(!hasPrometheus)('is scraped by a real Prometheus server', async () => {
    const m = await busyMonitoring(true);
    const server = createServer(async (req, res) => {
      if (req.url !== '/metrics') {
        res.statusCode = 404;
        res.end();
        return;
      }
      res.setHeader('content-type', m.contentType);
      res.end(await m.metrics());
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    cleanups.push(() => new Promise((r) => server.close(r)));
    const target = `127.0.0.1:${(server.address() as AddressInfo).port}`;
    const dir = mkdtempSync(join(tmpdir(), 'prom-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    writeFileSync(
      join(dir, 'prometheus.yml'),
      `global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n  - job_name: monitoring\n    static_configs:\n      - targets: ['${target}']\n`,
    );
    const port = await freePort();
    const prom = spawn(
      'prometheus',
      [
        `--config.file=${join(dir, 'prometheus.yml')}`,
        `--storage.tsdb.path=${join(dir, 'data')}`,
        `--web.listen-address=127.0.0.1:${port}`,
      ],
      { stdio: 'ignore' },
    );
    cleanups.push(
      () =>
        new Promise<void>((resolve) => {
          if (prom.exitCode !== null) return resolve();
          prom.once('exit', () => resolve());
          prom.kill('SIGKILL');
        }),
    );
    const api = `http://127.0.0.1:${port}/api/v1`;
    const query = async (q: string) => {
      const r = await fetch(`${api}/query?query=${encodeURIComponent(q)}`);
      const j = (await r.json()) as { data: { result: { metric: Record<string, string>; value: [number, string] }[] } };
      return j.data.result;
    };
    await waitFor(async () => (await query('up{job="monitoring"}'))[0]?.value[1] === '1', {
      timeoutMs: 45_000,
      what: 'Prometheus to scrape the endpoint',
    });
    const targets = (await (await fetch(`${api}/targets`)).json()) as {
      data: { activeTargets: { health: string; lastError: string }[] };
    };
    expect(targets.data.activeTargets[0]).toMatchObject({ health: 'up', lastError: '' });
    const rows = await query('db_client_operation_duration_seconds_count{component="postgres"}');
    expect(rows[0]?.metric).toMatchObject({ db_operation: 'query', role: 'read', host: '127.0.0.1:5432' });
    expect(rows[0]?.value[1]).toBe('1');
    expect((await query('cryptoscalp_stats_l1_hit_rate{component="cache"}'))[0]?.value[1]).toBe('0.9');
    expect((await query('cryptoscalp_breaker_state{state="open"}'))[0]?.value[1]).toBe('1');
  });
});
