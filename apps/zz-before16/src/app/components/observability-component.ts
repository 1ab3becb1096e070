import { Monitoring } from '@cryptoscalp/monitoring';
import type { TraderConfig } from '../../config/config-types.js';
import { TraderError } from '../../errors.js';
import type { AlertsSource } from '../../http/alert-manager-port.js';
import { alertsFromAlertManager } from '../../http/alert-manager-port.js';
import type { Component } from '../../kernel/component.js';
import type { Fill } from '../../model/types.js';
import { createObservability } from '../observability.js';
import type { EngineComponent } from './engine-component.js';

/** What `Monitoring.watch` takes. */
type WatchSource = Parameters<Monitoring['watch']>[0];

/**
 * `@cryptoscalp/monitoring`: in the engine roles the trader's stage latencies, business and model metrics and
 * alert rules (feed stale, drawdown, market-data errors, decision latency, kill switch); in a gateway the process,
 * cache, database and read-model metrics only (the engine evaluates the alert rules, once).
 */
export class ObservabilityComponent implements Component {
  readonly name = 'monitoring';
  #monitoring: Monitoring | undefined;
  #close: (() => Promise<void>) | undefined;
  /** Copies the portfolio into the business gauges; run at scrape time instead of on a timer. */
  #refresh: (() => void) | undefined;
  #alerts: AlertsSource | undefined;
  readonly #watched: (WatchSource | (() => WatchSource))[] = [];

  constructor(
    private readonly config: TraderConfig,
    private readonly engine: EngineComponent | undefined,
    private readonly marketDataErrors: () => number,
  ) {}

  start(): void {
    if (this.engine !== undefined) {
      const engine = this.engine.engine();
      const obs = createObservability(this.config, engine, { marketDataErrors: this.marketDataErrors });
      engine.onEntry((e) => {
        if (e.type === 'fill') obs.onFill(e.data as Fill);
      });
      this.#monitoring = obs.monitoring;
      this.#close = obs.close;
      this.#refresh = obs.refresh;
      this.#alerts = alertsFromAlertManager(obs.monitoring.alerts);
    } else {
      const monitoring = new Monitoring({ name: 'monitoring', systemMetrics: false });
      this.#monitoring = monitoring;
      this.#close = () => monitoring.close();
    }
    for (const w of this.#watched) this.#monitoring.watch(typeof w === 'function' ? w() : w);
  }

  /**
   * Watches a component of the suite (its channels become histograms, its `stats()` gauges). Before start, a
   * function may stand for a source that exists only once its own component has started.
   */
  watch(source: WatchSource | (() => WatchSource)): void {
    if (this.#monitoring === undefined) this.#watched.push(source);
    else this.#monitoring.watch(typeof source === 'function' ? source() : source);
  }

  /** The alert manager as the API and the command handler use it (engine roles only). */
  alerts(): AlertsSource | undefined {
    return this.#alerts;
  }

  /** Active alerts as the monitoring package reports them (`/health/alerts`); none in a gateway. */
  activeAlerts(): unknown[] {
    return this.#monitoring?.alerts?.active() ?? [];
  }

  /** The Prometheus text exposition. */
  async metrics(): Promise<{ contentType: string; body: string }> {
    const m = this.#monitoring;
    if (m === undefined) throw new TraderError('E_TRADER_INVALID_OPTION', 'monitoring is not started');
    this.#refresh?.();
    return { contentType: m.contentType, body: await m.metrics() };
  }

  async stop(): Promise<void> {
    await this.#close?.();
  }
}
