import { Registry } from 'prom-client';
import { invalidOption } from './errors.js';
import { checkKnownKeys } from './internal/known-keys.js';
import { METRIC_NAME_RE } from './internal/text-format.js';
import type { MonitoringOptions, TracerLike } from './types.js';

/** Default values of {@link MonitoringOptions}, in one place. */
export const MONITORING_DEFAULTS = {
  name: 'monitoring',
  prefix: '',
  defaultMetrics: true,
  systemMetrics: { filesystems: ['/'], network: true },
  scrape: { maxSeriesPerMetric: Number.POSITIVE_INFINITY, collectorTimeoutMs: 1_000, sliceMs: 4 },
  tracing: true,
  durationBuckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
} as const;

const MONITORING_KEYS: readonly (keyof MonitoringOptions)[] = [
  'name',
  'registry',
  'prefix',
  'defaultMetrics',
  'systemMetrics',
  'scrape',
  'tracing',
  'durationBuckets',
  'alerting',
];

/** @internal Options after validation and defaults. */
export interface ResolvedMonitoringOptions {
  name: string;
  registry: Registry;
  ownRegistry: boolean;
  prefix: string;
  defaultMetrics: boolean;
  systemMetrics: false | { filesystems: string[]; network: boolean };
  scrape: { maxSeriesPerMetric: number; collectorTimeoutMs: number; sliceMs: number };
  tracing: boolean | TracerLike;
  durationBuckets: number[];
}

function positiveInt(value: unknown, field: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0) {
    throw invalidOption(field, `must be a positive integer, got ${String(value)}`);
  }
  return value;
}

/** A positive integer, or `Infinity` for no cap. */
function seriesCap(value: unknown, field: string, fallback: number): number {
  if (value === Number.POSITIVE_INFINITY) return value;
  return positiveInt(value, field, fallback);
}

function positiveNumber(value: unknown, field: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw invalidOption(field, `must be a positive number, got ${String(value)}`);
  }
  return value;
}

function bool(value: unknown, field: string, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') throw invalidOption(field, 'must be a boolean');
  return value;
}

/** @internal Validates {@link MonitoringOptions} (except `alerting`) and applies the defaults. */
export function resolveMonitoringOptions(options: MonitoringOptions): ResolvedMonitoringOptions {
  if (typeof options !== 'object' || options === null) throw invalidOption('options', 'must be an object');
  checkKnownKeys(options, MONITORING_KEYS);
  const name = options.name ?? MONITORING_DEFAULTS.name;
  if (typeof name !== 'string' || name === '') throw invalidOption('name', 'must be a non-empty string');

  const registry = options.registry;
  if (registry !== undefined && (typeof registry !== 'object' || typeof registry.getMetricsAsArray !== 'function')) {
    throw invalidOption('registry', 'must be a prom-client Registry');
  }

  const prefix = options.prefix ?? MONITORING_DEFAULTS.prefix;
  if (typeof prefix !== 'string' || (prefix !== '' && !METRIC_NAME_RE.test(prefix))) {
    throw invalidOption('prefix', 'must be a valid metric name prefix ([a-zA-Z_:][a-zA-Z0-9_:]*)');
  }

  let systemMetrics: ResolvedMonitoringOptions['systemMetrics'];
  const sm = options.systemMetrics ?? true;
  if (sm === false) systemMetrics = false;
  else if (sm === true) systemMetrics = { ...MONITORING_DEFAULTS.systemMetrics, filesystems: ['/'] };
  else if (typeof sm === 'object' && sm !== null) {
    checkKnownKeys(sm, ['filesystems', 'network'], 'systemMetrics.');
    const filesystems = sm.filesystems ?? ['/'];
    if (!Array.isArray(filesystems) || filesystems.some((p) => typeof p !== 'string' || p === '')) {
      throw invalidOption('systemMetrics.filesystems', 'must be an array of paths');
    }
    systemMetrics = { filesystems: [...filesystems], network: bool(sm.network, 'systemMetrics.network', true) };
  } else throw invalidOption('systemMetrics', 'must be a boolean or an object');

  const scrape = options.scrape ?? {};
  if (typeof scrape !== 'object' || scrape === null) throw invalidOption('scrape', 'must be an object');
  checkKnownKeys(scrape, ['maxSeriesPerMetric', 'collectorTimeoutMs', 'sliceMs'], 'scrape.');
  const d = MONITORING_DEFAULTS.scrape;

  const tracing = options.tracing ?? MONITORING_DEFAULTS.tracing;
  if (typeof tracing !== 'boolean' && (typeof tracing !== 'object' || typeof tracing?.startSpan !== 'function')) {
    throw invalidOption('tracing', 'must be a boolean or a tracer with startSpan()');
  }

  const buckets = options.durationBuckets ?? [...MONITORING_DEFAULTS.durationBuckets];
  if (
    !Array.isArray(buckets) ||
    buckets.length === 0 ||
    buckets.some((b, i) => typeof b !== 'number' || !Number.isFinite(b) || (i > 0 && b <= (buckets[i - 1] as number)))
  ) {
    throw invalidOption('durationBuckets', 'must be a non-empty strictly increasing array of finite numbers');
  }

  return {
    name,
    registry: registry ?? new Registry(),
    ownRegistry: registry === undefined,
    prefix,
    defaultMetrics: bool(options.defaultMetrics, 'defaultMetrics', MONITORING_DEFAULTS.defaultMetrics),
    systemMetrics,
    scrape: {
      maxSeriesPerMetric: seriesCap(scrape.maxSeriesPerMetric, 'scrape.maxSeriesPerMetric', d.maxSeriesPerMetric),
      collectorTimeoutMs: positiveNumber(scrape.collectorTimeoutMs, 'scrape.collectorTimeoutMs', d.collectorTimeoutMs),
      sliceMs: positiveNumber(scrape.sliceMs, 'scrape.sliceMs', d.sliceMs),
    },
    tracing,
    durationBuckets: [...buckets],
  };
}
