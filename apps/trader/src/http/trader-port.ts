import type { Fill, Order, Side } from '../model/types.js';

/**
 * What the HTTP API and the live streams need from the running trader, and nothing more.
 *
 * The trader's own objects satisfy it structurally (no import from the API into the core is needed):
 * orders and fills are the core's {@link Order} and {@link Fill}. Every read may answer synchronously
 * (from memory) or with a promise (for example from PostgreSQL); a throw or rejection becomes a 500
 * (or a 400 when the error carries a `field`, see {@link TraderPort.setStrategyParams}).
 */
export interface TraderPort {
  /** Open positions, one per symbol (flat symbols may be omitted). */
  positions(): MaybePromise<readonly PositionView[]>;
  /** Orders, newest first, filtered by the query. */
  orders(query: OrderQuery): MaybePromise<readonly Order[]>;
  /** One order with its fills, or `undefined` when the id is unknown. */
  order(clientOrderId: string): MaybePromise<OrderDetail | undefined>;
  /** Fills, newest first, filtered by the query. */
  fills(query: FillQuery): MaybePromise<readonly Fill[]>;
  /** Realized and unrealized PnL, total and per symbol. */
  pnl(): MaybePromise<PnlView>;
  /** Risk state: kill switch mode, limits and their usage. */
  risk(): MaybePromise<RiskView>;
  /** Current strategy parameters (flat name -> value). */
  strategyParams(): MaybePromise<StrategyParams>;
  /**
   * Validates and applies a partial parameter change, returning the parameters now in force.
   * Throw an error with a string `field` property (the trader's `TraderError` has one) to reject the
   * change: the API answers 400 naming that field, and the audit row records the refusal.
   */
  setStrategyParams(patch: StrategyParams, actor: ActorRef): MaybePromise<StrategyParams>;
  /** Engages the kill switch in `mode`, returning the new risk state. */
  engageKillSwitch(command: KillSwitchCommand): MaybePromise<RiskView>;
  /** Releases the kill switch (back to `RUNNING`), returning the new risk state. */
  releaseKillSwitch(command: { reason: string; actor: ActorRef }): MaybePromise<RiskView>;
  /** Cancels an open order; resolves `false` when the order is unknown or already final. Optional. */
  cancelOrder?(clientOrderId: string, actor: ActorRef): MaybePromise<boolean>;
  /** Alerts: active list, silences and acknowledgements (the monitoring alert manager fits). */
  readonly alerts: AlertsPort;
  /** Component health and stage latency percentiles, for the dashboard and `GET /api/status`. */
  status(): MaybePromise<StatusView>;
  /** Registers a listener for live updates; returns the function that removes it. */
  subscribe(listener: (event: TraderEvent) => void): () => void;
}

/** A value or a promise of it. */
export type MaybePromise<T> = T | Promise<T>;

/** Who asked for a change: the token's subject and role. */
export interface ActorRef {
  readonly sub: string;
  readonly role: string;
}

/** Filters of `GET /api/orders`. */
export interface OrderQuery {
  symbol?: string;
  status?: Order['status'];
  /** At most this many orders. */
  limit: number;
}

/** Filters of `GET /api/fills`. */
export interface FillQuery {
  symbol?: string;
  /** Only fills at or after this epoch-ms time. */
  since?: number;
  /** At most this many fills. */
  limit: number;
}

/** An order with its fills. */
export interface OrderDetail {
  order: Order;
  fills: readonly Fill[];
}

/** A position in one symbol. */
export interface PositionView {
  symbol: string;
  /** Signed quantity in base units (negative is short). */
  qty: number;
  /** Average entry price. */
  avgPrice: number;
  /** Mark price used for the unrealized PnL. */
  markPrice: number;
  /** Notional at the mark price (absolute). */
  notional: number;
  realizedPnl: number;
  unrealizedPnl: number;
  /** Fees paid in this symbol (positive is a cost). */
  fees: number;
}

/** PnL figures in quote currency, after fees. */
export interface PnlView {
  realized: number;
  unrealized: number;
  fees: number;
  /** `realized + unrealized - fees`, as the trader counts it. */
  total: number;
  /** Drawdown from the equity peak (>= 0). */
  drawdown: number;
  wins: number;
  losses: number;
  /** Per-symbol breakdown, when known. */
  bySymbol?: Record<string, { realized: number; unrealized: number; fees: number }>;
  /** Epoch ms of the figures. */
  ts: number;
}

/** Kill switch modes: `RUNNING` trades normally, `REDUCING` passes only risk-reducing orders, `HALTED` only cancels. */
export type RiskMode = 'RUNNING' | 'REDUCING' | 'HALTED';

/** Risk state. */
export interface RiskView {
  mode: RiskMode;
  /** Why the current mode was entered (rule name or the operator's reason). */
  reason?: string;
  /** Epoch ms when the current mode was entered. */
  since?: number;
  /** Configured limits (name -> value). */
  limits: Record<string, number>;
  /** Current usage of the limits (name -> value), when known. */
  usage?: Record<string, number>;
  /**
   * While an operator's release of the kill switch holds against the rules: when it was released, until when it holds
   * at most, and the drawdown / daily loss at which the rules re-engage within the hold.
   */
  releaseHold?: { releasedAt: number; until: number; drawdownResumesAt: number; dailyLossResumesAt: number };
}

/** Strategy parameters: a flat object of scalars. */
export type StrategyParams = Record<string, number | string | boolean>;

/** Engage command for the kill switch. */
export interface KillSwitchCommand {
  mode: Exclude<RiskMode, 'RUNNING'>;
  reason: string;
  actor: ActorRef;
}

/** An alert as shown by the API. */
export interface AlertView {
  /** Stable id of the alert instance (used by acknowledge). */
  id: string;
  /** Rule name, e.g. `feed-stale`. */
  name: string;
  severity: string;
  state: string;
  summary?: string;
  labels?: Record<string, string>;
  /** Epoch ms when it started. */
  since?: number;
  acknowledged?: boolean;
  silenced?: boolean;
}

/** A silence request. */
export interface SilenceRequest {
  /** Label matchers, equality (`alertname` matches the rule name). */
  matchers: Record<string, string>;
  durationMs: number;
  comment: string;
  createdBy: string;
}

/** The alert manager as the API uses it. */
export interface AlertsPort {
  /** Alerts currently pending or firing. */
  list(): MaybePromise<readonly AlertView[]>;
  /** Creates a silence, returning its id. */
  silence(request: SilenceRequest): MaybePromise<{ id: string; endsAt?: number }>;
  /** Acknowledges an alert (stops escalation); resolves `false` when the id is unknown. */
  acknowledge(alertId: string, by: string): MaybePromise<boolean>;
}

/** Component health and latency, for the dashboard. */
export interface StatusView {
  /** Overall status. */
  status: 'pass' | 'warn' | 'fail';
  /** Per component (`postgres`, `cache`, `ws-manager`, `stream-hub`, ...). */
  components: readonly { name: string; status: 'pass' | 'warn' | 'fail'; output?: string }[];
  /** Latency percentiles in milliseconds per stage (`decision`, `journal`, ...). */
  latency: Record<string, { p50: number; p99: number; p999?: number; count?: number }>;
  /** Seconds since start. */
  uptimeSec?: number;
  /** Symbols the trader watches (the dashboard subscribes to their `prices.*` and `book.*` topics). */
  symbols?: readonly string[];
  /** The strategy model's performance: hit rate (0..1) and inference latency percentiles (ms). */
  model?: {
    samples?: number;
    confidentPredictions?: number;
    hits?: number;
    hitRate?: number;
    decisions?: number;
    inferenceLatencyMs?: { p50: number; p99: number };
  };
}

/** A top-of-book price update. */
export interface PriceEvent {
  type: 'price';
  symbol: string;
  /** Mid (or last) price. */
  price: number;
  bid?: number;
  ask?: number;
  ts: number;
}

/** A book update; the API trims it to the configured top N levels. */
export interface BookTopEvent {
  type: 'book';
  symbol: string;
  bids: readonly (readonly [number, number])[];
  asks: readonly (readonly [number, number])[];
  ts: number;
}

/** Where an event sits in the trader's durable log, when the gateway received it from there. */
export interface TraderEventMeta {
  /** The durable log offset the event was received at; the stream hub publishes it at that offset. */
  offset?: number;
}

/** Live updates published by the trader; the API routes them to stream topics. */
export type TraderEvent = (
  | PriceEvent
  | BookTopEvent
  | { type: 'fill'; fill: Fill }
  | { type: 'position'; position: PositionView }
  | { type: 'pnl'; pnl: PnlView }
  | { type: 'alert'; alert: AlertView }
) &
  TraderEventMeta;

/** Re-exported for implementers of the port. */
export type { Fill, Order, Side };
