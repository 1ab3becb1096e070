import type { HealthCheckResult } from './health.js';
import type { BookSnapshot, MarketEvent, Venue } from './types.js';

/**
 * Where a {@link DataClient} delivers, given to it at construction (the engine implements it). Calls come in the
 * venue's order per book, with gaps already detected: diffs never skip an update without a {@link GapEvent} first.
 */
export interface DataSink {
  /**
   * A normalized event (diff, in-stream snapshot, trade, gap) and `recvTs`, the arrival of its frame on the
   * `performance.now()` clock (what tick-to-decision latencies are measured from).
   */
  onEvent(ev: MarketEvent, recvTs: number): void;
  /**
   * A snapshot the client fetched (Binance's REST depth), to replace `symbol`'s book. `force` replaces a book that
   * still looks synced: the client saw a gap the book cannot see. Returns false when the sink wants another one.
   */
  onSnapshot(symbol: string, snapshot: BookSnapshot, force: boolean): boolean;
}

/** Counters every {@link DataClient} keeps (clients add their own). */
export interface DataClientCounters {
  /** Frames that could not be decoded or normalized (dropped). */
  malformed: number;
  /** Continuity losses reported (sequence gaps, checksum mismatches, disconnects). */
  gaps: number;
  /** Recoveries started (REST snapshot fetches, resubscriptions). */
  resyncs: number;
  /** Snapshots delivered to the sink (REST or in-stream). */
  snapshots: number;
  [counter: string]: number;
}

/** A data client's health, in the shape `@cryptoscalp/health` registers. */
/** A data client's health, in the suite's contract shape. */
export type DataClientHealth = HealthCheckResult;

/**
 * One venue's market data (the nautilus_trader / hummingbot "data client"): a connection speaking the venue's
 * subscribe messages, its parser, and the venue's continuity rule checked in exactly one place, with recovery
 * (REST snapshot or resubscription) when it breaks. Everything goes to the {@link DataSink} given at construction.
 */
export interface DataClient {
  readonly venue: Venue;
  /** Subscribes every symbol's book and trades; the connection restores them after reconnects. */
  start(): Promise<void>;
  /** Closes the connection (not the manager it came from); idempotent. */
  close(): Promise<void>;
  /**
   * Asks for a fresh snapshot of `symbol` (REST fetch, or resubscription where the venue has none). Idempotent
   * while one is under way: the client starts one itself on every gap it detects.
   */
  requestSnapshot(symbol: string): void;
  readonly counters: DataClientCounters;
  /** Receives the normalization time (ms) of each frame when set; the JSON decode happens in ws-manager's codec. */
  onDecode: ((ms: number) => void) | undefined;
  /** Connection health: pass when open, warn while (re)connecting, fail when closed. */
  healthCheck?(): Promise<DataClientHealth>;
}
