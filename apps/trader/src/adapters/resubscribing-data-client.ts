import type { ManagedConnection, StreamMessage, WebSocketManager } from '@cryptoscalp/ws-manager';
import type { DataSink } from '../model/data-client.js';
import type { MarketEvent } from '../model/types.js';
import { receiveTime } from './receive-time.js';
import { Resubscriber } from './resubscriber.js';
import { VenueDataClient, type VenueDataClientCounters } from './venue-data-client.js';

/** The counters of a {@link ResubscribingDataClient}. */
export interface ResubscribingDataClientCounters extends VenueDataClientCounters {
  /** Error messages from the venue on the control channel. */
  venueErrors: number;
}

/**
 * A {@link VenueDataClient} for venues whose book snapshots come in the stream and that have no REST snapshot of the
 * socket's book (Coinbase, Kraken): recovery is resubscribing the book through a {@link Resubscriber}. Shared here: the
 * symbol -> venue market map, delivering a frame's events (an in-stream snapshot completes its book's resubscription,
 * a parser-detected gap starts one), and a disconnect as a gap for every book (the reconnect resubscribes them all).
 * A venue supplies its connection options, parser, subscriptions and book subscribe messages.
 */
export abstract class ResubscribingDataClient extends VenueDataClient {
  readonly connection: ManagedConnection;
  abstract override readonly counters: ResubscribingDataClientCounters;
  /** Trader symbol -> the venue's market name, in subscription order. */
  protected readonly markets = new Map<string, string>();
  protected readonly resubscriber: Resubscriber;

  /**
   * @param manager The manager that opened `connection` (its hooks carry the connection's events).
   * @param marketOf The venue's market name of a trader symbol (`BTCUSD` -> `BTC-USD`).
   * @param resubscribeTimeoutMs A resubscription whose snapshot has not arrived after this long is sent again.
   */
  constructor(
    manager: WebSocketManager,
    connection: ManagedConnection,
    sink: DataSink,
    symbols: readonly string[],
    private readonly marketOf: (symbol: string) => string,
    resubscribeTimeoutMs: number | undefined,
  ) {
    super(sink);
    this.connection = connection;
    for (const s of symbols) this.markets.set(s, marketOf(s));
    this.resubscriber = new Resubscriber(
      connection,
      (symbol) => {
        const market = this.markets.get(symbol) ?? this.marketOf(symbol);
        return {
          unsubscribe: this.bookMessage('unsubscribe', market),
          subscribe: this.bookMessage('subscribe', market),
        };
      },
      () => {
        this.counters.resyncs++;
      },
      resubscribeTimeoutMs,
    );
    this.listen(manager);
    this.onConnection(manager.onStateChange, (change) => {
      if (change.from !== 'open' || this.closed) return;
      this.counters.gaps++;
      this.onDisconnect();
      this.resubscriber.clear();
      this.lostContinuity(`connection ${change.to}`);
    });
  }

  /** The venue's message (un)subscribing `market`'s book; subscribing answers with a snapshot. */
  protected abstract bookMessage(type: 'subscribe' | 'unsubscribe', market: string): Record<string, unknown>;

  /** Venue state to drop when the connection goes down (before the gap is reported). */
  protected onDisconnect(): void {}

  /** Counts a gap the parser reported in the stream (a venue adds its own counter of the cause). */
  protected countStreamGap(): void {
    this.counters.gaps++;
  }

  protected onMessage(msg: StreamMessage): void {
    if (this.closed || !this.normalize(msg.data)) return;
    const events = this.events;
    if (events.length === 0) return;
    const recvTs = receiveTime(msg);
    for (let i = 0; i < events.length; i++) {
      const ev = events[i] as MarketEvent;
      if (ev.kind === 'book') {
        if (ev.snapshot) {
          this.counters.snapshots++;
          this.resubscriber.done(ev.symbol);
        }
      } else if (ev.kind === 'gap') {
        this.countStreamGap();
      }
      this.sink.onEvent(ev, recvTs);
      if (ev.kind === 'gap' && ev.symbol !== undefined) this.resubscriber.request(ev.symbol);
    }
  }

  /** Resubscribes `symbol`'s book for a fresh snapshot; no-op while one is awaited. */
  requestSnapshot(symbol: string): void {
    if (this.markets.has(symbol)) this.resubscriber.request(symbol);
  }

  protected stopRecovery(): void {
    this.resubscriber.close();
  }
}
