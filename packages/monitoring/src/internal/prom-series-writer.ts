import type { ChunkWriter } from './chunk-writer.js';
import type { PromKind } from './prom-kind.js';
import { exemplarSuffix, joinPairs, promPairs, promValue, type SeriesLabels, seriesLabels } from './prom-text.js';
import { pruneSeriesIndex, seriesIndex } from './series-index.js';

/** What one scrape writes with: the output, the registry's default labels and the format. */
export interface ScrapeContext {
  readonly w: ChunkWriter;
  readonly defaults: Record<string, unknown>;
  readonly hasDefaults: boolean;
  readonly openMetrics: boolean;
  /** Label sets written per metric. */
  readonly cap: number;
}

/** One series of a prom-client metric as its `hashMap` holds it. */
interface Entry {
  labels?: Record<string, unknown>;
  value?: number;
  exemplar?: unknown;
  bucketValues?: Record<string, number>;
  bucketExemplars?: Record<string, unknown> | null;
  sum?: number;
  count?: number;
  td?: { compress(): void; percentile(p: number): number; size(): number };
}

/** The internal state of a prom-client metric that the writer reads. */
export interface PromInternals {
  name: string;
  hashMap: Record<string, Entry | undefined>;
  upperBounds?: readonly number[];
  percentiles?: readonly number[];
  pruneAgedBuckets?: boolean;
}

const NO_LABELS = Object.freeze({});

/**
 * Writes the series of a prom-client `Counter`, `Gauge`, `Histogram` or `Summary` straight from its
 * `hashMap`, exactly as prom-client's `registry.metrics()` would (same lines, same order), yielding
 * whenever the slice is used up, also in the middle of the metric.
 *
 * Series are walked through a {@link seriesIndex} cursor that survives the yields: a series is read at
 * its slice (its value as it is then), one created during the scrape is written at the end of the metric,
 * one removed before its turn is left out, and none is written twice. Returns the label sets left out by
 * the cap.
 */
export async function writePromSeries(ctx: ScrapeContext, metric: PromInternals, kind: PromKind): Promise<number> {
  const { w, cap } = ctx;
  const index = seriesIndex(metric.hashMap as Record<string, unknown>);
  const seenMissing: string[] = [];
  const line = lineWriter(ctx, metric, kind);
  let written = 0;
  let visited = 0;
  let dropped = 0;
  for (const key of index.keys) {
    visited++;
    // Read the current map: reset() replaces it, and a series is written with its value of this slice.
    const map = metric.hashMap;
    const entry = map[key];
    if (!entry) {
      seenMissing.push(key);
      continue;
    }
    // prom-client's Summary.get() drops series whose time window emptied (pruneAgedBuckets): same here.
    if (kind === 'summary' && metric.pruneAgedBuckets && entry.td?.size() === 0) {
      delete map[key];
      seenMissing.push(key);
      continue;
    }
    if (written >= cap) {
      dropped = index.keys.size - visited + 1;
      break;
    }
    written++;
    line(entry);
    // A summary compresses its digest per series: check the clock every time there.
    if (kind === 'summary' ? w.dueNow() : w.due()) await w.yieldNow();
  }
  pruneSeriesIndex(index, seenMissing);
  return dropped;
}

/** The per-series writer for `kind`, with everything that is the same for every series computed once. */
function lineWriter(ctx: ScrapeContext, metric: PromInternals, kind: PromKind): (entry: Entry) => void {
  const { w, defaults, hasDefaults, openMetrics } = ctx;
  const defaultPairs = hasDefaults ? promPairs(defaults) : '';
  const labelsOf = (entry: Entry): SeriesLabels =>
    entry.labels === undefined
      ? { defaults, own: '', extra: defaultPairs }
      : seriesLabels(entry.labels, defaults, hasDefaults);
  const name = metric.name;

  if (kind === 'counter' || kind === 'gauge') {
    // OpenMetrics: the family is named without `_total`, its samples with it (prom-client's renaming).
    const sample = openMetrics && kind === 'counter' ? `${name.replace(/_total$/, '')}_total` : name;
    return (entry) => {
      const l = labelsOf(entry);
      const pairs = joinPairs(l.own, l.extra);
      const ex = openMetrics ? exemplarSuffix(entry.exemplar) : '';
      w.push(`${sample}${pairs === '' ? '' : `{${pairs}}`} ${promValue(entry.value)}${ex}\n`);
    };
  }

  if (kind === 'histogram') {
    const bounds = metric.upperBounds ?? [];
    const les = bounds.map((b) => `${b}`);
    // A default label named `le` is overridden by the bucket's own `le` (prom-client spreads it last).
    const leDefault = hasDefaults && Object.hasOwn(defaults, 'le');
    return (entry) => {
      const l = labelsOf(entry);
      const bucketExtra = leDefault ? promPairs(defaults, entry.labels ?? NO_LABELS, 'le') : l.extra;
      const bucketTail = joinPairs(bucketExtra, l.own);
      const after = bucketTail === '' ? '' : `,${bucketTail}`;
      const tail = joinPairs(l.extra, l.own);
      const braces = tail === '' ? '' : `{${tail}}`;
      const values = entry.bucketValues as Record<string, number>;
      const exemplars = openMetrics ? entry.bucketExemplars : null;
      let acc = 0;
      for (let i = 0; i < bounds.length; i++) {
        const bound = bounds[i] as number;
        acc += values[bound] as number;
        const ex = exemplars ? exemplarSuffix(exemplars[bound]) : '';
        w.push(`${name}_bucket{le="${les[i]}"${after}} ${promValue(acc)}${ex}\n`);
      }
      const infEx = exemplars ? exemplarSuffix(exemplars['-1']) : '';
      w.push(
        `${name}_bucket{le="+Inf"${after}} ${promValue(entry.count)}${infEx}\n${name}_sum${braces} ${promValue(entry.sum)}\n${name}_count${braces} ${promValue(entry.count)}\n`,
      );
    };
  }

  // Summary: quantile lines (`quantile` first, then the series' labels, then defaults), then sum and count.
  const percentiles = metric.percentiles ?? [];
  const quantileDefault = hasDefaults && Object.hasOwn(defaults, 'quantile');
  return (entry) => {
    const l = labelsOf(entry);
    const td = entry.td as NonNullable<Entry['td']>;
    td.compress();
    const qExtra = quantileDefault ? promPairs(defaults, entry.labels ?? NO_LABELS, 'quantile') : l.extra;
    const qTail = joinPairs(l.own, qExtra);
    const after = qTail === '' ? '' : `,${qTail}`;
    for (const p of percentiles) {
      const v = td.percentile(p);
      w.push(`${name}{quantile="${p}"${after}} ${promValue(v ? v : 0)}\n`);
    }
    const tail = joinPairs(l.own, l.extra);
    const braces = tail === '' ? '' : `{${tail}}`;
    w.push(`${name}_sum${braces} ${promValue(entry.sum)}\n${name}_count${braces} ${promValue(entry.count)}\n`);
  };
}

/** One value of a metric's `get()` result (prom-client's `MetricValue` shape). */
export interface GenericValue {
  labels?: Record<string, unknown>;
  sharedLabels?: Record<string, unknown>;
  value: unknown;
  metricName?: string;
  exemplar?: unknown;
}

/**
 * Writes one value of a `get()` result the way prom-client's `getMetricsAsString()` does (for metrics
 * that are not read directly: custom collectors, subclasses).
 */
export function writeGenericValue(ctx: ScrapeContext, name: string, type: string, v: GenericValue): void {
  let metricName = v.metricName ?? name;
  let labels = v.labels ?? NO_LABELS;
  const shared = v.sharedLabels ?? NO_LABELS;
  if (ctx.openMetrics && type === 'counter') metricName = `${metricName}_total`;
  if (ctx.hasDefaults) labels = { ...labels, ...ctx.defaults, ...labels };
  const pairs = joinPairs(promPairs(labels, shared), promPairs(shared));
  const ex = ctx.openMetrics ? exemplarSuffix(v.exemplar) : '';
  ctx.w.push(`${metricName}${pairs === '' ? '' : `{${pairs}}`} ${promValue(v.value)}${ex}\n`);
}
