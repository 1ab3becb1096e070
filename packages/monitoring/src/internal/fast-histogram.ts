import { MonitoringError } from '../errors.js';
import { type FastChild, FastMetric } from './fast-metric.js';
import { formatValue } from './text-format.js';

/** A histogram child: `observe()` does a bucket scan and three additions, no allocation. */
export class HistogramChild implements FastChild {
  /** Non-cumulative count per bucket (same order as `upperBounds`). */
  readonly counts: Float64Array;
  sum = 0;
  count = 0;
  constructor(
    readonly labelValues: readonly string[],
    readonly labelString: string,
    private readonly upperBounds: Float64Array,
  ) {
    this.counts = new Float64Array(upperBounds.length);
  }
  observe(value: number): void {
    if (Number.isNaN(value)) return;
    const bounds = this.upperBounds;
    for (let i = 0; i < bounds.length; i++) {
      if (value <= (bounds[i] as number)) {
        (this.counts as Float64Array)[i] = (this.counts[i] as number) + 1;
        break;
      }
    }
    this.sum += value;
    this.count++;
  }
}

/** Histogram with cached children (see {@link FastMetric}). */
export class FastHistogram extends FastMetric<HistogramChild> {
  readonly type = 'histogram' as const;
  readonly upperBounds: Float64Array;
  /** `le` label values, formatted once. */
  readonly leStrings: readonly string[];

  constructor(name: string, help: string, labelNames: readonly string[], buckets: readonly number[]) {
    super(name, help, labelNames);
    const sorted = [...buckets].sort((a, b) => a - b);
    for (let i = 0; i < sorted.length; i++) {
      if (!Number.isFinite(sorted[i]) || (i > 0 && sorted[i] === sorted[i - 1])) {
        throw new MonitoringError('E_MONITORING_INVALID_OPTION', `${name}: buckets must be finite and distinct`, {
          metric: name,
          field: 'buckets',
        });
      }
    }
    this.upperBounds = Float64Array.from(sorted);
    this.leStrings = sorted.map(formatValue);
  }

  protected createChild(values: string[], labelString: string): HistogramChild {
    return new HistogramChild(values, labelString, this.upperBounds);
  }

  async get() {
    await this.collect?.();
    const values: { labels: Record<string, string | number>; value: number; metricName: string }[] = [];
    for (const c of this.children.values()) {
      const labels = this.labelObject(c);
      let acc = 0;
      for (let i = 0; i < this.upperBounds.length; i++) {
        acc += c.counts[i] as number;
        values.push({
          labels: { ...labels, le: this.upperBounds[i] as number },
          value: acc,
          metricName: `${this.name}_bucket`,
        });
      }
      values.push({ labels: { ...labels, le: '+Inf' }, value: c.count, metricName: `${this.name}_bucket` });
      values.push({ labels, value: c.sum, metricName: `${this.name}_sum` });
      values.push({ labels, value: c.count, metricName: `${this.name}_count` });
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }
}
