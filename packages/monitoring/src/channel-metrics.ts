import diagnostics_channel, { type TracingChannelSubscribers } from 'node:diagnostics_channel';
import { performance } from 'node:perf_hooks';
import type { Registry } from 'prom-client';
import {
  BREAKER_CHANNELS,
  CACHE_OPERATION_CHANNEL,
  DB_QUERY_CHANNEL,
  STATE_CHANNELS,
  WS_STATE_CHANNEL,
} from './channels.js';
import { ChildCache } from './internal/child-cache.js';
import { type CounterChild, FastCounter } from './internal/fast-counter.js';
import { FastGauge, type GaugeChild } from './internal/fast-gauge.js';
import { FastHistogram, type HistogramChild } from './internal/fast-histogram.js';
import type { FastChild, FastMetric } from './internal/fast-metric.js';
import { boolLabel, completedAtEnd, errorType, guard, type OperationContext, str } from './internal/trace-context.js';

/** Node 20 accepts a partial set of handlers; its types want all five. */
type Subscribers = TracingChannelSubscribers<object>;

const kStart = Symbol('cryptoscalp.monitoring.start');

/** @internal Setup of {@link ChannelMetrics}. */
export interface ChannelMetricsSetup {
  registry: Registry;
  prefix: string;
  durationBuckets: number[];
  /** Only events of watched components are recorded. */
  isWatched: (component: unknown) => boolean;
}

const BREAKER_STATES = ['closed', 'open', 'half-open'] as const;

/** Normalizes breaker state words (`halfOpen`, `half_open`, `HALF-OPEN`) to `closed`/`open`/`half-open`. */
export function normalizeBreakerState(state: unknown): string {
  if (typeof state !== 'string') return '';
  const s = state.toLowerCase().replace(/[_\s]/g, '-');
  if (s === 'halfopen' || s === 'half-open') return 'half-open';
  return s;
}

/**
 * Turns the `cryptoscalp:*` diagnostics channels into metrics:
 * - `db_client_operation_duration_seconds{component,db_operation,role,host,error_type}` and
 *   `db_client_response_returned_rows{component,db_operation,role}` from `cryptoscalp:db:query`;
 * - `cache_operation_duration_seconds{component,operation,tier,hit,error_type}` from `cryptoscalp:cache:operation`;
 * - `cryptoscalp_events_total{channel,component}` from every plain state channel;
 * - `cryptoscalp_breaker_state{channel,component,state}` (1 for the current state, 0 otherwise);
 * - `cryptoscalp_ws_connection_state{component,exchange,endpoint,state}` from `cryptoscalp:ws:state`.
 *
 * Label children are cached in nested maps; an observation allocates nothing.
 */
export class ChannelMetrics {
  readonly metrics: FastMetric<FastChild>[];
  private subscribed = false;
  private readonly dbDuration: FastHistogram;
  private readonly dbRows: FastHistogram;
  private readonly cacheDuration: FastHistogram;
  private readonly events: FastCounter;
  private readonly breaker: FastGauge;
  private readonly wsState: FastGauge;
  private readonly dbDurationChildren: ChildCache<HistogramChild>;
  private readonly dbRowsChildren: ChildCache<HistogramChild>;
  private readonly cacheChildren: ChildCache<HistogramChild>;
  private readonly eventChildren: ChildCache<CounterChild>;
  private readonly wsChildren: ChildCache<GaugeChild>;
  private readonly dbChannel = diagnostics_channel.tracingChannel(DB_QUERY_CHANNEL);
  private readonly cacheChannel = diagnostics_channel.tracingChannel(CACHE_OPERATION_CHANNEL);
  private readonly stateHandlers = new Map<string, (message: unknown, name: string | symbol) => void>();
  private readonly isWatched: (component: unknown) => boolean;
  private readonly dbHandlers;
  private readonly cacheHandlers;

  constructor(setup: ChannelMetricsSetup) {
    const p = setup.prefix;
    this.dbDuration = new FastHistogram(
      `${p}db_client_operation_duration_seconds`,
      'Duration of database client operations (OpenTelemetry db.client.operation.duration).',
      ['component', 'db_operation', 'role', 'host', 'error_type'],
      setup.durationBuckets,
    );
    this.dbRows = new FastHistogram(
      `${p}db_client_response_returned_rows`,
      'Rows returned by database queries (OpenTelemetry db.client.response.returned_rows).',
      ['component', 'db_operation', 'role'],
      [0, 1, 5, 10, 50, 100, 500, 1000, 5000, 10000, 100000],
    );
    this.cacheDuration = new FastHistogram(
      `${p}cache_operation_duration_seconds`,
      'Duration of cache operations by operation, answering tier and hit.',
      ['component', 'operation', 'tier', 'hit', 'error_type'],
      setup.durationBuckets,
    );
    this.events = new FastCounter(`${p}cryptoscalp_events_total`, 'Events published on cryptoscalp:* state channels.', [
      'channel',
      'component',
    ]);
    this.breaker = new FastGauge(
      `${p}cryptoscalp_breaker_state`,
      'Circuit breaker state: 1 for the current state, 0 for the others.',
      ['channel', 'component', 'state'],
    );
    this.wsState = new FastGauge(
      `${p}cryptoscalp_ws_connection_state`,
      'WebSocket connection state: 1 for the current state of each endpoint.',
      ['component', 'exchange', 'endpoint', 'state'],
    );
    this.metrics = [this.dbDuration, this.dbRows, this.cacheDuration, this.events, this.breaker, this.wsState];
    for (const m of this.metrics) m.register(setup.registry);

    this.dbDurationChildren = new ChildCache((v) => this.dbDuration.labels(...v));
    this.dbRowsChildren = new ChildCache((v) => this.dbRows.labels(...v));
    this.cacheChildren = new ChildCache((v) => this.cacheDuration.labels(...v));
    this.eventChildren = new ChildCache((v) => this.events.labels(...v));
    this.wsChildren = new ChildCache((v) => this.wsState.labels(...v));

    const isWatched = setup.isWatched;
    this.isWatched = isWatched;
    const start = (ctx: OperationContext) => {
      if (isWatched(ctx.component)) ctx[kStart] = performance.now();
    };
    const finishDb = (ctx: OperationContext) => {
      const t0 = ctx[kStart];
      if (typeof t0 !== 'number') return;
      ctx[kStart] = undefined;
      const seconds = (performance.now() - t0) / 1000;
      const component = ctx.component as string;
      const op = str(ctx.operation);
      const role = str(ctx.role);
      this.dbDurationChildren.get5(component, op, role, str(ctx.host), errorType(ctx.error)).observe(seconds);
      if (typeof ctx.rowCount === 'number') this.dbRowsChildren.get3(component, op, role).observe(ctx.rowCount);
    };
    const finishCache = (ctx: OperationContext) => {
      const t0 = ctx[kStart];
      if (typeof t0 !== 'number') return;
      ctx[kStart] = undefined;
      const seconds = (performance.now() - t0) / 1000;
      this.cacheChildren
        .get5(ctx.component as string, str(ctx.operation), str(ctx.tier), boolLabel(ctx.hit), errorType(ctx.error))
        .observe(seconds);
    };
    const guardedStart = guard(start);
    this.dbHandlers = {
      start: guardedStart,
      end: guard((ctx) => {
        if (completedAtEnd(ctx)) finishDb(ctx);
      }),
      asyncEnd: guard(finishDb),
    };
    this.cacheHandlers = {
      start: guardedStart,
      end: guard((ctx) => {
        if (completedAtEnd(ctx)) finishCache(ctx);
      }),
      asyncEnd: guard(finishCache),
    };

    for (const channel of STATE_CHANNELS) {
      const isBreaker = BREAKER_CHANNELS.includes(channel);
      const isWs = channel === WS_STATE_CHANNEL;
      this.stateHandlers.set(channel, (message: unknown) => {
        try {
          this.onState(channel, isBreaker, isWs, message as Record<string, unknown> | null);
        } catch {
          // Never let a subscriber throw into the publisher (it would become an uncaught exception).
        }
      });
    }
  }

  private onState(channel: string, isBreaker: boolean, isWs: boolean, payload: Record<string, unknown> | null): void {
    const component = payload?.component;
    if (!this.isWatched(component)) return;
    this.eventChildren.get2(channel, component as string).inc();
    if (isBreaker) this.setBreaker(channel, component as string, normalizeBreakerState(payload?.state));
    if (isWs) {
      const exchange = str(payload?.exchange);
      const endpoint = str(payload?.endpoint);
      const from = str(payload?.from);
      if (from !== '') this.wsChildren.get4(component as string, exchange, endpoint, from).set(0);
      this.wsChildren.get4(component as string, exchange, endpoint, str(payload?.to)).set(1);
    }
  }

  private setBreaker(channel: string, component: string, state: string): void {
    if (state === '') return;
    for (const s of BREAKER_STATES) this.breaker.labels(channel, component, s).set(s === state ? 1 : 0);
    if (!(BREAKER_STATES as readonly string[]).includes(state)) this.breaker.labels(channel, component, state).set(1);
  }

  /** Subscribes to every channel (idempotent). */
  subscribe(): void {
    if (this.subscribed) return;
    this.subscribed = true;
    this.dbChannel.subscribe(this.dbHandlers as unknown as Subscribers);
    this.cacheChannel.subscribe(this.cacheHandlers as unknown as Subscribers);
    for (const [channel, handler] of this.stateHandlers) diagnostics_channel.subscribe(channel, handler);
  }

  /** Unsubscribes from every channel (idempotent). */
  unsubscribe(): void {
    if (!this.subscribed) return;
    this.subscribed = false;
    this.dbChannel.unsubscribe(this.dbHandlers as unknown as Subscribers);
    this.cacheChannel.unsubscribe(this.cacheHandlers as unknown as Subscribers);
    for (const [channel, handler] of this.stateHandlers) diagnostics_channel.unsubscribe(channel, handler);
  }

  /** True while subscribed. */
  get active(): boolean {
    return this.subscribed;
  }
}
