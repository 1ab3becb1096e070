import { Counter, Gauge, Histogram, Registry, Summary } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { Monitoring } from '../../src/index.js';
import { parseExposition, sample } from '../helpers.js';

const open: Monitoring[] = [];
function make(
  registry: Registry,
  scrape: NonNullable<ConstructorParameters<typeof Monitoring>[0]>['scrape'] = {},
): Monitoring {
  const m = new Monitoring({ registry, defaultMetrics: false, systemMetrics: false, tracing: false, scrape });
  open.push(m);
  return m;
}
afterEach(async () => {
  await Promise.all(open.splice(0).map((m) => m.close()));
});

function populate(registry: Registry): void {
  const c = new Counter({
    name: 'req_total',
    help: 'Requests\nwith "newline" \\ backslash',
    labelNames: ['route', 'code'],
    registers: [registry],
  });
  c.labels('/a', '200').inc(5);
  c.labels('/b"quoted\\', '500').inc(2);
  c.inc({ route: 'multi\nline', code: '200' });
  const g = new Gauge({ name: 'queue_depth', help: 'Depth', registers: [registry] });
  g.set(Number.POSITIVE_INFINITY);
  const g2 = new Gauge({
    name: 'collected_value',
    help: 'Set by collect',
    labelNames: ['k'],
    registers: [registry],
    async collect() {
      await new Promise((r) => setTimeout(r, 1));
      this.labels('x').set(42);
    },
  });
  void g2;
  const h = new Histogram({
    name: 'latency_seconds',
    help: 'Latency',
    labelNames: ['op'],
    buckets: [0.1, 0.5, 1],
    registers: [registry],
  });
  h.labels('get').observe(0.05);
  h.labels('get').observe(0.7);
  h.labels('set').observe(3);
  const nolabel = new Histogram({ name: 'plain_seconds', help: 'Plain', buckets: [1], registers: [registry] });
  nolabel.observe(0.5);
  const s = new Summary({
    name: 'size_bytes',
    help: 'Size',
    percentiles: [0.5, 0.9],
    labelNames: ['kind'],
    registers: [registry],
  });
  s.labels('a').observe(10);
  s.labels('a').observe(20);
}

describe('bounded scrape', () => {
  it('produces the same series and values as prom-client registry.metrics()', async () => {
    const registry = new Registry();
    populate(registry);
    registry.setDefaultLabels({ service: 'trader', route: 'never-overrides' });
    const m = make(registry);
    const ours = parseExposition(await m.metrics());
    const theirs = parseExposition(await registry.metrics());
    for (const [key, value] of theirs) {
      // prom-client writes NaN as "Nan"; both parse to NaN.
      expect(ours.has(key), key).toBe(true);
      if (key.startsWith('cryptoscalp_monitoring_')) continue; // changes between the two scrapes
      if (Number.isNaN(value)) expect(Number.isNaN(ours.get(key))).toBe(true);
      else expect(ours.get(key), key).toBe(value);
    }
    // Ours only adds the monitoring's own metrics.
    for (const key of ours.keys())
      if (!theirs.has(key)) expect(key).toMatch(/^cryptoscalp_|^system_|^process_|^(db|cache)_/);
    const d = { service: 'trader', route: 'never-overrides' };
    expect(sample(ours, 'latency_seconds_bucket', { ...d, op: 'get', le: '0.5' })).toBe(1);
    expect(sample(ours, 'latency_seconds_bucket', { ...d, op: 'set', le: '+Inf' })).toBe(1);
    expect(sample(ours, 'collected_value', { ...d, k: 'x' })).toBe(42);
    expect(sample(ours, 'queue_depth', d)).toBe(Number.POSITIVE_INFINITY);
    // A series' own label wins over a default label of the same name.
    expect(sample(ours, 'req_total', { service: 'trader', route: '/a', code: '200' })).toBe(5);
  });

  it('escapes label values and help text', async () => {
    const registry = new Registry();
    populate(registry);
    const text = await make(registry).metrics();
    expect(text).toContain('# HELP req_total Requests\\nwith "newline" \\\\ backslash');
    expect(text).toContain('route="/b\\"quoted\\\\"');
    expect(text).toContain('route="multi\\nline"');
  });

  it('caps series per metric and counts the overflow', async () => {
    const registry = new Registry();
    const c = new Counter({ name: 'wide_total', help: 'x', labelNames: ['id'], registers: [registry] });
    for (let i = 0; i < 50; i++) c.labels(String(i)).inc();
    const h = new Histogram({
      name: 'wide_seconds',
      help: 'x',
      labelNames: ['id'],
      buckets: [1],
      registers: [registry],
    });
    for (let i = 0; i < 30; i++) h.labels(String(i)).observe(0.1);
    const m = make(registry, { maxSeriesPerMetric: 20 });
    const first = await m.metrics();
    expect((first.match(/^wide_total\{/gm) ?? []).length).toBe(20);
    expect((first.match(/^wide_seconds_count\{/gm) ?? []).length).toBe(20);
    const second = parseExposition(await m.metrics());
    expect(sample(second, 'cryptoscalp_monitoring_scrape_series_dropped_total', { metric: 'wide_total' })).toBe(60);
    expect(sample(second, 'cryptoscalp_monitoring_scrape_series_dropped_total', { metric: 'wide_seconds' })).toBe(20);
  });

  it('reports dropped series once per metric as a process warning', async () => {
    const registry = new Registry();
    const c = new Counter({ name: 'wide2_total', help: 'x', labelNames: ['id'], registers: [registry] });
    for (let i = 0; i < 5; i++) c.labels(String(i)).inc();
    const warnings: Error[] = [];
    const onWarning = (w: Error) => warnings.push(w);
    process.on('warning', onWarning);
    try {
      const m = make(registry, { maxSeriesPerMetric: 2 });
      await m.metrics();
      await m.metrics();
      await new Promise((r) => setImmediate(r));
      // Only this test's metric: warnings of earlier tests may still be on their way.
      const ours = warnings.filter(
        (w) =>
          (w as Error & { code?: string }).code === 'E_MONITORING_SERIES_DROPPED' && w.message.includes('wide2_total'),
      );
      expect(ours).toHaveLength(1);
    } finally {
      process.off('warning', onWarning);
    }
  });

  it('exposes a user registry whole by default: no series cap unless asked for', async () => {
    const registry = new Registry();
    const c = new Counter({ name: 'huge_total', help: 'x', labelNames: ['id'], registers: [registry] });
    for (let i = 0; i < 25_000; i++) c.labels(String(i)).inc();
    const text = await make(registry).metrics();
    expect((text.match(/^huge_total\{/gm) ?? []).length).toBe(25_000);
    expect(text).not.toContain('cryptoscalp_monitoring_scrape_series_dropped_total{metric="huge_total"}');
  });

  it('skips a hanging or failing collector after the timeout and counts it', async () => {
    const registry = new Registry();
    new Gauge({
      name: 'hangs',
      help: 'never finishes',
      registers: [registry],
      collect: () => new Promise<void>(() => {}),
    });
    new Gauge({
      name: 'throws',
      help: 'throws',
      registers: [registry],
      collect() {
        throw new Error('collector broke');
      },
    });
    const custom = {
      name: 'custom_metric',
      help: 'custom',
      type: 'gauge',
      get: () => new Promise(() => {}),
      reset() {},
    };
    registry.registerMetric(custom as never);
    new Gauge({ name: 'fine', help: 'ok', registers: [registry] }).set(1);
    const m = make(registry, { collectorTimeoutMs: 50 });
    const text = await m.metrics();
    expect(text).not.toMatch(/^# TYPE hangs /m);
    expect(text).not.toMatch(/^throws /m);
    expect(text).not.toMatch(/^custom_metric /m);
    expect(sample(text, 'fine')).toBe(1);
    const after = parseExposition(await m.metrics());
    // Both scrapes skipped them (and counted before the counters were written).
    expect(sample(after, 'cryptoscalp_monitoring_scrape_collector_timeouts_total', { metric: 'hangs' })).toBe(2);
    expect(sample(after, 'cryptoscalp_monitoring_scrape_collector_timeouts_total', { metric: 'custom_metric' })).toBe(
      2,
    );
    expect(sample(after, 'cryptoscalp_monitoring_scrape_collector_errors_total', { metric: 'throws' })).toBe(2);
  });

  it('yields to the event loop during a large scrape', async () => {
    const registry = new Registry();
    for (let k = 0; k < 10; k++) {
      const c = new Counter({ name: `big_${k}_total`, help: 'x', labelNames: ['id'], registers: [registry] });
      for (let i = 0; i < 3000; i++) c.labels(String(i)).inc(i);
    }
    const m = make(registry, { sliceMs: 1 });
    let ticks = 0;
    let running = true;
    const tick = () => {
      ticks++;
      if (running) setImmediate(tick);
    };
    setImmediate(tick);
    const text = await m.metrics();
    running = false;
    expect((text.match(/^big_/gm) ?? []).length).toBe(30_000);
    // With 1 ms slices, the ticker ran many times during the scrape.
    expect(ticks).toBeGreaterThan(3);
  });

  it("serves this package's own metrics through plain registry.metrics() too", async () => {
    const registry = new Registry();
    const m = make(registry);
    m.watch({ name: 'cache', stats: () => ({ l1: { hits: 3 } }) });
    m.models().observeInference('m1', 0.002);
    const text = await registry.metrics();
    expect(sample(text, 'cryptoscalp_stats_l1_hits', { component: 'cache' })).toBe(3);
    expect(sample(text, 'cryptoscalp_model_inference_duration_seconds_count', { model: 'm1' })).toBe(1);
    expect(sample(text, 'cryptoscalp_model_inference_duration_seconds_bucket', { model: 'm1', le: '0.0025' })).toBe(1);
    expect(JSON.stringify(await registry.getMetricsAsJSON())).toContain('cryptoscalp_model_inference_duration_seconds');
  });
});

describe('bounded scrape: collectors', () => {
  it('runs each collector exactly once per scrape, summaries included', async () => {
    const registry = new Registry();
    let gaugeCollects = 0;
    let summaryCollects = 0;
    new Gauge({
      name: 'g_collected',
      help: 'x',
      registers: [registry],
      collect() {
        gaugeCollects++;
        this.set(gaugeCollects);
      },
    });
    new Summary({
      name: 's_collected',
      help: 'x',
      registers: [registry],
      collect() {
        summaryCollects++;
      },
    }).observe(1);
    const m = new Monitoring({ registry, defaultMetrics: false, systemMetrics: false, tracing: false });
    try {
      const text = await m.metrics();
      expect(gaugeCollects).toBe(1);
      expect(summaryCollects).toBe(1);
      expect(sample(text, 'g_collected')).toBe(1);
      expect(sample(text, 's_collected_count')).toBe(1);
    } finally {
      await m.close();
    }
  });
});
