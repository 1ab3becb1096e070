import type { Registry } from 'prom-client';
import { MonitoringError } from '../errors.js';
import { labelPairs } from './text-format.js';

/** Marks metrics whose series the bounded scrape can read directly. */
export const kFastMetric = Symbol('cryptoscalp.monitoring.fastMetric');

/** Base of one label set. */
export interface FastChild {
  /** Label values in `labelNames` order. */
  readonly labelValues: readonly string[];
  /** `a="x",b="y"` computed once. */
  readonly labelString: string;
}

const SEP = '\u0001';

/**
 * A prom-client-compatible metric (it can live in a prom-client `Registry` and is printed by
 * `registry.metrics()` too) whose label children are created once and cached, so that updating a
 * child allocates nothing. Callers keep the child and call its methods on the hot path.
 */
export abstract class FastMetric<C extends FastChild> {
  readonly [kFastMetric] = true;
  abstract readonly type: 'counter' | 'gauge' | 'histogram';
  /** prom-client cluster aggregation. */
  readonly aggregator: string;
  readonly children = new Map<string, C>();
  /** Optional hook run before reading at scrape time (like prom-client's `collect`). */
  collect?: () => void | Promise<void>;

  constructor(
    readonly name: string,
    readonly help: string,
    readonly labelNames: readonly string[],
    aggregator = 'sum',
  ) {
    this.aggregator = aggregator;
  }

  /** The child for these label values (in `labelNames` order), created on first use. Cache the result. */
  labels(...values: string[]): C {
    const key = values.length === 1 ? (values[0] as string) : values.join(SEP);
    let child = this.children.get(key);
    if (child === undefined) {
      if (values.length !== this.labelNames.length) {
        throw new MonitoringError(
          'E_MONITORING_INVALID_OPTION',
          `${this.name} expects ${this.labelNames.length} label values, got ${values.length}`,
          { metric: this.name },
        );
      }
      child = this.createChild(values, labelPairs(this.labelNames, values));
      this.children.set(key, child);
    }
    return child;
  }

  /** Drops one child (e.g. a component that was unwatched). */
  remove(...values: string[]): void {
    this.children.delete(values.length === 1 ? (values[0] as string) : values.join(SEP));
  }

  /** Drops every child. */
  reset(): void {
    this.children.clear();
  }

  protected abstract createChild(values: string[], labelString: string): C;

  /** prom-client `get()` shape, so plain `registry.metrics()` and `getMetricsAsJSON()` work too. */
  abstract get(): Promise<{
    name: string;
    help: string;
    type: string;
    aggregator: string;
    values: { labels: Record<string, string | number>; value: number; metricName?: string }[];
  }>;

  /** Registers this metric, turning prom-client's duplicate error into a {@link MonitoringError}. */
  register(registry: Registry): this {
    registerMetric(registry, this);
    return this;
  }

  protected labelObject(child: C): Record<string, string | number> {
    const out: Record<string, string | number> = {};
    for (let i = 0; i < this.labelNames.length; i++) out[this.labelNames[i] as string] = child.labelValues[i] as string;
    return out;
  }
}

/** Registers any metric object, naming duplicates with a {@link MonitoringError}. */
export function registerMetric(registry: Registry, metric: { name: string }): void {
  try {
    // biome-ignore lint/suspicious/noExplicitAny: prom-client's registerMetric is typed for its own Metric class.
    registry.registerMetric(metric as any);
  } catch (error) {
    throw new MonitoringError('E_MONITORING_DUPLICATE_METRIC', `metric ${metric.name} is already registered`, {
      metric: metric.name,
      cause: error,
    });
  }
}

/** True for metrics made by this package. */
export function isFastMetric(metric: unknown): metric is FastMetric<FastChild> {
  return typeof metric === 'object' && metric !== null && kFastMetric in metric;
}
