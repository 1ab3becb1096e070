import { escapeLabelValue } from './text-format.js';

/**
 * Text formatting that reproduces prom-client's `Registry.getMetricsAsString()` byte for byte (15.x),
 * so a scrape served by {@link boundedScrape} equals `registry.metrics()`.
 */

/** A sample value as prom-client writes it (note `Nan`, which Prometheus parses case-insensitively). */
export function promValue(value: unknown): string {
  if (Number.isNaN(value)) return 'Nan';
  if (!Number.isFinite(value)) return (value as number) < 0 ? '-Inf' : '+Inf';
  return `${value}`;
}

/** A label value as prom-client writes it: strings escaped, anything else stringified as is. */
function promLabelValue(value: unknown): string {
  return typeof value === 'string' ? escapeLabelValue(value) : `${value}`;
}

/**
 * `a="x",b="y"` for the own entries of `labels` in their order, skipping names owned by `skip` or equal
 * to `skipName` (prom-client's `formatLabels(...).join(',')`; undefined values are written, as there).
 */
export function promPairs(labels: Record<string, unknown>, skip?: Record<string, unknown>, skipName?: string): string {
  let out = '';
  for (const name in labels) {
    if (!Object.hasOwn(labels, name)) continue;
    if (name === skipName || (skip !== undefined && Object.hasOwn(skip, name))) continue;
    if (out !== '') out += ',';
    out += `${name}="${promLabelValue(labels[name])}"`;
  }
  return out;
}

/** Joins two label pair strings with a comma, either may be empty. */
export function joinPairs(a: string, b: string): string {
  return a === '' ? b : b === '' ? a : `${a},${b}`;
}

/** An exemplar as prom-client appends it to an OpenMetrics line (`''` when there is none). */
export function exemplarSuffix(exemplar: unknown): string {
  if (!exemplar) return '';
  const e = exemplar as { labelSet?: Record<string, unknown>; value?: unknown; timestamp?: unknown };
  return ` # {${promPairs(e.labelSet ?? {})}} ${promValue(e.value)} ${e.timestamp}`;
}

/** Cached label strings of one series' `labels` object (prom-client keeps that object for the series' life). */
export interface SeriesLabels {
  /** The registry default labels these strings were made with (compared by identity). */
  readonly defaults: Record<string, unknown>;
  /** The series' own pairs. */
  readonly own: string;
  /** Default label pairs whose names the series does not own. */
  readonly extra: string;
}

const labelCache = new WeakMap<object, SeriesLabels>();

/**
 * The label strings of a series, formatted once per `labels` object and default-label set: a scrape of
 * 100k series then costs a lookup per series instead of formatting every label again.
 */
export function seriesLabels(
  labels: Record<string, unknown>,
  defaults: Record<string, unknown>,
  hasDefaults: boolean,
): SeriesLabels {
  const hit = labelCache.get(labels);
  if (hit !== undefined && hit.defaults === defaults) return hit;
  const made: SeriesLabels = {
    defaults,
    own: promPairs(labels),
    extra: hasDefaults ? promPairs(defaults, labels) : '',
  };
  labelCache.set(labels, made);
  return made;
}
