import diagnostics_channel, { type TracingChannelSubscribers } from 'node:diagnostics_channel';
import { performance } from 'node:perf_hooks';
import type { Registry } from 'prom-client';
import {
  BREAKER_CHANNELS,
  CACHE_OPERATION_CHANNEL,
  DB_QUERY_CHANNEL,
  STATE_CHANNELS,
  TRACED_EVENT_CHANNELS,
  WS_STATE_CHANNEL,
} from './channels.js';
import { ChildCache } from './internal/child-cache.js';
import { type CounterChild, FastCounter } from './internal/fast-counter.js';
import { FastGauge } from './internal/fast-gauge.js';
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
/** The `ConnectionState` words of `@cryptoscalp/contracts`: every label set of the ws state gauge carries all of them. */
const WS_STATES = ['idle', 'connecting', 'open', 'reconnecting', 'closed'] as const;

/**
 * Normalizes breaker state words to `closed`/`open`/`half-open`. `halfOpen` is what `@cryptoscalp/cache` 0.1
 * published (deprecated, accepted until the next minor); `half_open` and upper case come from other breakers.
 */
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
 * - `cryptoscalp_events_total{channel,component}` from every plain channel of the `@cryptoscalp/contracts` registry
 *   and the start of every other tracing channel (`cryptoscalp:health:check`);
 * - `cryptoscalp_breaker_state{channel,component,state}` (1 for the current state, 0 otherwise);
 * - `cryptoscalp_ws_connection_state{component,exchange,endpoint,state}` from `cryptoscalp:ws:state`: one label set
 *   per connection, with exactly one state at 1 (the set of a connection's previous endpoint is removed).
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
  /** The `[component, exchange, endpoint]` label values each connection (`component`, `connection`) was last exported under. */
  private readonly wsLabels = new Map<string, [string, string, string]>();
  private readonly dbChannel = diagnostics_channel.tracingChannel(DB_QUERY_CHANNEL);
  private readonly cacheChannel = diagnostics_channel.tracingChannel(CACHE_OPERATION_CHANNEL);
  private readonly stateHandlers = new Map<string, (message: unknown, name: string | symbol) => void>();
  private readonly tracedEventHandlers = new Map<string, { start: (ctx: OperationContext) => void }>();
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
    for (const channel of TRACED_EVENT_CHANNELS) {
      this.tracedEventHandlers.set(channel, { start: guard((ctx) => this.onTracedEvent(channel, ctx)) });
    }
  }

  private onTracedEvent(channel: string, ctx: OperationContext): void {
    if (this.isWatched(ctx.component)) this.eventChildren.get2(channel, ctx.component as string).inc();
  }

  private onState(channel: string, isBreaker: boolean, isWs: boolean, payload: Record<string, unknown> | null): void {
    const component = payload?.component;
    if (!this.isWatched(component)) return;
    this.eventChildren.get2(channel, component as string).inc();
    if (isBreaker) this.setBreaker(channel, component as string, normalizeBreakerState(payload?.state));
    if (isWs) this.setWsState(component as string, payload);
  }

  /**
   * A connection has one label set at a time: when its endpoint label changes (unknown while first connecting,
   * then the endpoint that opened, then another after a failover) the old set is removed rather than left at its
   * last state, and every state of the current set is written (1 for the current one, 0 for the others).
   * Publishers without a `connection` id (ws-manager 0.1) are keyed by exchange and endpoint as before.
   */
  private setWsState(component: string, payload: Record<string, unknown> | null): void {
    const exchange = str(payload?.exchange);
    const endpoint = str(payload?.endpoint);
    const to = str(payload?.to);
    if (!(WS_STATES as readonly string[]).includes(to)) return;
    const connection = payload?.connection;
    const key =
      typeof connection === 'string' ? `${component}\0${connection}` : `${component}\0${exchange}\0${endpoint}`;
    const previous = this.wsLabels.get(key);
    this.wsLabels.set(key, [component, exchange, endpoint]);
    if (
      previous !== undefined &&
      (previous[1] !== exchange || previous[2] !== endpoint) &&
      !this.wsLabelsUsed(previous)
    ) {
      for (const state of WS_STATES) this.wsState.remove(...previous, state);
    }
    for (const state of WS_STATES) this.wsState.labels(component, exchange, endpoint, state).set(state === to ? 1 : 0);
  }

  /** Whether another connection is still exported under these label values (state changes are rare: a scan is fine). */
  private wsLabelsUsed(labels: [string, string, string]): boolean {
    for (const l of this.wsLabels.values())
      if (l[0] === labels[0] && l[1] === labels[1] && l[2] === labels[2]) return true;
    return false;
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
    for (const [channel, handlers] of this.tracedEventHandlers) {
      diagnostics_channel.tracingChannel(channel).subscribe(handlers as unknown as Subscribers);
    }
  }

  /** Unsubscribes from every channel (idempotent). */
  unsubscribe(): void {
    if (!this.subscribed) return;
    this.subscribed = false;
    this.dbChannel.unsubscribe(this.dbHandlers as unknown as Subscribers);
    this.cacheChannel.unsubscribe(this.cacheHandlers as unknown as Subscribers);
    for (const [channel, handler] of this.stateHandlers) diagnostics_channel.unsubscribe(channel, handler);
    for (const [channel, handlers] of this.tracedEventHandlers) {
      diagnostics_channel.tracingChannel(channel).unsubscribe(handlers as unknown as Subscribers);
    }
  }

  /** True while subscribed. */
  get active(): boolean {
    return this.subscribed;
  }
}
