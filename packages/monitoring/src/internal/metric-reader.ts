import type { Registry } from 'prom-client';
import { FastHistogram } from './fast-histogram.js';
import { isFastMetric } from './fast-metric.js';

/** One series of a counter or gauge. */
export interface ScalarSeries {
  labels: Record<string, string>;
  value: number;
}

/** One series of a histogram: cumulative bucket counts. */
export interface HistogramSeries {
  labels: Record<string, string>;
  bounds: number[];
  /** Cumulative counts per bound, ending with +Inf (= count). */
  cumulative: number[];
  count: number;
  sum: number;
}

/** What {@link readMetric} returns. */
export type MetricSnapshot =
  | { kind: 'scalar'; type: string; series: ScalarSeries[] }
  | { kind: 'histogram'; series: HistogramSeries[] };

const labelCache = new WeakMap<object, Record<string, string>>();

function labelsOf(child: { labelValues: readonly string[] }, names: readonly string[]): Record<string, string> {
  let labels = labelCache.get(child);
  if (labels === undefined) {
    labels = {};
    for (let i = 0; i < names.length; i++) labels[names[i] as string] = child.labelValues[i] as string;
    labelCache.set(child, labels);
  }
  return labels;
}

/**
 * Reads a metric of the registry by name: this package's metrics directly from their children, others
 * through prom-client's `get()`. `undefined` if no such metric.
 */
export async function readMetric(registry: Registry, name: string): Promise<MetricSnapshot | undefined> {
  const metric = registry.getSingleMetric(name) as unknown;
  if (metric === undefined) return undefined;
  if (isFastMetric(metric)) {
    await metric.collect?.();
    if (metric instanceof FastHistogram) {
      const bounds = [...metric.upperBounds, Number.POSITIVE_INFINITY];
      const series: HistogramSeries[] = [];
      for (const c of metric.children.values()) {
        const cumulative: number[] = [];
        let acc = 0;
        for (let i = 0; i < metric.upperBounds.length; i++) {
          acc += c.counts[i] as number;
          cumulative.push(acc);
        }
        cumulative.push(c.count);
        series.push({ labels: labelsOf(c, metric.labelNames), bounds, cumulative, count: c.count, sum: c.sum });
      }
      return { kind: 'histogram', series };
    }
    const series: ScalarSeries[] = [];
    for (const c of metric.children.values() as Iterable<{ labelValues: string[]; value: number }>) {
      series.push({ labels: labelsOf(c, metric.labelNames), value: c.value });
    }
    return { kind: 'scalar', type: metric.type, series };
  }
  const m = metric as {
    type?: string;
    get(): Promise<{
      type?: string;
      values?: { labels?: Record<string, unknown>; value: number; metricName?: string }[];
    }>;
  };
  const data = await m.get();
  const values = data.values ?? [];
  if ((data.type ?? m.type) === 'histogram') {
    const bySeries = new Map<string, HistogramSeries & { pairs: [number, number][] }>();
    for (const v of values) {
      const labels: Record<string, string> = {};
      let le: string | undefined;
      for (const [k, val] of Object.entries(v.labels ?? {})) {
        if (k === 'le') le = String(val);
        else labels[k] = String(val);
      }
      const key = JSON.stringify(Object.entries(labels).sort());
      let s = bySeries.get(key);
      if (s === undefined) {
        s = { labels, bounds: [], cumulative: [], count: 0, sum: 0, pairs: [] };
        bySeries.set(key, s);
      }
      const metricName = v.metricName ?? '';
      if (metricName.endsWith('_bucket') && le !== undefined)
        s.pairs.push([le === '+Inf' ? Number.POSITIVE_INFINITY : Number(le), v.value]);
      else if (metricName.endsWith('_sum')) s.sum = v.value;
      else if (metricName.endsWith('_count')) s.count = v.value;
    }
    const series: HistogramSeries[] = [];
    for (const s of bySeries.values()) {
      s.pairs.sort((a, b) => a[0] - b[0]);
      series.push({
        labels: s.labels,
        bounds: s.pairs.map((p) => p[0]),
        cumulative: s.pairs.map((p) => p[1]),
        count: s.count,
        sum: s.sum,
      });
    }
    return { kind: 'histogram', series };
  }
  const series: ScalarSeries[] = [];
  for (const v of values) {
    if (v.metricName !== undefined && v.metricName !== name) continue;
    series.push({ labels: stringLabels(v.labels), value: v.value });
  }
  return { kind: 'scalar', type: data.type ?? m.type ?? 'gauge', series };
}

const EMPTY_LABELS: Record<string, string> = {};
const promLabelCache = new WeakMap<object, Record<string, string>>();

/**
 * prom-client keeps one `labels` object per series across calls of `get()`: convert it to string values
 * once and reuse the result (it also keeps the rule evaluator's per-labels key cache warm).
 */
function stringLabels(labels: Record<string, unknown> | undefined): Record<string, string> {
  if (labels === undefined) return EMPTY_LABELS;
  let out = promLabelCache.get(labels);
  if (out === undefined) {
    out = {};
    for (const k in labels) out[k] = String(labels[k]);
    promLabelCache.set(labels, out);
  }
  return out;
}

/**
 * Prometheus `histogram_quantile`: linear interpolation inside the bucket where the rank falls.
 * `cumulative` ends with the +Inf bucket. Returns NaN without observations.
 */
export function histogramQuantile(q: number, bounds: number[], cumulative: number[]): number {
  const total = cumulative[cumulative.length - 1] ?? 0;
  if (total <= 0 || bounds.length === 0) return Number.NaN;
  const rank = q * total;
  let i = 0;
  while (i < cumulative.length - 1 && (cumulative[i] as number) < rank) i++;
  const upper = bounds[i] as number;
  if (upper === Number.POSITIVE_INFINITY)
    return bounds.length >= 2 ? (bounds[bounds.length - 2] as number) : Number.NaN;
  const lower = i === 0 ? 0 : (bounds[i - 1] as number);
  const below = i === 0 ? 0 : (cumulative[i - 1] as number);
  const inBucket = (cumulative[i] as number) - below;
  if (inBucket <= 0) return upper;
  return lower + (upper - lower) * ((rank - below) / inBucket);
}
