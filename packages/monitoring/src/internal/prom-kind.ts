import { Counter, Gauge, Histogram, Summary } from 'prom-client';

/** A prom-client metric type whose series the bounded scrape reads from its internal state. */
export type PromKind = 'counter' | 'gauge' | 'histogram' | 'summary';

const CLASSES: Record<PromKind, { prototype: object; name: string }> = {
  counter: Counter,
  gauge: Gauge,
  histogram: Histogram,
  summary: Summary,
};

/**
 * The kind of a metric created by prom-client's own `Counter`, `Gauge`, `Histogram` or `Summary` class
 * (this copy of prom-client, or a duplicate install: same class name, a `Metric` base, same shape), or
 * `undefined` for anything else. Subclasses and instances with their own `get` are `undefined` too: they
 * may change what `get()` reports, so only their `get()` is trusted.
 */
export function promKind(metric: unknown): PromKind | undefined {
  if (typeof metric !== 'object' || metric === null) return undefined;
  const m = metric as { type?: unknown; hashMap?: unknown; upperBounds?: unknown; percentiles?: unknown };
  const kind = m.type;
  if (kind !== 'counter' && kind !== 'gauge' && kind !== 'histogram' && kind !== 'summary') return undefined;
  if (typeof m.hashMap !== 'object' || m.hashMap === null) return undefined;
  if (Object.hasOwn(metric, 'get') || Object.hasOwn(metric, 'getForPromString')) return undefined;
  const cls = CLASSES[kind];
  const proto = Object.getPrototypeOf(metric) as { constructor?: { name?: string } } | null;
  const same =
    proto === cls.prototype ||
    (proto?.constructor?.name === cls.name &&
      (Object.getPrototypeOf(proto) as { constructor?: { name?: string } } | null)?.constructor?.name === 'Metric');
  if (!same) return undefined;
  if (kind === 'histogram' && !Array.isArray(m.upperBounds)) return undefined;
  if (kind === 'summary' && !Array.isArray(m.percentiles)) return undefined;
  return kind;
}
