// Observability as code (deploy/observability/): Prometheus config and rules through promtool (check and unit tests),
// alert metadata and runbook anchors, Alertmanager through amtool (config and routes) and a real Alertmanager
// (inhibition), the Grafana dashboards regenerated and compared with the committed JSON, provisioning, Loki and
// Promtail configuration by structure (no Loki binaries in Debian).
import { type ChildProcess, execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { exited, freePort, spawnServer, waitFor } from '@cryptoscalp/testkit';
import { afterAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { createLogWriter } from '../../apps/trader/src/internal/log.js';
import { loadRules, metricNames, panelQueries, RULES_DIR } from '../observability/expressions.js';
import { buildDashboards, DASHBOARDS_DIR, DATASOURCES } from '../observability/grafana/dashboards.js';

const run = promisify(execFile);
const obs = fileURLToPath(new URL('../observability/', import.meta.url));
const promDir = join(obs, 'prometheus');
const amConfig = join(obs, 'alertmanager/alertmanager.yml');
const runbook = fileURLToPath(new URL('../../docs/operations/runbook.md', import.meta.url));
const RUNBOOK_URL = 'https://github.com/cryptoscalp/cryptoscalp-suite/blob/main/docs/operations/runbook.md';

const tmp = mkdtempSync(join(tmpdir(), 'obs-test-'));
const children = new Set<ChildProcess>();
afterAll(async () => {
  for (const c of children) {
    if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    await exited(c).catch(() => {});
  }
  rmSync(tmp, { recursive: true, force: true });
});

/** Runs a tool and returns its standard output (then its standard error); a non-zero exit fails with both. */
async function tool(cmd: string, args: string[]): Promise<string> {
  try {
    const { stdout, stderr } = await run(cmd, args, { cwd: promDir });
    return `${stdout}\n${stderr}`;
  } catch (e) {
    const { stdout = '', stderr = '' } = e as { stdout?: string; stderr?: string };
    throw new Error(`${cmd} ${args.join(' ')} failed:\n${stdout}${stderr}`);
  }
}

/** GitHub's anchor of a Markdown heading. */
function anchor(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\w\- ]/g, '')
    .replace(/ /g, '-');
}

const alerts = loadRules().filter(({ rule }) => rule.alert !== undefined);
const alertNames = [...new Set(alerts.map(({ rule }) => rule.alert as string))];

describe('Prometheus', () => {
  it('the config is valid as committed, and fully checked with its token file and rule files present', async () => {
    expect(await tool('promtool', ['check', 'config', '--syntax-only', 'prometheus.yml'])).toMatch(/SUCCESS/);
    // The full check also reads the rule files and the token file: point the secret at a real file.
    const token = join(tmp, 'metrics-token');
    writeFileSync(token, 'token\n');
    const text = readFileSync(join(promDir, 'prometheus.yml'), 'utf8')
      .replaceAll('/etc/prometheus/secrets/metrics-token', token)
      .replaceAll('- rules/', `- ${RULES_DIR}`);
    const copy = join(tmp, 'prometheus.yml');
    writeFileSync(copy, text);
    const out = await tool('promtool', ['check', 'config', copy]);
    expect(out).toMatch(/SUCCESS: 2 rule files found/);
    expect(out).not.toMatch(/FAILED/);
  });

  it('promtool check rules accepts every rule file', async () => {
    const files = readdirSync(RULES_DIR).filter((f) => f.endsWith('.yml'));
    expect(files.sort()).toEqual(['alerts.yml', 'recording.yml']);
    const out = await tool('promtool', ['check', 'rules', ...files.map((f) => join(RULES_DIR, f))]);
    expect(out.match(/SUCCESS/g)).toHaveLength(2);
  });

  it('promtool test rules: every alert fires on its series and stays quiet on healthy ones', async () => {
    const tests = readdirSync(join(promDir, 'tests')).filter((f) => f.endsWith('.yml'));
    const out = await tool('promtool', ['test', 'rules', ...tests.map((f) => join('tests', f))]);
    expect(out.match(/SUCCESS/g)).toHaveLength(tests.length);
    // Coverage: each alert is expected to fire somewhere, and expected silent somewhere (an empty exp_alerts).
    const fired = new Set<string>();
    const silent = new Set<string>();
    for (const f of tests) {
      const doc = parse(readFileSync(join(promDir, 'tests', f), 'utf8')) as {
        tests: { alert_rule_test?: { alertname: string; exp_alerts?: unknown[] }[] }[];
      };
      for (const t of doc.tests)
        for (const a of t.alert_rule_test ?? []) ((a.exp_alerts?.length ?? 0) > 0 ? fired : silent).add(a.alertname);
    }
    expect([...fired].sort()).toEqual([...alertNames].sort());
    expect([...silent].sort()).toEqual([...alertNames].sort());
  });

  it('every alert has a severity, summary, description and a runbook_url to its section of the runbook', () => {
    const headings = new Set(
      readFileSync(runbook, 'utf8')
        .split('\n')
        .filter((l) => /^#{2,3} /.test(l))
        .map((l) => anchor(l.replace(/^#+ /, ''))),
    );
    expect(alerts.length).toBeGreaterThanOrEqual(17);
    for (const { rule } of alerts) {
      const where = `alert ${rule.alert}`;
      expect(['critical', 'warning', 'info'], where).toContain(rule.labels?.severity);
      expect(rule.annotations?.summary, where).toBeTruthy();
      expect(rule.annotations?.description, where).toBeTruthy();
      expect(rule.annotations?.runbook_url, where).toBe(`${RUNBOOK_URL}#${(rule.alert as string).toLowerCase()}`);
      expect(headings.has((rule.alert as string).toLowerCase()), `${where}: runbook section`).toBe(true);
    }
  });

  it('SLO alerts come in pairs: 1h/5m at 14.4x (critical) and 6h/30m at 6x (warning)', () => {
    const slo = alerts.filter(({ rule }) => rule.labels?.slo !== undefined);
    expect(new Set(slo.map(({ rule }) => rule.labels?.slo))).toEqual(
      new Set(['api-availability', 'decision-latency', 'persistence-lag', 'feed-freshness']),
    );
    for (const { rule } of slo) {
      const names = metricNames(rule.expr);
      if (rule.labels?.severity === 'critical') {
        expect(rule.labels.window).toBe('1h/5m');
        expect(names.map((n) => n.replace(/.*_(rate|avg)/, ''))).toEqual(['5m', '1h']);
        expect(rule.expr.match(/14\.4 \*/g)).toHaveLength(2);
      } else {
        expect(rule.labels?.severity).toBe('warning');
        expect(rule.labels?.window).toBe('6h/30m');
        expect(names.map((n) => n.replace(/.*_(rate|avg)/, ''))).toEqual(['30m', '6h']);
        expect(rule.expr.match(/\b6 \*/g)).toHaveLength(2);
      }
    }
  });
});

describe('Alertmanager', () => {
  it('amtool check-config accepts it, and secrets only come from files', async () => {
    const out = await tool('amtool', ['check-config', amConfig]);
    expect(out).toMatch(/SUCCESS/);
    const config = parse(readFileSync(amConfig, 'utf8')) as {
      global: Record<string, unknown>;
      receivers: Record<string, unknown>[];
    };
    // No inline secret: the password and the Slack URL are files; receivers carry no api_url of their own.
    expect(config.global).not.toHaveProperty('smtp_auth_password');
    expect(config.global).not.toHaveProperty('slack_api_url');
    expect(config.global).toHaveProperty('smtp_auth_password_file');
    expect(config.global).toHaveProperty('slack_api_url_file');
    expect(JSON.stringify(config.receivers)).not.toMatch(/"api_url"|"auth_password"|"credentials"/);
    const kinds = new Set(config.receivers.flatMap((r) => Object.keys(r).filter((k) => k.endsWith('_configs'))));
    expect(kinds).toEqual(new Set(['webhook_configs', 'slack_configs', 'email_configs']));
  });

  it.each([
    ['severity=critical', 'alertname=TraderDown', 'pager'],
    ['severity=critical', 'alertname=ApiAvailabilityBudgetBurn', 'pager'],
    ['severity=warning', 'alertname=DrawdownHigh', 'slack-alerts'],
    ['severity=info', 'alertname=Anything', 'team-email'],
    ['alertname=NoSeverity', 'job=x', 'team-email'],
  ])('routes %s %s to %s', async (a, b, receiver) => {
    // --verify.receivers makes amtool exit non-zero when the route's receivers differ.
    const out = await tool('amtool', [
      'config',
      'routes',
      'test',
      `--config.file=${amConfig}`,
      `--verify.receivers=${receiver}`,
      a,
      b,
    ]);
    expect(out.trim().split('\n')[0]).toBe(receiver);
  });

  it('a running Alertmanager inhibits the alerts of a trader that is down, and only of that one', async () => {
    const port = await freePort();
    const cluster = await freePort();
    const am = spawnServer('prometheus-alertmanager', [
      `--config.file=${amConfig}`,
      `--storage.path=${mkdtempSync(join(tmp, 'am-'))}`,
      `--web.listen-address=127.0.0.1:${port}`,
      `--cluster.listen-address=127.0.0.1:${cluster}`,
      '--log.level=warn',
    ]);
    children.add(am.child);
    const base = `http://127.0.0.1:${port}/api/v2`;
    try {
      await waitFor(async () => (await fetch(`http://127.0.0.1:${port}/-/ready`)).ok, {
        timeoutMs: 30_000,
        what: `alertmanager ready\n${am.output()}`,
      });
      const alert = (alertname: string, instance: string, severity: string) => ({
        labels: { alertname, instance, job: 'cryptoscalp-gateway', severity },
        annotations: { summary: alertname },
      });
      const posted = await fetch(`${base}/alerts`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify([
          alert('TraderDown', 'gateway-1:8080', 'critical'),
          alert('TraderNotReady', 'gateway-1:8080', 'critical'),
          alert('TraderNotReady', 'gateway-2:8080', 'critical'),
        ]),
      });
      expect(posted.status).toBe(200);
      type Got = { labels: Record<string, string>; status: { state: string; inhibitedBy: string[] } };
      let got: Got[] = [];
      await waitFor(
        async () => {
          got = (await (await fetch(`${base}/alerts`)).json()) as Got[];
          return got.length === 3 && got.some((a) => a.status.state === 'suppressed');
        },
        { timeoutMs: 15_000, what: 'the inhibition to apply' },
      );
      const state = (name: string, instance: string) =>
        got.find((a) => a.labels.alertname === name && a.labels.instance === instance)?.status.state;
      expect(state('TraderDown', 'gateway-1:8080')).toBe('active');
      expect(state('TraderNotReady', 'gateway-1:8080')).toBe('suppressed');
      expect(state('TraderNotReady', 'gateway-2:8080')).toBe('active');
    } finally {
      am.child.kill('SIGTERM');
      await exited(am.child);
    }
  });
});

describe('Grafana', () => {
  const built = buildDashboards();

  it('the committed dashboards are what dashboards.ts generates (npm run dashboards -w @cryptoscalp/deploy)', () => {
    const committed = readdirSync(DASHBOARDS_DIR).filter((f) => f.endsWith('.json'));
    expect(committed.sort()).toEqual(
      Object.keys(built)
        .map((n) => `${n}.json`)
        .sort(),
    );
    for (const [name, d] of Object.entries(built)) {
      const file = JSON.parse(readFileSync(join(DASHBOARDS_DIR, `${name}.json`), 'utf8')) as unknown;
      // Compared as data: the files are formatted by biome after generation.
      expect(file, `${name}.json is stale: run npm run dashboards -w @cryptoscalp/deploy`).toEqual(
        JSON.parse(JSON.stringify(d)),
      );
    }
  });

  it('four dashboards with unique uids, every panel on a provisioned data source, inside the 24-column grid', () => {
    expect(Object.keys(built).sort()).toEqual([
      'ml-model-performance',
      'risk-exposure',
      'system-health',
      'trading-performance',
    ]);
    const uids = Object.values(built).map((d) => d.uid);
    expect(new Set(uids).size).toBe(4);
    const provisioned = parse(readFileSync(join(obs, 'grafana/provisioning/datasources/cryptoscalp.yml'), 'utf8')) as {
      datasources: { uid: string; type: string; url: string }[];
    };
    const known = new Map(provisioned.datasources.map((d) => [d.uid, d.type]));
    expect(known).toEqual(new Map(Object.values(DATASOURCES).map((d) => [d.uid, d.type])));
    for (const [name, d] of Object.entries(built)) {
      const panels = (d.panels ?? []).filter((p) => p.type !== 'row');
      expect(panels.length, name).toBeGreaterThanOrEqual(6);
      for (const p of panels) {
        const where = `${name}: ${'title' in p ? p.title : '?'}`;
        const ds = 'datasource' in p ? p.datasource : undefined;
        expect(known.get(ds?.uid ?? ''), where).toBe(ds?.type);
        expect('targets' in p && (p.targets?.length ?? 0) > 0, where).toBe(true);
        expect((p.gridPos?.x ?? 0) + (p.gridPos?.w ?? 0), where).toBeLessThanOrEqual(24);
      }
    }
  });

  it('the dashboard provider serves the generated files read-only', () => {
    const doc = parse(readFileSync(join(obs, 'grafana/provisioning/dashboards/cryptoscalp.yml'), 'utf8')) as {
      apiVersion: number;
      providers: { type: string; allowUiUpdates: boolean; options: { path: string } }[];
    };
    expect(doc.apiVersion).toBe(1);
    expect(doc.providers).toHaveLength(1);
    expect(doc.providers[0]).toMatchObject({ type: 'file', allowUiUpdates: false });
    expect(doc.providers[0]?.options.path).toMatch(/^\/var\/lib\/grafana\/dashboards\//);
  });
});

/** The parts of loki.yml the assertions read. */
interface LokiConfig {
  auth_enabled: boolean;
  server: { http_listen_port: number };
  common: { path_prefix: string; storage: { filesystem: { chunks_directory: string; rules_directory: string } } };
  schema_config: { configs: { store: string; object_store: string; schema: string; index: { period: string } }[] };
  compactor: { working_directory: string; retention_enabled: boolean; delete_request_store: string };
  limits_config: { retention_period: string };
}

/** One pipeline stage of promtail.yml (`json`, `labels`, `match`, `timestamp`). */
interface PromtailStage {
  json?: { expressions: Record<string, string> };
  labels?: Record<string, unknown>;
  template?: unknown;
  match?: { selector: string; stages: PromtailStage[] };
  static_labels?: Record<string, string>;
  timestamp?: { source: string; format: string };
}

/** The parts of promtail.yml the assertions read. */
interface PromtailConfig {
  clients: { url: string }[];
  scrape_configs: {
    job_name: string;
    static_configs?: { labels?: Record<string, string> }[];
    relabel_configs?: { target_label?: string; replacement?: string }[];
    pipeline_stages: PromtailStage[];
  }[];
}

describe('Loki and Promtail', () => {
  const loki = parse(readFileSync(join(obs, 'loki/loki.yml'), 'utf8')) as LokiConfig;
  const promtail = parse(readFileSync(join(obs, 'loki/promtail.yml'), 'utf8')) as PromtailConfig;

  it('Loki: single binary on filesystem storage, TSDB schema v13, retention enforced by the compactor', () => {
    expect(loki.auth_enabled).toBe(false);
    expect(loki.server.http_listen_port).toBe(3100);
    const prefix = loki.common.path_prefix;
    for (const dir of [
      loki.common.storage.filesystem.chunks_directory,
      loki.common.storage.filesystem.rules_directory,
      loki.compactor.working_directory,
    ])
      expect(dir.startsWith(`${prefix}/`)).toBe(true);
    const schemas = loki.schema_config.configs;
    expect(schemas.at(-1)).toMatchObject({ store: 'tsdb', object_store: 'filesystem', schema: 'v13' });
    expect(schemas.at(-1)?.index.period).toBe('24h'); // TSDB needs 24h index periods
    expect(loki.compactor.retention_enabled).toBe(true);
    expect(loki.compactor.delete_request_store).toBe('filesystem'); // required with retention
    expect(loki.limits_config.retention_period).toMatch(/^\d+h$/);
  });

  it('Promtail pushes to that Loki with the labels the dashboards and the ErrorLogRate alert use', () => {
    expect(promtail.clients).toEqual([{ url: `http://loki:${loki.server.http_listen_port}/loki/api/v1/push` }]);
    const jobs = promtail.scrape_configs;
    expect(jobs.length).toBeGreaterThanOrEqual(1);
    const lokiQueries = panelQueries(buildDashboards(), DATASOURCES.loki.uid).map((q) => q.expr);
    expect(lokiQueries.length).toBeGreaterThan(0);
    const errorLogRate = alerts.find(({ rule }) => rule.alert === 'ErrorLogRate')?.rule.annotations?.description;
    for (const job of jobs) {
      // Every source ends up as job="cryptoscalp-trader", with a level label from the JSON stage.
      const jobLabel =
        job.static_configs?.[0]?.labels?.job ?? job.relabel_configs?.find((r) => r.target_label === 'job')?.replacement;
      expect(jobLabel, job.job_name).toBe('cryptoscalp-trader');
      for (const q of [...lokiQueries, errorLogRate]) expect(q).toContain(`job="${jobLabel}"`);
      const stages = job.pipeline_stages;
      expect(Object.keys(stages[0] ?? {})).toEqual(['json']);
      expect(stages.find((s) => 'labels' in s)?.labels).toHaveProperty('level');
      // The trader writes level names (pino `formatters.level`), so no numeric-level mapping is left in the pipeline.
      expect(stages.some((s) => s.template !== undefined)).toBe(false);
      // A non-JSON line on a container's stderr (a crash report) is labelled error, so the error panel shows it.
      const stderr = stages.find((s) => s.match?.selector.includes('stream="stderr"'))?.match;
      expect(stderr?.selector).toContain('level=""');
      expect(stderr?.stages).toEqual([{ static_labels: { level: 'error' } }]);
    }
  });

  it("Promtail reads what the trader's JSON logger writes: level names the alert selects, time in epoch ms", () => {
    const lines: string[] = [];
    const log = createLogWriter({
      format: 'json',
      base: { role: 'engine', instance: 'engine-1' },
      write: (l) => lines.push(l),
    });
    const before = Date.now();
    log('trader: shutdown: persistence stop failed: boom', 'error');
    log('trader: running', 'info');
    const after = Date.now();
    const [error, info] = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    for (const job of promtail.scrape_configs) {
      const stages = job.pipeline_stages;
      const expressions = stages[0]?.json?.expressions ?? {};
      const timestamp = stages.find((s) => s.timestamp !== undefined)?.timestamp;
      expect(timestamp?.format, job.job_name).toBe('UnixMs');
      const time = error?.[expressions[timestamp?.source ?? ''] ?? ''];
      expect(Number.isInteger(time) && (time as number) >= before && (time as number) <= after).toBe(true);
      const levelField = expressions.level ?? '';
      expect([error?.[levelField], info?.[levelField]]).toEqual(['error', 'info']);
      expect(info?.[expressions.msg ?? '']).toBe('trader: running');
      expect(error?.[expressions.role ?? '']).toBe('engine');
    }
    // The ErrorLogRate alert points at level=~"error|fatal" in Loki: the names the trader writes.
    const errorLogRate = alerts.find(({ rule }) => rule.alert === 'ErrorLogRate')?.rule.annotations?.description;
    expect(errorLogRate).toContain('level=~"error|fatal"');
  });
});
