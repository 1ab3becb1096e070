import type { JournalEntry } from '../journal/journal.js';
import type { ReleaseHold } from '../risk/risk-engine.js';

/** Top of one book as the engine saw it. */
export interface BookTop {
  readonly symbol: string;
  readonly bid: number;
  readonly ask: number;
  readonly mid: number;
  readonly bids: readonly (readonly [number, number])[];
  readonly asks: readonly (readonly [number, number])[];
  /** True while the engine's book is in sync with its venue. */
  readonly synced: boolean;
}

/** The engine's view of itself, published on the bus about once a second (gateways show it). */
export interface EngineStatus {
  readonly instanceId: string;
  readonly state: string;
  readonly components: readonly { name: string; status: 'pass' | 'warn' | 'fail'; output?: string }[];
  readonly latency: Record<string, { p50: number; p99: number; p999?: number }>;
  readonly riskLimits: Record<string, number>;
  readonly strategyParams: Record<string, number | string | boolean>;
  readonly alerts: readonly unknown[];
  readonly counters: Record<string, number>;
  /** The strategy's model performance (absent from records of older engines). */
  readonly model?: ModelStats;
  /** While an operator's kill-switch release holds against the rules: the levels that re-engage them, and until when. */
  readonly releaseHold?: ReleaseHold;
}

/** A strategy model's performance: hit rate of its confident predictions and inference latency (ms). */
export interface ModelStats {
  samples?: number;
  confidentPredictions?: number;
  hits?: number;
  /** Share of confident predictions whose direction was right, 0..1. */
  hitRate?: number;
  decisions?: number;
  inferenceLatencyMs?: { p50: number; p99: number };
}

/**
 * One record of the engine's event stream. `entry` records carry every journal entry the engine applied, in
 * journal order; `market` records carry book tops (every `bus.marketIntervalMs`); `status` records carry the
 * engine's health, latency and limits. The read model is a fold over these records.
 */
export type TraderRecord =
  | { readonly k: 'entry'; readonly entry: JournalEntry }
  | { readonly k: 'market'; readonly ts: number; readonly books: readonly BookTop[] }
  | { readonly k: 'status'; readonly ts: number; readonly status: EngineStatus };
