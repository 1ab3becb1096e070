import { performance } from 'node:perf_hooks';
import type { Hook, HookDisposable, ManagedConnection, StreamMessage, WebSocketManager } from '@cryptoscalp/ws-manager';
import { isTraderError } from '../errors.js';
import type { DataClient, DataClientCounters, DataClientHealth, DataSink } from '../model/data-client.js';
import type { MarketEvent, Venue } from '../model/types.js';
import { connectionHealth } from './connection-health.js';

/** The counters every venue client keeps: the {@link DataClientCounters} plus throwing-sink deliveries. */
export interface VenueDataClientCounters extends DataClientCounters {
  /** Deliveries whose sink threw (counted by ws-manager too). */
  sinkErrors: number;
}

/**
 * What every venue's {@link DataClient} does the same way over its one ws-manager connection: the frame-normalization
 * step (timed for `onDecode`, a malformed frame dropped whole and counted), the connection's malformed/sink-error
 * counting, gap events for lost continuity, health from the connection, and an idempotent close. A venue supplies its
 * connection, parser, subscriptions, message handling and recovery.
 */
export abstract class VenueDataClient implements DataClient {
  abstract readonly venue: Venue;
  abstract readonly connection: ManagedConnection;
  abstract readonly counters: VenueDataClientCounters;
  onDecode: ((ms: number) => void) | undefined;
  /** The events of the frame being handled; reused, so a frame allocates no array. */
  protected readonly events: MarketEvent[] = [];
  /** Set by {@link close}: nothing is delivered or recovered after it. */
  protected closed = false;
  /** The manager hooks this client listens on, removed by {@link close}. */
  private readonly hooks: HookDisposable[] = [];

  constructor(protected readonly sink: DataSink) {}

  abstract start(): Promise<void>;
  abstract requestSnapshot(symbol: string): void;

  /** Handles one message of the connection (called once {@link listen} ran). */
  protected abstract onMessage(msg: StreamMessage): void;

  /** Normalizes one decoded frame, appending its events to `out`; throws a `TraderError` for a malformed frame. */
  protected abstract parse(data: unknown, out: MarketEvent[]): void;

  /** Stops the venue's recovery (timers, fetches) when the client closes. */
  protected abstract stopRecovery(): void;

  /**
   * Wires the listeners every venue needs; a subclass calls it once its `connection` is set (the base constructor
   * runs before the connection exists). `manager` is the one that opened the connection: its hooks carry the
   * connection's events (see {@link onConnection}).
   */
  protected listen(manager: WebSocketManager): void {
    this.connection.on('message', (msg) => this.onMessage(msg));
    this.onConnection(manager.onMalformed, () => {
      this.counters.malformed++;
    });
    // A throwing sink is counted (ws-manager counts it too) rather than taking the connection down.
    this.connection.on('error', () => {
      this.counters.sinkErrors++;
    });
  }

  /**
   * Parses `data` into {@link events}, reporting the time to `onDecode`. Returns false when the frame was malformed:
   * it is dropped whole (none of its events were delivered yet) and counted. Errors that are not the parser's are
   * bugs and propagate.
   */
  protected normalize(data: unknown): boolean {
    const events = this.events;
    events.length = 0;
    const onDecode = this.onDecode;
    const t0 = onDecode === undefined ? 0 : performance.now();
    try {
      this.parse(data, events);
    } catch (e) {
      if (!isTraderError(e)) throw e;
      this.counters.malformed++;
      return false;
    }
    if (onDecode !== undefined) onDecode(performance.now() - t0);
    return true;
  }

  /** Tells the sink that continuity was lost (every book, or `symbol`'s), unless the client is closed. */
  protected lostContinuity(reason: string, symbol?: string): void {
    if (this.closed) return;
    this.sink.onEvent(
      symbol === undefined
        ? { kind: 'gap', venue: this.venue, reason }
        : { kind: 'gap', venue: this.venue, symbol, reason },
      performance.now(),
    );
  }

  /** Pass when the connection is open, warn while (re)connecting, fail when closed; details are the counters. */
  async healthCheck(): Promise<DataClientHealth> {
    return connectionHealth(this.connection, this.counters);
  }

  /**
   * Calls `listener` for the events of one of the manager's hooks (`manager.onGap`, `onResync`, `onStateChange`, ...)
   * that concern this client's connection; the manager may hold other connections. Removed by {@link close}.
   */
  protected onConnection<T extends { connection: string }>(hook: Hook<T>, listener: (info: T) => void): void {
    const id = this.connection.id;
    this.hooks.push(
      hook((info) => {
        if (info.connection === id) listener(info);
      }),
    );
  }

  /** Closes the connection; idempotent. The manager is the caller's. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const hook of this.hooks.splice(0)) hook.dispose();
    this.stopRecovery();
    await this.connection.close();
  }
}
