import type { Registry } from 'prom-client';
import { invalidOption } from './errors.js';
import { type CounterChild, FastCounter } from './internal/fast-counter.js';
import { FastGauge, type GaugeChild } from './internal/fast-gauge.js';
import { FastHistogram, type HistogramChild } from './internal/fast-histogram.js';

/** Where model metrics are registered. */
export interface ModelMetricsOptions {
  /** The prom-client registry. */
  registry: Registry;
  /** Metric name prefix. @default '' */
  prefix?: string;
  /** Inference latency buckets (seconds). @default 50 us ... 1 s (13 buckets) */
  buckets?: number[];
}

/**
 * Model metrics:
 * - `cryptoscalp_model_inference_duration_seconds{model}` (histogram)
 * - `cryptoscalp_model_predictions_total{model,outcome}` (counter; hit, miss)
 * - `cryptoscalp_model_hit_ratio{model}` (gauge; hits / predictions since start)
 */
export class ModelMetrics {
  private readonly inference: FastHistogram;
  private readonly predictions: FastCounter;
  private readonly hitRatio: FastGauge;
  private readonly models = new Map<
    string,
    { latency: HistogramChild; hit: CounterChild; miss: CounterChild; ratio: GaugeChild }
  >();

  constructor(options: ModelMetricsOptions) {
    const p = options.prefix ?? '';
    this.inference = new FastHistogram(
      `${p}cryptoscalp_model_inference_duration_seconds`,
      'Model inference latency.',
      ['model'],
      options.buckets ?? [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
    ).register(options.registry);
    this.predictions = new FastCounter(`${p}cryptoscalp_model_predictions_total`, 'Predictions scored, by outcome.', [
      'model',
      'outcome',
    ]).register(options.registry);
    this.hitRatio = new FastGauge(`${p}cryptoscalp_model_hit_ratio`, 'Hits / scored predictions since start.', [
      'model',
    ]).register(options.registry);
  }

  /** @internal */
  metricNames(): string[] {
    return [this.inference.name, this.predictions.name, this.hitRatio.name];
  }

  private model(name: string) {
    let m = this.models.get(name);
    if (m === undefined) {
      if (typeof name !== 'string' || name === '') throw invalidOption('model', 'must be a non-empty string');
      m = {
        latency: this.inference.labels(name),
        hit: this.predictions.labels(name, 'hit'),
        miss: this.predictions.labels(name, 'miss'),
        ratio: this.hitRatio.labels(name),
      };
      this.models.set(name, m);
    }
    return m;
  }

  /** Observes one inference latency in seconds. */
  observeInference(model: string, seconds: number): void {
    this.model(model).latency.observe(seconds);
  }

  /** Times `fn` (sync or async) as one inference and returns its result. */
  async timeInference<T>(model: string, fn: () => T | Promise<T>): Promise<T> {
    const t0 = performance.now();
    try {
      return await fn();
    } finally {
      this.observeInference(model, (performance.now() - t0) / 1000);
    }
  }

  /** Scores one prediction as a hit or a miss. */
  recordPrediction(model: string, hit: boolean): void {
    const m = this.model(model);
    if (hit) m.hit.inc();
    else m.miss.inc();
    m.ratio.set(m.hit.value / (m.hit.value + m.miss.value));
  }
}
