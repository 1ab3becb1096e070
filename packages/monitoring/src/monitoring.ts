import { performance } from 'node:perf_hooks';
import { collectDefaultMetrics, type Registry } from 'prom-client';
import { AlertManager } from './alert-manager.js';
import { ChannelMetrics } from './channel-metrics.js';
import { ComponentStats } from './component-stats.js';
import { invalidOption, MonitoringError } from './errors.js';
import { boundedScrape, indexRegistry, unindexRegistry } from './internal/bounded-scrape.js';
import { FastCounter } from './internal/fast-counter.js';
import { FastGauge } from './internal/fast-gauge.js';
import { ModelMetrics } from './model-metrics.js';
import { type ResolvedMonitoringOptions, resolveMonitoringOptions } from './options.js';
import { registerSystemMetrics } from './system-metrics.js';
import { SpanBridge } from './tracing.js';
import { TradingMetrics } from './trading-metrics.js';
import type { HealthCheckResult, MonitoringOptions, TracerLike, WatchableComponent } from './types.js';

/** How often the global tracer provider is checked for a registered SDK. */
const TRACER_CHECK_MS = 1_000;

/**
 * Metrics, spans and alerts for a CryptoScalp process.
 *
 * ```ts
 * const monitoring = new Monitoring({ alerting: { rules, routes, notifiers } });
 * monitoring.watch(cache);            // stats() gauges + channel metrics + spans
 * const text = await monitoring.metrics();
 * await monitoring.close();
 * ```
 */
export class Monitoring {
  /** This instance's name (`component` of its channel payloads). */
  readonly name: string;
  /** The prom-client registry (own or injected). */
  readonly registry: Registry;
  /** Alert rules, state, silences, acknowledgements and history. */
  readonly alerts: AlertManager;
  /** Resolves when optional dependencies (`@opentelemetry/api`) have been looked up. Never rejects. */
  readonly ready: Promise<void>;

  private readonly options: ResolvedMonitoringOptions;
  private readonly watched = new Map<string, WatchableComponent>();
  private readonly channelMetrics: ChannelMetrics;
  private readonly componentStats: ComponentStats;
  private readonly spans: SpanBridge;
  private readonly ownMetricNames: string[];
  private readonly dropped: FastCounter;
  /** Metrics whose dropped series were already reported as a process warning. */
  private readonly droppedWarned = new Set<string>();
  private readonly timeouts: FastCounter;
  private readonly collectorErrors: FastCounter;
  private readonly scrapeDuration: FastGauge;
  private tradingMetrics: TradingMetrics | undefined;
  private modelMetrics: ModelMetrics | undefined;
  private tracingTimer: NodeJS.Timeout | undefined;
  private lastScrapeSeconds = 0;
  private closed = false;
  private closing: Promise<void> | undefined;

  constructor(options: MonitoringOptions = {}) {
    this.options = resolveMonitoringOptions(options);
    const { registry, prefix } = this.options;
    this.name = this.options.name;
    this.registry = registry;
    const before = new Set(registry.getMetricsAsArray().map((m) => m.name));
    const isWatched = (component: unknown) => typeof component === 'string' && this.watched.has(component);

    try {
      const p = prefix;
      this.dropped = new FastCounter(
        `${p}cryptoscalp_monitoring_scrape_series_dropped_total`,
        'Series left out of scrapes by the per-metric series cap.',
        ['metric'],
      ).register(registry);
      this.timeouts = new FastCounter(
        `${p}cryptoscalp_monitoring_scrape_collector_timeouts_total`,
        'Metrics left out of scrapes because their collector exceeded the timeout.',
        ['metric'],
      ).register(registry);
      this.collectorErrors = new FastCounter(
        `${p}cryptoscalp_monitoring_scrape_collector_errors_total`,
        'Metrics left out of scrapes because their collector threw.',
        ['metric'],
      ).register(registry);
      this.scrapeDuration = new FastGauge(
        `${p}cryptoscalp_monitoring_scrape_duration_seconds`,
        'Duration of the previous bounded scrape.',
        [],
      ).register(registry);
      this.scrapeDuration.labels().set(0);

      if (this.options.defaultMetrics) {
        try {
          collectDefaultMetrics({ register: registry, prefix });
        } catch (error) {
          throw new MonitoringError(
            'E_MONITORING_DUPLICATE_METRIC',
            'default metrics are already registered in this registry; pass defaultMetrics: false',
            { field: 'defaultMetrics', cause: error },
          );
        }
      }
      if (this.options.systemMetrics !== false) {
        registerSystemMetrics({ registry, prefix, ...this.options.systemMetrics });
      }
      this.channelMetrics = new ChannelMetrics({
        registry,
        prefix,
        durationBuckets: this.options.durationBuckets,
        isWatched,
      });
      this.componentStats = new ComponentStats(registry, prefix);
      this.alerts = new AlertManager({
        name: this.name,
        registry,
        prefix,
        alerting: options.alerting,
      });
    } catch (error) {
      // Leave an injected registry as we found it.
      for (const m of registry.getMetricsAsArray()) if (!before.has(m.name)) registry.removeSingleMetric(m.name);
      throw error;
    }
    this.ownMetricNames = registry
      .getMetricsAsArray()
      .map((m) => m.name)
      .filter((n) => !before.has(n));

    // Series maps indexed now, while usually small, cost no whole-map walk during a scrape (see series-index).
    indexRegistry(registry);
    this.spans = new SpanBridge(isWatched);
    this.ready = this.setupTracing(this.options.tracing);
    this.alerts.start();
  }

  private async setupTracing(tracing: boolean | TracerLike): Promise<void> {
    if (tracing === false) return;
    if (tracing !== true) {
      this.spans.setTracer(tracing);
      return;
    }
    let api: typeof import('@opentelemetry/api');
    try {
      api = await import('@opentelemetry/api');
    } catch {
      return; // @opentelemetry/api is an optional peer: without it there are no spans.
    }
    if (this.closed) return;
    const tracer = api.trace.getTracer('@cryptoscalp/monitoring');
    const provider = api.trace.getTracerProvider() as { getDelegate?: () => { constructor?: { name?: string } } };
    // Without a registered SDK every span would be a no-op object: skip creating them at all (it costs
    // ~0.3 us per operation). Re-check every second so an SDK registered later is picked up.
    const check = () => {
      const delegate = typeof provider.getDelegate === 'function' ? provider.getDelegate() : undefined;
      const noop = delegate?.constructor?.name === 'NoopTracerProvider';
      this.spans.setTracer(noop ? undefined : tracer);
    };
    check();
    this.tracingTimer = setInterval(check, TRACER_CHECK_MS);
    this.tracingTimer.unref();
  }

  /**
   * Watches a component: its `stats()` leaves become gauges read at scrape time, and the operations and
   * state changes it publishes on the `cryptoscalp:*` channels (matched by `component === name`) become
   * metrics and spans. Returns a function that stops watching it.
   * @throws MonitoringError `E_MONITORING_DUPLICATE_COMPONENT` if a component with this name is watched.
   */
  watch(component: WatchableComponent): () => void {
    this.assertOpen();
    if (
      typeof component !== 'object' ||
      component === null ||
      typeof component.name !== 'string' ||
      component.name === ''
    ) {
      throw invalidOption('component', 'must be an object with a non-empty string name');
    }
    if (component.stats !== undefined && typeof component.stats !== 'function') {
      throw invalidOption('component.stats', 'must be a function');
    }
    if (this.watched.has(component.name)) {
      throw new MonitoringError('E_MONITORING_DUPLICATE_COMPONENT', `component ${component.name} is already watched`, {
        field: 'component.name',
      });
    }
    this.watched.set(component.name, component);
    this.componentStats.add(component);
    this.channelMetrics.subscribe();
    this.spans.subscribe();
    let done = false;
    return () => {
      if (done) return;
      done = true;
      this.unwatch(component.name);
    };
  }

  /** Stops watching the component named `name` (no-op if it is not watched). */
  unwatch(name: string): void {
    if (!this.watched.delete(name)) return;
    this.componentStats.remove(name);
    if (this.watched.size === 0) {
      this.channelMetrics.unsubscribe();
      this.spans.unsubscribe();
    }
  }

  /** Names of the watched components. */
  watching(): string[] {
    return [...this.watched.keys()];
  }

  /** True while subscribed to the diagnostics channels (at least one component watched). */
  get subscribed(): boolean {
    return this.channelMetrics.active;
  }

  /**
   * Content type of {@link metrics}: the registry's (Prometheus text format 0.0.4, or OpenMetrics 1.0.0
   * for a registry created with `Registry.OPENMETRICS_CONTENT_TYPE`).
   */
  get contentType(): string {
    return this.registry.contentType;
  }

  /**
   * The exposition of the registry, the same text as prom-client's `registry.metrics()` (Prometheus text
   * format or OpenMetrics, per the registry's content type), serialized with yields to the event loop:
   * at most `scrape.sliceMs` of synchronous work at a time, also inside a metric with many series. At
   * most `scrape.maxSeriesPerMetric` label sets per metric (no cap by default) and a
   * `scrape.collectorTimeoutMs` limit per collector; a collector that fails or times out leaves its metric
   * out and is counted.
   */
  async metrics(): Promise<string> {
    return this.scrape(undefined);
  }

  /**
   * Like {@link metrics}, but hands the text to `write` one slice at a time (each chunk is the text of at
   * most `scrape.sliceMs` of work) instead of returning it, so an HTTP handler can `res.write()` each
   * chunk: turning one multi-megabyte string into bytes at `res.end(text)` is itself a synchronous step of
   * several milliseconds per megabyte. A promise returned by `write` is awaited before the scrape goes on
   * (backpressure); if `write` throws or rejects, the scrape stops and this rejects with that error.
   */
  async writeMetrics(write: (chunk: string) => void | Promise<void>): Promise<void> {
    if (typeof write !== 'function') throw invalidOption('write', 'must be a function');
    await this.scrape(write);
  }

  private async scrape(sink: ((chunk: string) => void | Promise<void>) | undefined): Promise<string> {
    this.assertOpen();
    const started = performance.now();
    // Read stats() first so that leaves seen for the first time are registered before the metric list is taken.
    this.componentStats.refresh(true);
    const text = await boundedScrape(
      this.registry,
      this.options.scrape,
      {
        dropped: (metric, count) => {
          this.dropped.labels(metric).inc(count);
          if (this.droppedWarned.has(metric)) return;
          this.droppedWarned.add(metric);
          process.emitWarning(
            `${this.options.name}: scrape.maxSeriesPerMetric (${this.options.scrape.maxSeriesPerMetric}) reached by ${metric}: ${count} label sets left out of this scrape (counted in cryptoscalp_monitoring_scrape_series_dropped_total; reported once per metric)`,
            { code: 'E_MONITORING_SERIES_DROPPED' },
          );
        },
        timeout: (metric) => this.timeouts.labels(metric).inc(),
        error: (metric) => this.collectorErrors.labels(metric).inc(),
      },
      sink,
    );
    this.lastScrapeSeconds = (performance.now() - started) / 1000;
    this.scrapeDuration.labels().set(this.lastScrapeSeconds);
    return text;
  }

  /** Trading metrics (PnL, volume, trades, win/loss, drawdown, exposure) in this registry; created once. */
  trading(): TradingMetrics {
    this.assertOpen();
    if (this.tradingMetrics === undefined) {
      this.tradingMetrics = new TradingMetrics({ registry: this.registry, prefix: this.options.prefix });
      this.ownMetricNames.push(...this.tradingMetrics.metricNames());
    }
    return this.tradingMetrics;
  }

  /** Model metrics (inference latency, hit rate) in this registry; created once. */
  models(): ModelMetrics {
    this.assertOpen();
    if (this.modelMetrics === undefined) {
      this.modelMetrics = new ModelMetrics({ registry: this.registry, prefix: this.options.prefix });
      this.ownMetricNames.push(...this.modelMetrics.metricNames());
    }
    return this.modelMetrics;
  }

  /**
   * A cheap synchronous snapshot: `watched` (component count), `subscribed` (0/1), `lastScrapeSeconds`,
   * and `alerts` ({@link AlertManager.stats}: pending, firing, groups, silences, history, rules, queues).
   */
  stats(): Record<string, unknown> {
    return {
      watched: this.watched.size,
      subscribed: this.channelMetrics.active ? 1 : 0,
      lastScrapeSeconds: this.lastScrapeSeconds,
      alerts: this.alerts.stats(),
    };
  }

  /**
   * Health in the `@cryptoscalp/health` shape: `fail` once closed, `warn` while a notifier has given up on
   * a notification in the last 15 minutes or a critical alert fires, else `pass`.
   */
  async healthCheck(_signal?: AbortSignal): Promise<HealthCheckResult> {
    const time = new Date().toISOString();
    if (this.closed) return { status: 'fail', output: 'monitoring is closed', time };
    const active = this.alerts.active();
    const firing = active.filter((a) => a.state === 'firing');
    const critical = firing.filter((a) => a.severity === 'critical' && a.silencedBy.length === 0 && !a.inhibited);
    const failing = this.alerts.failingNotifiers(15 * 60_000);
    const status = failing.length > 0 || critical.length > 0 ? 'warn' : 'pass';
    return {
      status,
      observedValue: firing.length,
      observedUnit: 'firing alerts',
      time,
      ...(status === 'warn'
        ? {
            output:
              failing.length > 0
                ? `notifiers failing: ${failing.join(', ')}`
                : `${critical.length} critical alert(s) firing`,
          }
        : {}),
      details: {
        watched: this.watching(),
        firing: firing.length,
        pending: active.length - firing.length,
        failingNotifiers: failing,
      },
    };
  }

  /**
   * Stops evaluating, delivers what the notifier queues can deliver within `drainTimeoutMs`, unsubscribes
   * from every channel and removes this instance's metrics from an injected registry (an own registry
   * is cleared). Always resolves within `drainTimeoutMs` (default 5000): a notification still retrying
   * then is given up (its in-flight request aborted) and a notifier's own `close()` is not waited past it.
   * Idempotent.
   */
  close(options: { drainTimeoutMs?: number } = {}): Promise<void> {
    if (this.closing === undefined) {
      this.closed = true;
      this.closing = (async () => {
        this.channelMetrics.unsubscribe();
        this.spans.unsubscribe();
        this.spans.setTracer(undefined);
        clearInterval(this.tracingTimer);
        this.watched.clear();
        await this.alerts.close(options.drainTimeoutMs ?? 5_000);
        // The user's metrics get their series maps back as they were (see internal/series-index.ts).
        unindexRegistry(this.registry);
        if (this.options.ownRegistry) this.registry.clear();
        else
          for (const name of [...this.ownMetricNames, ...this.componentStats.metricNames()])
            this.registry.removeSingleMetric(name);
      })();
    }
    return this.closing;
  }

  private assertOpen(): void {
    if (this.closed) throw new MonitoringError('E_MONITORING_CLOSED', `monitoring ${this.name} is closed`);
  }
}
