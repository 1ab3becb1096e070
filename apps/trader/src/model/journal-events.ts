import type { TradingState } from '../risk/kill-switch.js';
import type { Fill, OrderType, Side } from './types.js';

/** Journal entry types and their payloads. Every state change of the trader is one of these. */
export interface JournalEvents {
  'session.start': { instanceId: string; pid: number; startedAt: string };
  'order.submitted': {
    clientOrderId: string;
    symbol: string;
    side: Side;
    type: OrderType;
    qty: number;
    price?: number;
    reason?: string;
  };
  'order.accepted': { clientOrderId: string };
  'order.rejected': { clientOrderId: string; reason: string };
  'order.cancel_requested': { clientOrderId: string; reason: string };
  'order.cancelled': { clientOrderId: string; reason: string };
  fill: Fill;
  'risk.state': { from: TradingState; to: TradingState; reason: string; by: 'rule' | 'operator' };
  /**
   * The journal accepts appends again after refusing them (disk full): when it began, why, and how many held-back
   * entries (cancels and execution events that happened meanwhile) follow this one.
   */
  'journal.recovered': { downSince: string; reason: string; held: number };
  /**
   * A live venue was reconciled with the journal (on start and after every user-data reconnect): what the venue had
   * open, the fills the journal lacked (applied as `fill` entries before this one) and every difference found.
   */
  'venue.reconciled': {
    venue: string;
    trigger: string;
    at: number;
    durationMs: number;
    openAtVenue: number;
    tradesSeen: number;
    fillsApplied: number;
    differences: Array<{ kind: string } & Record<string, unknown>>;
    balances: Record<string, number>;
    error?: string;
  };
  /**
   * The strategy's learned state (`Strategy.exportState`), journaled every `ha.strategyStateMs` by an active engine:
   * replay restores the last one, so a standby that takes over (or a restart) trades without warming up again.
   */
  'strategy.state': { strategy: string; state: unknown };
  /**
   * The first entry of a journal segment: the engine's state after the entry before it, so a start replays this
   * segment only. Written at rotation (`journal.segmentBytes`).
   */
  'journal.snapshot': EngineSnapshot;
}

/** The engine's state in a `journal.snapshot` entry (version 1). */
export interface EngineSnapshot {
  v: 1;
  /** The journal's identity (`Journal.origin`: its very first entry), kept when old segments are deleted. */
  origin: string | undefined;
  /** Orders still open, with their fills so far. */
  openOrders: SnapshotOrder[];
  /** Highest client order id counter issued so far. */
  idCounter: number;
  /** Orders in the journal so far (open and finished). */
  orders: number;
  /** The portfolio (`Portfolio.toJSON()`: positions, wins and losses, equity peak, max drawdown). */
  portfolio: unknown;
  /** Kill switch state and reason. */
  trading: { state: TradingState; reason: string };
  /** Net PnL at the start of the last UTC day seen (`YYYY-MM-DD`), for the daily loss limit. */
  day: { date: string; baseline: number } | undefined;
  /** Orders with a cancel requested and not yet answered. */
  pendingCancel: string[];
  /** The last `strategy.state` before the snapshot, if any. */
  strategy: { strategy: string; state: unknown } | undefined;
}

/** An open order in a {@link EngineSnapshot}. */
export interface SnapshotOrder {
  order: unknown;
  fillIds: string[];
}

/** Names of the journal entry types. */
export type JournalEventType = keyof JournalEvents;
