import type { Registry } from 'prom-client';

/** A duration: milliseconds as a number, or a string such as `'500ms'`, `'30s'`, `'5m'`, `'4h'`, `'1d'`. */
export type Duration = number | string;

/** Anything `Monitoring.watch()` accepts: a name and, optionally, a cheap synchronous `stats()` snapshot. */
export interface WatchableComponent {
  /** The component's name; it must equal the `component` field the component publishes on its channels. */
  readonly name: string;
  /** Plain numbers, booleans, strings and nested plain objects; numeric and boolean leaves become gauges. */
  stats?(): Record<string, unknown>;
}

/** The typed event hook of the suite (`onX(listener)` returns `{ dispose() }`); see `@cryptoscalp/contracts`. */
export type { HealthCheckResult, Hook, HookDisposable, HookListener } from '@cryptoscalp/contracts';

/** The minimal tracer this package needs (the `Tracer` of `@opentelemetry/api` satisfies it). */
export interface TracerLike {
  startSpan(
    name: string,
    options?: { kind?: number; attributes?: Record<string, string | number | boolean> },
  ): SpanLike;
}

/** The minimal span this package needs (the `Span` of `@opentelemetry/api` satisfies it). */
export interface SpanLike {
  setAttribute(key: string, value: string | number | boolean): unknown;
  setStatus(status: { code: number; message?: string }): unknown;
  recordException(exception: Error | string): unknown;
  end(): void;
}

/** Options of the bounded scrape ({@link MonitoringOptions.scrape}). */
export interface ScrapeOptions {
  /**
   * Opt-in cap on the label sets written per metric; the rest are dropped, counted in
   * `cryptoscalp_monitoring_scrape_series_dropped_total{metric}`, and reported once per metric as a process
   * warning (code `E_MONITORING_SERIES_DROPPED`). Without it the registry is exposed whole.
   * @default Infinity (no cap)
   */
  maxSeriesPerMetric?: number;
  /**
   * Time one metric's collector may take before the metric is left out of this scrape and counted in
   * `cryptoscalp_monitoring_scrape_collector_timeouts_total{metric}`.
   * @default 1000
   */
  collectorTimeoutMs?: number;
  /**
   * Longest synchronous slice of serialization before yielding to the event loop (setImmediate).
   * @default 4
   */
  sliceMs?: number;
}

/** Options of the process and system metrics ({@link MonitoringOptions.systemMetrics}). */
export interface SystemMetricsOptions {
  /**
   * Paths whose filesystems are reported with `fs.statfs` as `system_filesystem_usage_bytes{mountpoint,state}`.
   * @default ['/']
   */
  filesystems?: string[];
  /**
   * Read `/proc/net/dev` (when present) for `system_network_io_bytes_total{device,direction}`.
   * @default true
   */
  network?: boolean;
}

/** Options of the `Monitoring` constructor. Every field is optional; see {@link MONITORING_DEFAULTS}. */
export interface MonitoringOptions {
  /**
   * Name of this instance (used as `component` in its own channel payloads and health results).
   * @default 'monitoring'
   */
  name?: string;
  /**
   * A prom-client `Registry` to register into. Without one, the instance creates its own.
   * @default a new Registry
   */
  registry?: Registry;
  /**
   * Prefix for every metric name this package creates (and for prom-client's default metrics).
   * @default ''
   */
  prefix?: string;
  /**
   * Register prom-client's default Node metrics (event-loop delay, GC, heap, handles).
   * @default true
   */
  defaultMetrics?: boolean;
  /**
   * Process and system metrics (CPU, memory, load, filesystems, network). `false` to leave them out.
   * @default true
   */
  systemMetrics?: boolean | SystemMetricsOptions;
  /** Bounded scrape settings. */
  scrape?: ScrapeOptions;
  /**
   * Spans for the operations reported on the tracing channels. `true` loads `@opentelemetry/api` if it is
   * installed and uses its global tracer (a no-op until the application registers an SDK); pass a
   * tracer to use that one; `false` for none.
   * @default true
   */
  tracing?: boolean | TracerLike;
  /**
   * Bucket upper bounds (seconds) of the operation duration histograms.
   * @default [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]
   */
  durationBuckets?: number[];
  /** Alert rules, routes and notifiers. Without it the alert manager runs with no rules. */
  alerting?: AlertingOptions;
}

/** Comparison of a rule condition. */
export type CompareOp = '>' | '>=' | '<' | '<=' | '==' | '!=';

/** Label matchers: every entry must match; a string matches exactly, a RegExp must match the whole value. */
export type LabelMatchers = Record<string, string | RegExp>;

/** Options of an EWMA z-score detector. */
export interface EwmaDetectorOptions {
  /** Smoothing factor in (0, 1]; larger follows changes faster. @default 0.1 */
  alpha?: number;
  /** |z| at or above which a sample is anomalous. @default 3 */
  threshold?: number;
  /** Samples before any verdict. @default 30 */
  warmup?: number;
  /** Absolute floor: a sample within this distance of the mean is never anomalous. @default 0 */
  minDeviation?: number;
  /** Which side counts: `'up'`, `'down'` or `'both'`. @default 'both' */
  direction?: 'up' | 'down' | 'both';
}

/** Options of a median/MAD (robust z-score) detector over a fixed window. */
export interface MadDetectorOptions {
  /** Samples kept (constant memory). @default 60 */
  window?: number;
  /** Modified z-score (0.6745·|x−median|/MAD) at or above which a sample is anomalous. @default 3.5 */
  threshold?: number;
  /** Samples before any verdict. @default the window size */
  warmup?: number;
  /** Absolute floor: a sample within this distance of the median is never anomalous. @default 0 */
  minDeviation?: number;
  /** Which side counts. @default 'both' */
  direction?: 'up' | 'down' | 'both';
}

/** A detector as a rule condition: `{ kind: 'ewma', ...EwmaDetectorOptions }` or `{ kind: 'mad', ... }`. */
export type DetectorSpec = ({ kind: 'ewma' } & EwmaDetectorOptions) | ({ kind: 'mad' } & MadDetectorOptions);

/** Fires while a gauge (or a counter's raw value) compares true against `value`, per series. */
export interface ThresholdCondition {
  type: 'threshold';
  /** Metric name in the registry. */
  metric: string;
  /** Only series whose labels match. */
  matchers?: LabelMatchers;
  op: CompareOp;
  value: number;
}

/** Fires while a counter's per-second rate over `window` compares true, per series. */
export interface RateCondition {
  type: 'rate';
  metric: string;
  matchers?: LabelMatchers;
  /** Rate window. */
  window: Duration;
  op: CompareOp;
  value: number;
}

/** Fires while a histogram quantile (over the observations of the last `window`, or all time) compares true. */
export interface QuantileCondition {
  type: 'quantile';
  metric: string;
  matchers?: LabelMatchers;
  /** In (0, 1), e.g. 0.99. */
  quantile: number;
  /** Window of observations; without it, every observation since start. */
  window?: Duration;
  op: CompareOp;
  value: number;
}

/** Fires while a streaming detector flags a gauge's value (or a counter's rate) as anomalous, per series. */
export interface AnomalyCondition {
  type: 'anomaly';
  metric: string;
  matchers?: LabelMatchers;
  /** Feed the detector the raw value or the per-second rate between evaluations. @default 'value' */
  source?: 'value' | 'rate';
  detector: DetectorSpec;
}

/** Fires while your function's value compares true (one series, no labels). */
export interface CustomCondition {
  type: 'custom';
  /** Returns the value to compare, or `undefined` for "no data" (inactive). */
  read: () => number | undefined | Promise<number | undefined>;
  op: CompareOp;
  value: number;
}

/** The condition of an {@link AlertRule}. */
export type AlertCondition =
  | ThresholdCondition
  | RateCondition
  | QuantileCondition
  | AnomalyCondition
  | CustomCondition;

/** Alert severity. */
export type Severity = 'info' | 'warning' | 'critical';

/** An alert rule. */
export interface AlertRule {
  /** The alert name (label `alertname`). Unique among rules. */
  name: string;
  condition: AlertCondition;
  /** How long the condition must hold before pending becomes firing. @default 0 */
  for?: Duration;
  /** How long a firing alert keeps firing after its condition stopped holding. @default 0 */
  keepFiringFor?: Duration;
  /** Severity (also the label `severity`). @default 'warning' */
  severity?: Severity;
  /** Extra labels (used by routes, grouping, inhibition and the fingerprint). */
  labels?: Record<string, string>;
  /** Free text; `{{value}}` and `{{labels.<name>}}` are replaced. */
  annotations?: Record<string, string>;
}

/** Where alerts go. Routes are tried in order; the first match wins unless it sets `continue`. */
export interface AlertRoute {
  /** Label matchers an alert must satisfy (`{}` or omitted: every alert). */
  matchers?: LabelMatchers;
  /** Names of the notifiers to send to. */
  notifiers: string[];
  /** Labels that form a group. @default ['alertname'] */
  groupBy?: string[];
  /** Wait before the first notification of a new group. @default '30s' */
  groupWait?: Duration;
  /** Wait before notifying about changes in a group already notified. @default '5m' */
  groupInterval?: Duration;
  /** Wait before repeating an unchanged firing notification. @default '4h' */
  repeatInterval?: Duration;
  /** Send a notification when alerts resolve. @default true */
  sendResolved?: boolean;
  /** Keep trying later routes after this one matched. @default false */
  continue?: boolean;
  /** Steps: a firing alert not acknowledged within `after` of its first notification goes to `notifiers`. */
  escalation?: { after: Duration; notifiers: string[] }[];
}

/** Mutes target alerts while a matching source alert fires with the same `equal` labels. */
export interface InhibitRule {
  sourceMatchers: LabelMatchers;
  targetMatchers: LabelMatchers;
  /** Labels whose values must be equal in source and target. @default [] */
  equal?: string[];
}

/** Time and timers of the alert manager; inject one to drive the state machine in tests. */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  /** Runs `fn` after `ms`; a returned promise is awaited by manual clocks. */
  setTimeout(fn: () => unknown, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** Delivery settings of one notifier. */
export interface DeliveryOptions {
  /** Notifications waiting; when full, the oldest is dropped and counted. @default 100 */
  queueSize?: number;
  /** Attempts per notification before giving up. @default 5 */
  maxAttempts?: number;
  /** First retry delay; doubles per attempt. @default 1000 */
  backoffMs?: number;
  /** Longest retry delay. @default 30000 */
  maxBackoffMs?: number;
  /** Time one attempt may take. @default 10000 */
  timeoutMs?: number;
}

/** A notification about one group of alerts. */
export interface Notification {
  /** Unique id. */
  id: string;
  /** `firing` if any alert fires, else `resolved`. */
  status: 'firing' | 'resolved';
  /** The notifier it is addressed to. */
  notifier: string;
  /** Identifies the group (route and group labels). */
  groupKey: string;
  groupLabels: Record<string, string>;
  /** Labels every alert shares. */
  commonLabels: Record<string, string>;
  alerts: Alert[];
  /** 0 for a normal notification, n for the n-th escalation step. */
  escalationLevel: number;
  /** Milliseconds since the epoch. */
  timestamp: number;
  /** Name of the Monitoring instance. */
  source: string;
}

/** Something that delivers notifications. Built-ins: `EmailNotifier`, `SlackNotifier`, `WebhookNotifier`. */
export interface Notifier {
  /** Unique name, referenced by routes. */
  readonly name: string;
  /** Delivery settings (queue, retries, backoff, timeout). */
  readonly delivery?: DeliveryOptions;
  /** One attempt. Throw to retry; throw an error with `retryable: false` to give up at once. */
  send(notification: Notification, signal: AbortSignal): Promise<void>;
  /** Releases connections. */
  close?(): Promise<void> | void;
}

/** Options of the alert manager ({@link MonitoringOptions.alerting}). */
export interface AlertingOptions {
  /** Rules evaluated every `evaluationInterval`. @default [] */
  rules?: AlertRule[];
  /** Routes; without any, one route sends every alert to every notifier. @default [] */
  routes?: AlertRoute[];
  /** Notifiers by name. @default [] */
  notifiers?: Notifier[];
  /** Inhibition rules. @default [] */
  inhibitRules?: InhibitRule[];
  /** How often rules are evaluated. @default '15s' */
  evaluationInterval?: Duration;
  /** Alert events kept in `alerts.history()`. @default 1000 */
  historySize?: number;
  /** Series one rule may track (alerts, detectors, rate windows); more are ignored. @default 1000 */
  maxSeriesPerRule?: number;
  /** Time and timers. @default the system clock */
  clock?: Clock;
}

/** A live alert (a copy; changing it changes nothing). */
export interface Alert {
  /** The fingerprint: stable hash of the alert's labels. Pass it to `alerts.ack()`. */
  id: string;
  /** The rule name (also label `alertname`). */
  name: string;
  /** All labels: series labels, rule labels, `alertname`, `severity`. */
  labels: Record<string, string>;
  annotations: Record<string, string>;
  severity: Severity;
  state: 'pending' | 'firing' | 'resolved';
  /** The last evaluated value. */
  value: number;
  /** When the condition started holding. */
  activeAt: number;
  firedAt?: number;
  resolvedAt?: number;
  /** Ids of silences muting it. */
  silencedBy: string[];
  /** Muted by an inhibition rule. */
  inhibited: boolean;
  acknowledged?: { by: string; at: number; comment?: string };
  /** Escalation steps taken. */
  escalationLevel: number;
}

/** Type of an {@link AlertEvent}. */
export type AlertEventType =
  | 'pending'
  | 'firing'
  | 'resolved'
  | 'notified'
  | 'notification_failed'
  | 'silenced'
  | 'inhibited'
  | 'escalated'
  | 'acknowledged';

/** One entry of `alerts.history()`. */
export interface AlertEvent {
  /** Increasing sequence number. */
  seq: number;
  /** Milliseconds since the epoch. */
  time: number;
  type: AlertEventType;
  /** Alert id (fingerprint); for notification events, the first alert of the group. */
  alertId: string;
  alertname: string;
  severity: Severity;
  labels: Record<string, string>;
  /** Notifier, for notification and escalation events. */
  notifier?: string;
  /** Alert ids in the notification, for notification events. */
  alertIds?: string[];
  /** The value when the event happened. */
  value?: number;
  /** Short text (never secrets). */
  message?: string;
}

/** Input of `alerts.silence()`. */
export interface SilenceInput {
  matchers: LabelMatchers;
  /** @default now */
  startsAt?: number;
  /** End time; or give `duration`. */
  endsAt?: number;
  /** Length from `startsAt`, if `endsAt` is not given. */
  duration?: Duration;
  /** @default 'unknown' */
  createdBy?: string;
  /** @default '' */
  comment?: string;
}

/** A silence. */
export interface Silence {
  id: string;
  matchers: LabelMatchers;
  startsAt: number;
  endsAt: number;
  createdBy: string;
  comment: string;
}
