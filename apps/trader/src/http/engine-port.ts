import { ApiError } from './errors.js';
import type {
  AlertsPort,
  AlertView,
  Fill,
  FillQuery,
  MaybePromise,
  Order,
  PnlView,
  PositionView,
  RiskMode,
  RiskView,
  StatusView,
  StrategyParams,
  TraderEvent,
  TraderPort,
} from './trader-port.js';

type Level = readonly [number, number];

/**
 * The parts of the trader's `TradingEngine` the port reads, structurally (so this file does not import the
 * core, and a rename shows up as a type error at the wiring line).
 */
export interface EngineLike {
  readonly config: { readonly symbols: readonly string[]; readonly risk: object; readonly strategy: object };
  readonly orders: {
    get(clientOrderId: string): Order | undefined;
    all(): Iterable<Order>;
    openOrders(): Iterable<Order>;
  };
  readonly portfolio: {
    snapshots(): readonly {
      symbol: string;
      qty: number;
      avgPrice: number;
      realized: number;
      fees: number;
      unrealized: number;
      mark: number;
    }[];
    totals(): {
      realized: number;
      fees: number;
      unrealized: number;
      net: number;
      wins: number;
      losses: number;
      exposure: number;
      drawdown: number;
    };
  };
  readonly killSwitch: {
    readonly state: RiskMode;
    readonly reason: string;
    set(state: RiskMode, reason: string): void;
    onChange(listener: (change: { to: RiskMode; at: number }) => void): () => void;
  };
  readonly latency: object;
  readonly books: ReadonlyMap<
    string,
    {
      readonly book: {
        isValid(): boolean;
        bestBid(): number;
        bestAsk(): number;
        mid(): number;
        top(depth: number): { bids: readonly Level[]; asks: readonly Level[] };
      };
    }
  >;
  onEntry(listener: (entry: { type: string; ts: number; data: unknown }) => void): void;
  cancel(clientOrderId: string, reason: string): boolean;
}

/** Alerts with live updates (see {@link alertsFromAlertManager}). */
export interface AlertsSource extends AlertsPort {
  /** Registers a listener for alert changes; returns the unsubscribe function. */
  subscribe?(listener: (alert: AlertView) => void): () => void;
}

/** Options of {@link createEnginePort}. */
export interface EnginePortOptions {
  /** The running `TradingEngine`. */
  engine: EngineLike;
  /** Alerts (`alertsFromAlertManager(monitoring.alerts)`). @default none: an empty list, silence/ack answer 501 */
  alerts?: AlertsSource;
  /** Component health for the dashboard, e.g. from the health registry. @default none */
  components?: () => MaybePromise<StatusView['components']>;
  /** Live strategy parameters. @default read-only: `config.strategy`, a change is refused with 400 */
  strategyParams?: { get(): StrategyParams; set(patch: StrategyParams): StrategyParams };
  /** Older fills (PostgreSQL) when the in-memory window has fewer than asked. @default none */
  fillHistory?: (query: FillQuery) => Promise<readonly Fill[]>;
  /** Fills kept in memory for `GET /api/fills` and order detail. @default 1000 */
  recentFills?: number;
  /** How often prices, books, positions and PnL are published while someone listens. @default 250 */
  marketIntervalMs?: number;
  /** Book levels per side published. @default 10 */
  bookDepth?: number;
}

/** A {@link TraderPort} over the engine, with `close()` to stop its timer. */
export interface EnginePort extends TraderPort {
  close(): void;
}

const NO_ALERTS: AlertsSource = {
  list: () => [],
  silence: () => {
    throw new ApiError('E_API_NOT_IMPLEMENTED', 'alerting is not configured in this trader');
  },
  acknowledge: () => {
    throw new ApiError('E_API_NOT_IMPLEMENTED', 'alerting is not configured in this trader');
  },
};

/**
 * Builds the API's {@link TraderPort} from the trader's engine: reads come from memory (orders, portfolio,
 * kill switch, latency recorders, books), fills from the journal stream (a bounded window, plus
 * `fillHistory` for older ones), and live events from the journal (fills, positions, PnL) and a timer
 * (prices, books, PnL) that runs only while the API has listeners.
 */
export function createEnginePort(options: EnginePortOptions): EnginePort {
  const { engine } = options;
  const alerts = options.alerts ?? NO_ALERTS;
  const maxFills = options.recentFills ?? 1_000;
  const intervalMs = options.marketIntervalMs ?? 250;
  const depth = options.bookDepth ?? 10;
  const fills: Fill[] = [];
  const listeners = new Set<(e: TraderEvent) => void>();
  let since = Date.now();
  let timer: NodeJS.Timeout | undefined;
  let ticks = 0;
  let closed = false;
  let unsubscribeAlerts: (() => void) | undefined;

  const emit = (e: TraderEvent) => {
    for (const l of listeners) l(e);
  };
  const positionView = (s: ReturnType<EngineLike['portfolio']['snapshots']>[number]): PositionView => ({
    symbol: s.symbol,
    qty: s.qty,
    avgPrice: s.avgPrice,
    markPrice: s.mark,
    notional: Math.abs(s.qty * s.mark),
    realizedPnl: s.realized,
    unrealizedPnl: s.unrealized,
    fees: s.fees,
  });
  const positions = (): PositionView[] => engine.portfolio.snapshots().map(positionView);
  const pnl = (): PnlView => {
    const t = engine.portfolio.totals();
    return {
      realized: t.realized,
      unrealized: t.unrealized,
      fees: t.fees,
      total: t.net,
      drawdown: t.drawdown,
      wins: t.wins,
      losses: t.losses,
      ts: Date.now(),
    };
  };
  const risk = (): RiskView => {
    const t = engine.portfolio.totals();
    let open = 0;
    for (const _ of engine.orders.openOrders()) open++;
    return {
      mode: engine.killSwitch.state,
      reason: engine.killSwitch.reason,
      since,
      limits: numbers(engine.config.risk),
      usage: { exposure: t.exposure, drawdown: t.drawdown, openOrders: open },
    };
  };

  engine.killSwitch.onChange((c) => {
    since = c.at;
  });
  engine.onEntry((entry) => {
    if (closed || entry.type !== 'fill') return;
    const fill = entry.data as Fill;
    fills.push(fill);
    if (fills.length > maxFills) fills.shift();
    if (listeners.size === 0) return;
    emit({ type: 'fill', fill });
    const snap = engine.portfolio.snapshots().find((s) => s.symbol === fill.symbol);
    if (snap !== undefined) emit({ type: 'position', position: positionView(snap) });
    emit({ type: 'pnl', pnl: pnl() });
  });

  const publishMarket = () => {
    const now = Date.now();
    for (const [symbol, sync] of engine.books) {
      const b = sync.book;
      if (!b.isValid()) continue;
      emit({ type: 'price', symbol, price: b.mid(), bid: b.bestBid(), ask: b.bestAsk(), ts: now });
      const top = b.top(depth);
      emit({ type: 'book', symbol, bids: top.bids, asks: top.asks, ts: now });
    }
    // Unrealized PnL moves with the marks: refresh positions and PnL about once a second.
    if (ticks++ % Math.max(1, Math.round(1_000 / intervalMs)) === 0) {
      for (const p of positions()) emit({ type: 'position', position: p });
      emit({ type: 'pnl', pnl: pnl() });
    }
  };

  return {
    positions,
    orders(q) {
      const out: Order[] = [];
      for (const o of engine.orders.all())
        if ((q.symbol === undefined || o.symbol === q.symbol) && (q.status === undefined || o.status === q.status))
          out.push(o);
      return out.sort((a, b) => b.createdAt - a.createdAt).slice(0, q.limit);
    },
    order(id) {
      const order = engine.orders.get(id);
      return order === undefined ? undefined : { order, fills: fills.filter((f) => f.clientOrderId === id) };
    },
    async fills(q) {
      const out: Fill[] = [];
      for (let i = fills.length - 1; i >= 0 && out.length < q.limit; i--) {
        const f = fills[i] as Fill;
        if ((q.symbol === undefined || f.symbol === q.symbol) && (q.since === undefined || f.ts >= q.since))
          out.push(f);
      }
      if (out.length < q.limit && options.fillHistory !== undefined) {
        const seen = new Set(out.map((f) => f.fillId));
        for (const f of await options.fillHistory(q)) {
          if (out.length >= q.limit) break;
          if (!seen.has(f.fillId)) out.push(f);
        }
      }
      return out;
    },
    pnl,
    risk,
    strategyParams: () => options.strategyParams?.get() ?? scalars(engine.config.strategy),
    setStrategyParams(patch) {
      if (options.strategyParams !== undefined) return options.strategyParams.set(patch);
      throw Object.assign(new Error('strategy parameters are read-only in this trader (restart with a new config)'), {
        field: Object.keys(patch)[0] ?? 'params',
      });
    },
    engageKillSwitch(c) {
      engine.killSwitch.set(c.mode, `${c.reason} (operator ${c.actor.sub})`);
      return risk();
    },
    releaseKillSwitch(c) {
      engine.killSwitch.set('RUNNING', `${c.reason} (operator ${c.actor.sub})`);
      return risk();
    },
    cancelOrder: (id, actor) => engine.cancel(id, `operator ${actor.sub}`),
    alerts,
    async status() {
      const components = (await options.components?.()) ?? [];
      const latency: StatusView['latency'] = {};
      for (const [stage, rec] of Object.entries(engine.latency)) {
        if (typeof rec?.percentiles !== 'function') continue;
        const p = rec.percentiles([50, 99, 99.9]) as Record<string, number>;
        if (!Number.isFinite(p.p50)) continue;
        latency[stage] = { p50: p.p50 as number, p99: p.p99 as number, p999: p.p999 as number };
      }
      const worst = components.some((c) => c.status === 'fail')
        ? 'fail'
        : components.some((c) => c.status === 'warn')
          ? 'warn'
          : 'pass';
      return { status: worst, components, latency, uptimeSec: Math.round(process.uptime()) };
    },
    subscribe(listener) {
      listeners.add(listener);
      if (unsubscribeAlerts === undefined && alerts.subscribe !== undefined)
        unsubscribeAlerts = alerts.subscribe((alert) => emit({ type: 'alert', alert }));
      if (timer === undefined && !closed) {
        timer = setInterval(publishMarket, intervalMs);
        timer.unref();
      }
      return () => {
        listeners.delete(listener);
        if (listeners.size === 0) {
          if (timer !== undefined) clearInterval(timer);
          timer = undefined;
          unsubscribeAlerts?.();
          unsubscribeAlerts = undefined;
        }
      };
    },
    close() {
      closed = true;
      if (timer !== undefined) clearInterval(timer);
      timer = undefined;
      unsubscribeAlerts?.();
      listeners.clear();
    },
  };
}

function numbers(o: object): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(o)) if (typeof v === 'number') out[k] = v;
  return out;
}

function scalars(o: object): StrategyParams {
  const out: StrategyParams = {};
  for (const [k, v] of Object.entries(o))
    if (typeof v === 'number' || typeof v === 'string' || typeof v === 'boolean') out[k] = v;
  return out;
}
