// Every PromQL expression of the observability kit (recording rules, alert rules, dashboard queries and variables)
// and the metric names each one reads, for the check that they only name metrics the trader exports
// (deploy/test/metric-names.test.ts).
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Dashboard } from '@grafana/grafana-foundation-sdk/dashboard';
import { parse } from 'yaml';
import { DATASOURCES } from './grafana/dashboards.js';

/** `deploy/observability/prometheus/rules/`. */
export const RULES_DIR = fileURLToPath(new URL('./prometheus/rules/', import.meta.url));

/** One expression and where it comes from (`rules/alerts.yml: alert TraderDown`, `system-health.json: CPU`). */
export interface SourcedExpression {
  source: string;
  expr: string;
}

/** One rule as a Prometheus rule file holds it. */
export interface RuleEntry {
  record?: string;
  alert?: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

/** The rule files (`*.yml` in {@link RULES_DIR}) by file name, each rule with its group. */
export function loadRules(): { file: string; group: string; rule: RuleEntry }[] {
  return readdirSync(RULES_DIR)
    .filter((f) => f.endsWith('.yml'))
    .sort()
    .flatMap((file) => {
      const doc = parse(readFileSync(join(RULES_DIR, file), 'utf8')) as {
        groups: { name: string; rules: RuleEntry[] }[];
      };
      return doc.groups.flatMap((g) => g.rules.map((rule) => ({ file, group: g.name, rule })));
    });
}

/** Series the recording rules define (they are not the trader's, but rules and dashboards may read them). */
export function recordedNames(): Set<string> {
  return new Set(loadRules().flatMap(({ rule }) => (rule.record === undefined ? [] : [rule.record])));
}

/** The expression of every recording and alert rule. */
export function ruleExpressions(): SourcedExpression[] {
  return loadRules().map(({ file, rule }) => ({
    source: `rules/${file}: ${rule.record !== undefined ? `record ${rule.record}` : `alert ${rule.alert}`}`,
    expr: rule.expr,
  }));
}

/** The queries (`expr`) of every panel on the data source `uid`, per dashboard. */
export function panelQueries(dashboards: Record<string, Dashboard>, uid: string): SourcedExpression[] {
  const out: SourcedExpression[] = [];
  for (const [name, d] of Object.entries(dashboards))
    for (const panel of d.panels ?? []) {
      if (!('targets' in panel) || panel.targets === undefined || panel.datasource?.uid !== uid) continue;
      for (const t of panel.targets as { expr?: string }[])
        if (t.expr !== undefined) out.push({ source: `${name}.json: ${panel.title}`, expr: t.expr });
    }
  return out;
}

/** The Prometheus queries of every panel and the `label_values(metric, label)` variable queries, per dashboard. */
export function dashboardExpressions(dashboards: Record<string, Dashboard>): SourcedExpression[] {
  const out = panelQueries(dashboards, DATASOURCES.prometheus.uid);
  for (const [name, d] of Object.entries(dashboards))
    for (const v of d.templating?.list ?? []) {
      if (typeof v.query !== 'string') continue;
      const m = /^label_values\(\s*([^,)]+)/.exec(v.query);
      out.push({ source: `${name}.json: variable ${v.name}`, expr: m === null ? v.query : (m[1] as string) });
    }
  return out;
}

const KEYWORDS = new Set([
  'and',
  'or',
  'unless',
  'by',
  'without',
  'on',
  'ignoring',
  'group_left',
  'group_right',
  'bool',
  'offset',
  'inf',
  'nan',
]);

/**
 * The metric names a PromQL expression reads: identifiers left once string literals, label matchers (`{...}`),
 * ranges and subqueries (`[...]`) and grouping label lists (`by (...)`, `on (...)`, ...) are removed, that are
 * neither functions (followed by `(`) nor keywords. Grafana's `$variables` only appear inside the removed parts.
 */
export function metricNames(expr: string): string[] {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, '""')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ');
  const names = new Set<string>();
  for (const m of stripped.matchAll(/(?<![\w.:$])([a-zA-Z_:][\w:]*)(\s*\()?/g)) {
    const [, name, call] = m;
    if (call !== undefined || KEYWORDS.has((name as string).toLowerCase())) continue;
    names.add(name as string);
  }
  return [...names];
}

/** Series Prometheus makes itself for every target (not the trader's). */
export const PROMETHEUS_SERIES: ReadonlySet<string> = new Set(['up']);

/**
 * Whether `name` is one of `exported`, or the `_bucket`/`_sum`/`_count` series of an exported histogram (a histogram
 * without observations yet is declared but has no series).
 */
export function isExported(name: string, exported: ReadonlySet<string>): boolean {
  if (exported.has(name)) return true;
  const base = /^(.*)_(bucket|sum|count)$/.exec(name)?.[1];
  return base !== undefined && exported.has(base);
}

/** The metric names a Prometheus text exposition declares (`# TYPE`/`# HELP`) or has samples of. */
export function exportedNames(exposition: string): Set<string> {
  const names = new Set<string>();
  for (const line of exposition.split('\n')) {
    const declared = /^# (?:TYPE|HELP) ([a-zA-Z_:][\w:]*)/.exec(line);
    if (declared !== null) names.add(declared[1] as string);
    else if (line !== '' && !line.startsWith('#')) {
      const sample = /^([a-zA-Z_:][\w:]*)/.exec(line);
      if (sample !== null) names.add(sample[1] as string);
    }
  }
  return names;
}
