import { type FastChild, FastMetric } from './fast-metric.js';

/** A gauge child: `set()`/`inc()` allocate nothing. */
export class GaugeChild implements FastChild {
  value = 0;
  constructor(
    readonly labelValues: readonly string[],
    readonly labelString: string,
  ) {}
  set(v: number): void {
    this.value = v;
  }
  inc(n = 1): void {
    this.value += n;
  }
  dec(n = 1): void {
    this.value -= n;
  }
}

/** Gauge with cached children (see {@link FastMetric}). */
export class FastGauge extends FastMetric<GaugeChild> {
  readonly type = 'gauge' as const;
  protected createChild(values: string[], labelString: string): GaugeChild {
    return new GaugeChild(values, labelString);
  }
  async get() {
    await this.collect?.();
    const values = [];
    for (const c of this.children.values()) values.push({ labels: this.labelObject(c), value: c.value });
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }
}
