import { type FastChild, FastMetric } from './fast-metric.js';

/** A counter child: `inc()` allocates nothing. */
export class CounterChild implements FastChild {
  value = 0;
  constructor(
    readonly labelValues: readonly string[],
    readonly labelString: string,
  ) {}
  /** Adds `n` (default 1); negative values are ignored. */
  inc(n = 1): void {
    if (n > 0) this.value += n;
  }
}

/** Counter with cached children (see {@link FastMetric}). */
export class FastCounter extends FastMetric<CounterChild> {
  readonly type = 'counter' as const;
  protected createChild(values: string[], labelString: string): CounterChild {
    return new CounterChild(values, labelString);
  }
  async get() {
    await this.collect?.();
    const values = [];
    for (const c of this.children.values()) values.push({ labels: this.labelObject(c), value: c.value });
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }
}
