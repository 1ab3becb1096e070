import type { Registry } from 'prom-client';
import { type ChunkSink, ChunkWriter } from './chunk-writer.js';
import { FastHistogram } from './fast-histogram.js';
import { type FastChild, type FastMetric, isFastMetric } from './fast-metric.js';
import { promKind } from './prom-kind.js';
import {
  type GenericValue,
  type PromInternals,
  type ScrapeContext,
  writeGenericValue,
  writePromSeries,
} from './prom-series-writer.js';
import { releaseSeriesIndex, seriesIndex } from './series-index.js';
import { escapeHelp, formatValue, labelObjectPairs } from './text-format.js';

/** prom-client's `Registry.OPENMETRICS_CONTENT_TYPE`. */
const OPENMETRICS = 'application/openmetrics-text; version=1.0.0; charset=utf-8';

/** Limits of one bounded scrape. */
export interface ScrapeLimits {
  /** Label sets written per metric; the rest are counted as dropped. */
  maxSeriesPerMetric: number;
  /** Time one metric's collector may take before it is skipped. */
  collectorTimeoutMs: number;
  /** Longest synchronous slice before yielding to the event loop. */
  sliceMs: number;
}

/** What the scrape reports back (counted into the monitoring's own metrics). */
export interface ScrapeHooks {
  dropped(metric: string, count: number): void;
  timeout(metric: string): void;
  error(metric: string, error: unknown): void;
}

type Outcome = { ok: true; value: unknown } | { ok: false; timedOut: boolean; error?: unknown };

const OK_UNDEFINED: Outcome = { ok: true, value: undefined };

/** Runs `fn`; if it returns a promise, races it against `ms`. Synchronous results cost no timer. */
export function runWithTimeout(fn: () => unknown, ms: number): Outcome | Promise<Outcome> {
  let result: unknown;
  try {
    result = fn();
  } catch (error) {
    return { ok: false, timedOut: false, error };
  }
  if (result === undefined) return OK_UNDEFINED;
  if (typeof (result as { then?: unknown }).then !== 'function') return { ok: true, value: result };
  return new Promise<Outcome>((resolve) => {
    const timer = setTimeout(() => resolve({ ok: false, timedOut: true }), ms);
    (result as Promise<unknown>).then(
      (value) => {
        clearTimeout(timer);
        resolve({ ok: true, value });
      },
      (error: unknown) => {
        clearTimeout(timer);
        resolve({ ok: false, timedOut: false, error });
      },
    );
  });
}

/** What the scrape needs of any registered metric. */
interface PromLike {
  name: string;
  help: string;
  type: string;
  collect?: () => unknown;
  get?: () => unknown;
  getForPromString?: () => unknown;
}

/**
 * Serializes every metric of `registry` as prom-client's `registry.metrics()` does (text format 0.0.4, or
 * OpenMetrics when the registry is set to it), yielding to the event loop whenever a slice of `sliceMs`
 * is used up, also in the middle of one metric. prom-client's own counters, gauges, histograms and
 * summaries are read from their series maps through a resumable cursor (see {@link writePromSeries});
 * this package's metrics from their children; anything else (custom collectors, subclasses) through its
 * own `get()`, which runs in one go. With a `sink`, each slice's text goes to it and `''` is returned.
 */
export async function boundedScrape(
  registry: Registry,
  limits: ScrapeLimits,
  hooks: ScrapeHooks,
  sink?: ChunkSink,
): Promise<string> {
  const openMetrics = (registry.contentType as string) === OPENMETRICS;
  const w = new ChunkWriter(limits.sliceMs, openMetrics, sink);
  const defaults = ((registry as unknown as { _defaultLabels?: Record<string, unknown> })._defaultLabels ??
    {}) as Record<string, unknown>;
  const ctx: ScrapeContext = {
    w,
    defaults,
    hasDefaults: Object.keys(defaults).length > 0,
    openMetrics,
    cap: limits.maxSeriesPerMetric,
  };

  for (const metric of registry.getMetricsAsArray() as unknown as PromLike[]) {
    const name = metric.name;
    const kind = promKind(metric);
    const fast = isFastMetric(metric);
    // Metrics read directly are collected here first, as their get() would (bounded by the timeout);
    // a metric whose collector failed is left out. Others collect inside their get().
    const collect = metric.collect;
    if (typeof collect === 'function' && (fast || kind !== undefined)) {
      let outcome = runWithTimeout(() => collect.call(metric), limits.collectorTimeoutMs);
      if (outcome instanceof Promise) outcome = await outcome;
      if (!outcome.ok) {
        if (outcome.timedOut) hooks.timeout(name);
        else hooks.error(name, outcome.error);
        continue;
      }
    }

    if (fast) {
      await writeFastMetric(ctx, metric, hooks);
      continue;
    }
    if (kind !== undefined) {
      const family = openMetrics && kind === 'counter' ? name.replace(/_total$/, '') : name;
      w.begin(`# HELP ${family} ${escapeHelp(metric.help)}\n# TYPE ${family} ${kind}\n`);
      const dropped = await writePromSeries(ctx, metric as unknown as PromInternals, kind);
      if (dropped > 0) hooks.dropped(name, dropped);
      continue;
    }

    // Anything else (custom metric objects, subclasses): their own get(), bounded by the timeout.
    const getter = typeof metric.getForPromString === 'function' ? metric.getForPromString : metric.get;
    if (typeof getter !== 'function') continue;
    let outcome = runWithTimeout(() => getter.call(metric), limits.collectorTimeoutMs);
    if (outcome instanceof Promise) outcome = await outcome;
    if (!outcome.ok) {
      if (outcome.timedOut) hooks.timeout(name);
      else hooks.error(name, outcome.error);
      continue;
    }
    const got = (outcome.value ?? {}) as { values?: GenericValue[]; name?: string; help?: string; type?: string };
    const type = got.type ?? metric.type;
    // prom-client renames OpenMetrics counters before calling get(): their family name has no `_total`.
    let family = got.name ?? name;
    if (openMetrics && type === 'counter') family = family.replace(/_total$/, '');
    w.begin(`# HELP ${family} ${escapeHelp(got.help ?? metric.help)}\n# TYPE ${family} ${type}\n`);
    const values = got.values ?? [];
    // Series of a summary or histogram share their labels; cap by distinct label sets, approximated by lines.
    const end = Math.min(values.length, ctx.cap);
    for (let i = 0; i < end; i++) {
      writeGenericValue(ctx, family, type, values[i] as GenericValue);
      if (w.due()) await w.yieldNow();
    }
    if (values.length > ctx.cap) hooks.dropped(name, values.length - ctx.cap);
  }
  return await w.finish();
}

/** Writes one of this package's metrics from its cached children (label strings formatted once per child). */
async function writeFastMetric(ctx: ScrapeContext, metric: FastMetric<FastChild>, hooks: ScrapeHooks): Promise<void> {
  const { w, defaults, hasDefaults, openMetrics, cap } = ctx;
  const isCounter = metric.type === 'counter';
  const family = openMetrics && isCounter ? metric.name.replace(/_total$/, '') : metric.name;
  const name = openMetrics && isCounter ? `${family}_total` : metric.name;
  w.begin(`# HELP ${family} ${escapeHelp(metric.help)}\n# TYPE ${family} ${metric.type}\n`);
  const extra = hasDefaults ? labelObjectPairs(defaults, Object.fromEntries(metric.labelNames.map((n) => [n, 1]))) : '';
  let n = 0;
  if (metric instanceof FastHistogram) {
    const les = metric.leStrings;
    for (const c of metric.children.values()) {
      if (n++ >= cap) break;
      const base = c.labelString === '' ? extra : extra === '' ? c.labelString : `${c.labelString},${extra}`;
      const pre = base === '' ? '' : `${base},`;
      let acc = 0;
      for (let i = 0; i < les.length; i++) {
        acc += c.counts[i] as number;
        w.push(`${name}_bucket{${pre}le="${les[i]}"} ${acc}\n`);
      }
      const b = base === '' ? '' : `{${base}}`;
      w.push(
        `${name}_bucket{${pre}le="+Inf"} ${c.count}\n${name}_sum${b} ${formatValue(c.sum)}\n${name}_count${b} ${c.count}\n`,
      );
      if (w.due()) await w.yieldNow();
    }
  } else {
    for (const c of metric.children.values() as Iterable<{ labelString: string; value: number }>) {
      if (n++ >= cap) break;
      const base = c.labelString === '' ? extra : extra === '' ? c.labelString : `${c.labelString},${extra}`;
      w.push(base === '' ? `${name} ${formatValue(c.value)}\n` : `${name}{${base}} ${formatValue(c.value)}\n`);
      if (w.due()) await w.yieldNow();
    }
  }
  if (metric.children.size > cap) hooks.dropped(metric.name, metric.children.size - cap);
}

/**
 * Indexes the series maps of the prom-client metrics now in `registry` (see {@link seriesIndex}), so
 * that the one whole-map enumeration an index costs happens now, while the maps are usually small, and
 * not during a later scrape.
 */
export function indexRegistry(registry: Registry): void {
  for (const metric of registry.getMetricsAsArray()) {
    if (promKind(metric) !== undefined)
      seriesIndex((metric as unknown as PromInternals).hashMap as Record<string, unknown>);
  }
}

/** Releases the series indexes of the prom-client metrics in `registry` (see {@link releaseSeriesIndex}). */
export function unindexRegistry(registry: Registry): void {
  for (const metric of registry.getMetricsAsArray()) {
    if (promKind(metric) !== undefined)
      releaseSeriesIndex((metric as unknown as PromInternals).hashMap as Record<string, unknown>);
  }
}
