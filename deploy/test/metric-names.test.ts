// The observability kit against a real trader: every metric a recording rule, alert rule or dashboard reads is one
// the trader exports (scraped from its /metrics after it traded), and a real Prometheus running the committed config
// and rules against that trader evaluates every rule without error, fills every SLI, and has no alert pending or
// firing during an ordinary run.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { exited, freePort, serviceUrls, spawnServer, uniqueName, waitFor } from '@cryptoscalp/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import {
  dashboardExpressions,
  exportedNames,
  isExported,
  metricNames,
  PROMETHEUS_SERIES,
  RULES_DIR,
  recordedNames,
  ruleExpressions,
} from '../observability/expressions.js';
import { buildDashboards } from '../observability/grafana/dashboards.js';
import { dropTraderSchema, startTraderRole, type TraderRole, traderMain } from '../rehearsal/trader-process.js';

const run = promisify(execFile);
const promConfig = fileURLToPath(new URL('../observability/prometheus/prometheus.yml', import.meta.url));
const issueToken = traderMain.replace(/main\.js$/, 'issue-token.js');

const tmp = mkdtempSync(join(tmpdir(), 'metric-names-'));
// The local PostgreSQL, in a schema of its own (dropped at the end).
const schema = uniqueName('metric_names');
const traders = new Set<TraderRole>();
let prometheus: ReturnType<typeof spawnServer> | undefined;
let trader: TraderRole;
let token: string;
let exposition = '';

afterAll(async () => {
  for (const t of traders) await t.stop(10_000);
  if (prometheus !== undefined) {
    prometheus.child.kill('SIGTERM');
    await exited(prometheus.child, 15_000).catch(() => prometheus?.child.kill('SIGKILL'));
  }
  await dropTraderSchema(serviceUrls.postgres, schema);
  rmSync(tmp, { recursive: true, force: true });
}, 60_000);

async function metrics(): Promise<string> {
  const res = await fetch(`${trader.url}/metrics`, { headers: { authorization: `Bearer ${token}` } });
  if (!res.ok) throw new Error(`/metrics answered ${res.status}`);
  return await res.text();
}

function gauge(text: string, name: string): number {
  const m = new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(text);
  return m === null ? Number.NaN : Number(m[1]);
}

beforeAll(async () => {
  const secret = randomBytes(32).toString('hex');
  trader = await startTraderRole(
    'all',
    await freePort(),
    {
      TRADER_ENV: 'test',
      TRADER_JWT_SECRET: secret,
      TRADER_HTTP_SHUTDOWN_DELAY_MS: '0',
      DATABASE_URL: serviceUrls.postgres,
      TRADER_DATABASE_SCHEMA: schema,
    },
    traders,
    ['--data-dir', join(tmp, 'data')],
  );
  // A viewer token, issued the way an operator does for Prometheus's token file.
  token = (
    await run(process.execPath, [issueToken, '--sub', 'prometheus', '--role', 'viewer', '--ttl', '1h'], {
      env: { PATH: process.env.PATH ?? '', TRADER_JWT_SECRET: secret },
    })
  ).stdout.trim();
  // Let it trade: ~10 s and some fills, so the trading, model and latency series all have samples.
  const started = Date.now();
  await waitFor(
    async () => {
      exposition = await metrics();
      return Date.now() - started >= 10_000 && gauge(exposition, 'cryptoscalp_stats_counters_fills') > 0;
    },
    { timeoutMs: 60_000, intervalMs: 500, what: 'the trader trading for 10 s with fills' },
  );
}, 180_000);

describe('metric names', () => {
  it('every rule and dashboard expression names only metrics the trader exports (or a recording rule defines)', () => {
    const exported = exportedNames(exposition);
    const recorded = recordedNames();
    const expressions = [...ruleExpressions(), ...dashboardExpressions(buildDashboards())];
    expect(expressions.length).toBeGreaterThan(80);
    const missing: string[] = [];
    let checked = 0;
    for (const { source, expr } of expressions) {
      const names = metricNames(expr);
      expect(names.length, `${source}: no metric found in ${expr}`).toBeGreaterThan(0);
      for (const name of names) {
        checked++;
        if (!isExported(name, exported) && !recorded.has(name) && !PROMETHEUS_SERIES.has(name))
          missing.push(`${source}: ${name}`);
      }
    }
    expect(missing, 'metrics the trader does not export').toEqual([]);
    expect(checked).toBeGreaterThan(100);
  });

  it('the check catches a name the trader does not export', () => {
    const exported = exportedNames(exposition);
    const names = metricNames(
      'sum by (le) (rate(cryptoscalp_trader_stage_latency_seconds_bucket{stage="x"}[5m])) / cryptoscalp_no_such_metric',
    );
    expect(names).toEqual(['cryptoscalp_trader_stage_latency_seconds_bucket', 'cryptoscalp_no_such_metric']);
    expect(names.filter((n) => !isExported(n, exported))).toEqual(['cryptoscalp_no_such_metric']);
  });
});

describe('a real Prometheus with the committed config and rules, scraping the trader', () => {
  let api: string;
  const query = async (q: string): Promise<{ metric: Record<string, string>; value: [number, string] }[]> => {
    const res = (await (await fetch(`${api}/query?query=${encodeURIComponent(q)}`)).json()) as {
      status: string;
      error?: string;
      data: { result: { metric: Record<string, string>; value: [number, string] }[] };
    };
    if (res.status !== 'success') throw new Error(`${q}: ${res.error}`);
    return res.data.result;
  };

  beforeAll(async () => {
    // The committed config, pointed at this trader: its token file, the committed rule files, short intervals, no
    // Alertmanager, and only the gateway job (the trader runs `--role all`, which serves the gateway's /metrics).
    // The scrape interval stays above the trader's metricsMaxAgeMs (1 s): two scrapes within one rendering would
    // see the same counts, which is what a stale feed looks like.
    const config = parse(readFileSync(promConfig, 'utf8')) as {
      global: Record<string, unknown>;
      rule_files: string[];
      alerting?: unknown;
      scrape_configs: {
        job_name: string;
        authorization?: { credentials_file: string };
        static_configs: { targets: string[] }[];
      }[];
    };
    const tokenFile = join(tmp, 'metrics-token');
    writeFileSync(tokenFile, `${token}\n`, { mode: 0o600 });
    const port = await freePort();
    const gateway = config.scrape_configs.find((j) => j.job_name === 'cryptoscalp-gateway');
    if (gateway?.authorization === undefined)
      throw new Error('prometheus.yml: no cryptoscalp-gateway job with a token');
    gateway.authorization.credentials_file = tokenFile;
    gateway.static_configs = [{ targets: [new URL(trader.url).host] }];
    config.scrape_configs = [gateway];
    config.global = { ...config.global, scrape_interval: '2s', scrape_timeout: '2s', evaluation_interval: '1s' };
    config.rule_files = config.rule_files.map((f) => join(RULES_DIR, f.replace(/^rules\//, '')));
    delete config.alerting;
    const file = join(tmp, 'prometheus.yml');
    writeFileSync(file, stringify(config));
    prometheus = spawnServer('prometheus', [
      `--config.file=${file}`,
      `--storage.tsdb.path=${join(tmp, 'tsdb')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--log.level=warn',
    ]);
    api = `http://127.0.0.1:${port}/api/v1`;
    const server = prometheus;
    await waitFor(async () => (await fetch(`http://127.0.0.1:${port}/-/ready`)).ok, {
      timeoutMs: 30_000,
      what: `prometheus ready\n${server.output()}`,
    });
    // About 16 s of scrapes of a healthy target, and the rule groups evaluated on them.
    await waitFor(
      async () => {
        const up = await query('count_over_time(up{job="cryptoscalp-gateway"}[1m]) and min_over_time(up[1m]) == 1');
        return Number(up[0]?.value[1] ?? 0) >= 8;
      },
      { timeoutMs: 60_000, intervalMs: 500, what: `8 successful scrapes\n${server.output()}` },
    );
    await waitFor(async () => (await query('instance:cryptoscalp_feed_stale:ratio_avg5m')).length > 0, {
      timeoutMs: 15_000,
      what: 'the SLI rules evaluated',
    });
  }, 120_000);

  it('scrapes the trader with the bearer token from the token file', async () => {
    const up = await query('up{job="cryptoscalp-gateway"}');
    expect(up).toHaveLength(1);
    expect(up[0]?.value[1]).toBe('1');
    expect((await query('cryptoscalp_stats_counters_fills{component="trader"} > 0')).length).toBe(1);
  });

  it('evaluates every rule without error, and every SLI series exists with the healthy value', async () => {
    const res = (await (await fetch(`${api}/rules`)).json()) as {
      data: { groups: { name: string; rules: { name: string; health: string; lastError?: string }[] }[] };
    };
    const rules = res.data.groups.flatMap((g) => g.rules);
    expect(rules.length).toBe(ruleExpressions().length);
    expect(rules.filter((r) => r.health !== 'ok').map((r) => `${r.name}: ${r.health} ${r.lastError ?? ''}`)).toEqual(
      [],
    );
    // Every recording rule produced a series: its label matchers (stage, le, component) match what the trader sends.
    const empty: string[] = [];
    for (const name of recordedNames()) if ((await query(name)).length === 0) empty.push(name);
    expect(empty).toEqual([]);
    // Healthy values: the feed is fresh, PostgreSQL keeps up, no API error.
    for (const q of [
      'instance:cryptoscalp_feed_stale:bool',
      'instance:cryptoscalp_persistence_lagging:bool',
      'job:cryptoscalp_api_errors:ratio_rate5m',
    ])
      expect(
        (await query(q)).map((r) => r.value[1]),
        q,
      ).toEqual(['0']);
  });

  it('every dashboard query is valid PromQL for this Prometheus', async () => {
    const failed: string[] = [];
    for (const { source, expr } of dashboardExpressions(buildDashboards())) {
      const q = expr.replaceAll('$__rate_interval', '1m').replaceAll('$instance', '.*');
      await query(q).catch((e: Error) => failed.push(`${source}: ${e.message}`));
    }
    expect(failed).toEqual([]);
  });

  it('no alert is pending or firing during an ordinary run', async () => {
    const res = (await (await fetch(`${api}/alerts`)).json()) as {
      data: { alerts: { labels: Record<string, string>; state: string }[] };
    };
    expect(res.data.alerts.map((a) => `${a.labels.alertname} ${a.state}`)).toEqual([]);
  });
});
