import { performance } from 'node:perf_hooks';
import type { Registry } from 'prom-client';
import { FastHistogram } from './fast-histogram.js';
import { isFastMetric } from './fast-metric.js';
import { braces, escapeHelp, formatValue, labelObjectPairs } from './text-format.js';

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

class ChunkWriter {
  readonly chunks: string[] = [];
  /** Lines of the current slice; joined flat per slice (no deep string ropes for the GC to walk). */
  private parts: string[] = [];
  private sliceStart = performance.now();
  private ops = 0;
  constructor(private readonly sliceMs: number) {}

  push(s: string): void {
    this.parts.push(s);
  }

  /** True when the current slice is used up; call {@link yieldNow} then. Checked every 32 calls. */
  due(): boolean {
    return (++this.ops & 31) === 0 && performance.now() - this.sliceStart >= this.sliceMs;
  }

  async yieldNow(): Promise<void> {
    this.chunks.push(this.parts.join(''));
    this.parts = [];
    await new Promise<void>((resolve) => setImmediate(resolve));
    this.sliceStart = performance.now();
  }

  finish(): string {
    this.chunks.push(this.parts.join(''));
    this.parts = [];
    return this.chunks.join('');
  }
}

/**
 * prom-client keeps one `labels` object per series for the series' life: its formatted label string
 * is cached here (keyed weakly by that object, and by the default labels in force) so a scrape
 * formats each series' labels once, not on every scrape.
 */
const labelStringCache = new WeakMap<object, { defaults: Record<string, unknown>; text: string }>();

function cachedLabels(
  labels: Record<string, unknown>,
  defaults: Record<string, unknown>,
  hasDefaults: boolean,
): string {
  const hit = labelStringCache.get(labels);
  if (hit !== undefined && hit.defaults === defaults) return hit.text;
  const own = labelObjectPairs(labels);
  const extra = hasDefaults ? labelObjectPairs(defaults, labels) : '';
  const text = own === '' ? extra : extra === '' ? own : `${own},${extra}`;
  labelStringCache.set(labels, { defaults, text });
  return text;
}

interface HashEntry {
  labels?: Record<string, unknown>;
  value?: number;
  bucketValues?: Record<string, number>;
  sum?: number;
  count?: number;
}

interface PromLike {
  name: string;
  help: string;
  type: string;
  collect?: () => unknown;
  hashMap?: Record<string, HashEntry>;
  upperBounds?: number[];
  get?: () => Promise<{ values?: GenericValue[]; help?: string; type?: string }>;
  getForPromString?: () => Promise<{ values?: GenericValue[] }>;
}

interface GenericValue {
  labels?: Record<string, unknown>;
  sharedLabels?: Record<string, unknown>;
  value: number;
  metricName?: string;
}

/**
 * Serializes every metric of `registry` in the Prometheus text format, one metric at a time,
 * yielding to the event loop whenever a slice of `sliceMs` is used up. prom-client counters,
 * gauges and histograms and this package's own metrics are read directly from their series maps
 * (no intermediate objects); other metric types go through their `get()`.
 */
export async function boundedScrape(registry: Registry, limits: ScrapeLimits, hooks: ScrapeHooks): Promise<string> {
  const w = new ChunkWriter(limits.sliceMs);
  const defaults = ((registry as unknown as { _defaultLabels?: Record<string, unknown> })._defaultLabels ??
    {}) as Record<string, unknown>;
  const hasDefaults = Object.keys(defaults).length > 0;
  const cap = limits.maxSeriesPerMetric;

  for (const metric of registry.getMetricsAsArray() as unknown as PromLike[]) {
    const name = metric.name;
    const collect = metric.collect;
    // Collect first (it may be async and may hang); a metric whose collector failed is left out.
    const direct =
      isFastMetric(metric) ||
      (metric.hashMap !== undefined &&
        (metric.type === 'counter' ||
          metric.type === 'gauge' ||
          (metric.type === 'histogram' && Array.isArray(metric.upperBounds))));
    // Metrics read directly are collected here (bounded by the timeout); others collect inside their get().
    if (typeof collect === 'function' && direct) {
      let outcome = runWithTimeout(() => collect.call(metric), limits.collectorTimeoutMs);
      if (outcome instanceof Promise) outcome = await outcome;
      if (!outcome.ok) {
        if (outcome.timedOut) hooks.timeout(name);
        else hooks.error(name, outcome.error);
        continue;
      }
    }
    const header = `# HELP ${name} ${escapeHelp(metric.help)}\n# TYPE ${name} ${metric.type}\n`;

    if (isFastMetric(metric)) {
      w.push(header);
      const extra = hasDefaults
        ? labelObjectPairs(defaults, Object.fromEntries(metric.labelNames.map((n) => [n, 1])))
        : '';
      let n = 0;
      // Fast metrics cache their label string per child; only default labels are appended here.
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
      if (metric.children.size > cap) hooks.dropped(name, metric.children.size - cap);
      continue;
    }

    const hashMap = metric.hashMap;
    if (hashMap !== undefined && (metric.type === 'counter' || metric.type === 'gauge')) {
      w.push(header);
      const entries = Object.values(hashMap);
      const end = Math.min(entries.length, cap);
      for (let i = 0; i < end; i++) {
        const e = entries[i] as HashEntry;
        const base = e.labels === undefined ? '' : cachedLabels(e.labels, defaults, hasDefaults);
        w.push(
          base === '' ? `${name} ${formatValue(e.value ?? 0)}\n` : `${name}{${base}} ${formatValue(e.value ?? 0)}\n`,
        );
        if (w.due()) await w.yieldNow();
      }
      if (entries.length > cap) hooks.dropped(name, entries.length - cap);
      continue;
    }
    if (hashMap !== undefined && metric.type === 'histogram' && Array.isArray(metric.upperBounds)) {
      w.push(header);
      const bounds = metric.upperBounds;
      const les = bounds.map(formatValue);
      const entries = Object.values(hashMap);
      const end = Math.min(entries.length, cap);
      for (let j = 0; j < end; j++) {
        const e = entries[j] as HashEntry;
        const base = e.labels === undefined ? '' : cachedLabels(e.labels, defaults, hasDefaults);
        const pre = base === '' ? '' : `${base},`;
        let acc = 0;
        for (let i = 0; i < bounds.length; i++) {
          acc += e.bucketValues?.[String(bounds[i])] ?? 0;
          w.push(`${name}_bucket{${pre}le="${les[i]}"} ${acc}\n`);
        }
        const b = base === '' ? '' : `{${base}}`;
        w.push(
          `${name}_bucket{${pre}le="+Inf"} ${e.count ?? 0}\n${name}_sum${b} ${formatValue(e.sum ?? 0)}\n${name}_count${b} ${e.count ?? 0}\n`,
        );
        if (w.due()) await w.yieldNow();
      }
      if (entries.length > cap) hooks.dropped(name, entries.length - cap);
      continue;
    }

    // Anything else (summaries, custom metric objects): their own get(), bounded by the timeout.
    const getter = typeof metric.getForPromString === 'function' ? metric.getForPromString : metric.get;
    if (typeof getter !== 'function') continue;
    let outcome = runWithTimeout(() => getter.call(metric), limits.collectorTimeoutMs);
    if (outcome instanceof Promise) outcome = await outcome;
    if (!outcome.ok) {
      if (outcome.timedOut) hooks.timeout(name);
      else hooks.error(name, outcome.error);
      continue;
    }
    const values = ((outcome.value as { values?: GenericValue[] } | undefined)?.values ?? []) as GenericValue[];
    w.push(header);
    // Series of a summary or histogram share their labels; cap by distinct label sets, approximated by lines.
    const end = Math.min(values.length, cap);
    for (let i = 0; i < end; i++) {
      const v = values[i] as GenericValue;
      const labels = v.labels ?? {};
      const shared = v.sharedLabels ?? {};
      const own = { ...shared, ...labels };
      w.push(
        `${v.metricName ?? name}${braces(labelObjectPairs(own), hasDefaults ? labelObjectPairs(defaults, own) : '')} ${formatValue(v.value)}\n`,
      );
      if (w.due()) await w.yieldNow();
    }
    if (values.length > cap) hooks.dropped(name, values.length - cap);
  }
  return w.finish();
}
