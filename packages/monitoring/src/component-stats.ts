import { performance } from 'node:perf_hooks';
import type { Registry } from 'prom-client';
import { FastCounter } from './internal/fast-counter.js';
import { FastGauge } from './internal/fast-gauge.js';
import { METRIC_NAME_RE, toSnake } from './internal/text-format.js';
import type { WatchableComponent } from './types.js';

/** Leaves deeper than this are ignored. */
const MAX_DEPTH = 5;
/** Leaves per component beyond this are ignored (a stats() that grows without bound cannot flood the registry). */
const MAX_LEAVES = 500;
/** Snapshots younger than this are reused within one scrape. */
const SNAPSHOT_MS = 50;

/**
 * Flattens the numeric (and boolean, as 0/1) leaves of a stats object into `path -> value`,
 * joining keys with `_` after converting camelCase to snake_case: `{ l1: { hitRate: 0.9 } }` gives
 * `l1_hit_rate`.
 */
export function flattenStats(
  stats: Record<string, unknown>,
  out = new Map<string, number>(),
  path = '',
  depth = 0,
): Map<string, number> {
  if (depth > MAX_DEPTH) return out;
  for (const key of Object.keys(stats)) {
    if (out.size >= MAX_LEAVES) break;
    const value = stats[key];
    const name = path === '' ? toSnake(key) : `${path}_${toSnake(key)}`;
    if (typeof value === 'number') {
      if (Number.isFinite(value)) out.set(name, value);
    } else if (typeof value === 'boolean') {
      out.set(name, value ? 1 : 0);
    } else if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
      flattenStats(value as Record<string, unknown>, out, name, depth + 1);
    }
  }
  return out;
}

/** Suffixes Prometheus reserves for counters, histograms and summaries; a gauge leaf ending so gets `_value`. */
const RESERVED_SUFFIX = /_(total|count|sum|bucket|created|info)$/;

/**
 * The gauge name of a flattened stats leaf: `<prefix>cryptoscalp_stats_<path>`, plus `_value` when the
 * path ends in a reserved suffix (`pool.total` becomes `cryptoscalp_stats_pool_total_value`).
 */
export function statsMetricName(prefix: string, path: string): string {
  const name = `${prefix}cryptoscalp_stats_${path}`;
  return RESERVED_SUFFIX.test(name) ? `${name}_value` : name;
}

/**
 * Reads `stats()` of every watched component at scrape time and exposes each numeric leaf as the
 * gauge `<prefix>cryptoscalp_stats_<path>{component}`. New leaves register new gauges (visible
 * from the next scrape); leaves that disappear are removed.
 */
export class ComponentStats {
  private readonly components = new Map<string, WatchableComponent>();
  private readonly gauges = new Map<string, FastGauge>();
  private readonly seen = new Map<string, Set<string>>();
  private readonly errors: FastCounter;
  private lastRefresh = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly registry: Registry,
    private readonly prefix: string,
  ) {
    this.errors = new FastCounter(`${prefix}cryptoscalp_monitoring_stats_errors_total`, 'stats() calls that threw.', [
      'component',
    ]).register(registry);
  }

  /** Metric names registered so far (for unregistering). */
  metricNames(): string[] {
    return [this.errors.name, ...this.gauges.keys()];
  }

  add(component: WatchableComponent): void {
    this.components.set(component.name, component);
    this.refreshOne(component);
  }

  remove(name: string): void {
    this.components.delete(name);
    for (const metric of this.seen.get(name) ?? []) this.gauges.get(metric)?.remove(name);
    this.seen.delete(name);
  }

  /** Refreshes every component's leaves unless a refresh just happened (one scrape reads many gauges). */
  refresh(force = false): void {
    const now = performance.now();
    if (!force && now - this.lastRefresh < SNAPSHOT_MS) return;
    this.lastRefresh = now;
    for (const component of this.components.values()) this.refreshOne(component);
  }

  private refreshOne(component: WatchableComponent): void {
    if (typeof component.stats !== 'function') return;
    let stats: Record<string, unknown>;
    try {
      stats = component.stats();
    } catch {
      this.errors.labels(component.name).inc();
      return;
    }
    if (typeof stats !== 'object' || stats === null) return;
    const leaves = flattenStats(stats);
    const previous = this.seen.get(component.name) ?? new Set<string>();
    const current = new Set<string>();
    for (const [path, value] of leaves) {
      const name = statsMetricName(this.prefix, path);
      if (!METRIC_NAME_RE.test(name)) continue;
      let gauge = this.gauges.get(name);
      if (gauge === undefined) {
        gauge = new FastGauge(name, `stats().${path} of watched components (read at scrape time).`, ['component']);
        try {
          gauge.register(this.registry);
        } catch {
          continue; // a name clash with someone else's metric: skip this leaf rather than fail the scrape
        }
        gauge.collect = () => this.refresh();
        this.gauges.set(name, gauge);
      }
      gauge.labels(component.name).set(value);
      current.add(name);
    }
    for (const name of previous) if (!current.has(name)) this.gauges.get(name)?.remove(component.name);
    this.seen.set(component.name, current);
  }
}
