import { performance } from 'node:perf_hooks';
import type { ManagedConnection, StreamMessage, WebSocketManager } from '@cryptoscalp/ws-manager';
import { isTraderError } from '../../errors.js';
import type { DataClient, DataClientHealth, DataSink } from '../../model/data-client.js';
import type { MarketEvent } from '../../model/types.js';
import { connectionHealth } from '../connection-health.js';
import { receiveTime } from '../receive-time.js';
import { Resubscriber } from '../resubscriber.js';
import { KrakenParser, krakenPair } from './kraken-parser.js';

/** Options of {@link KrakenDataClient}. */
export interface KrakenDataClientOptions {
  manager: WebSocketManager;
  /** Exchange name configured in the manager (its endpoint: `wss://ws.kraken.com`). @default 'kraken' */
  exchange?: string;
  /** Symbols in the trader's spelling (`BTCUSD`); subscribed as pairs (`XBT/USD`). */
  symbols: readonly string[];
  /** Book depth; the largest depth Kraken offers (10, 25, 100, 500, 1000) not above it. @default 1000 */
  depthLimit?: number;
  /** Receives events; Kraken's snapshots come in the stream, as `snapshot` book events. */
  sink: DataSink;
  /** A resubscription whose snapshot has not arrived after this long is sent again. @default 5000 */
  resubscribeTimeoutMs?: number;
}

/** The book depths Kraken's v1 `book` subscription accepts. */
const DEPTHS = [10, 25, 100, 500, 1000] as const;

/** The one ws-manager stream of the connection: frames carry no sequence, continuity is the book checksum. */
const STREAM = 'kraken';

/**
 * Kraken (WebSocket v1) market data through `@cryptoscalp/ws-manager`: a `book` and a `trade` subscription per pair.
 * Continuity is Kraken's CRC32 checksum of each book's top 10, verified by {@link KrakenParser}; a mismatch is a
 * gap for that book, answered by resubscribing its pair (Kraken has no REST snapshot of the socket's book; the
 * subscription answers with one). A disconnect is a gap for every book; the reconnect resubscribes everything.
 */
export class KrakenDataClient implements DataClient {
  readonly venue = 'kraken' as const;
  readonly connection: ManagedConnection;
  readonly counters = {
    malformed: 0,
    gaps: 0,
    resyncs: 0,
    snapshots: 0,
    checksumFailures: 0,
    venueErrors: 0,
    sinkErrors: 0,
  };
  onDecode: ((ms: number) => void) | undefined;
  /** The subscribed book depth. */
  readonly depth: number;
  private readonly sink: DataSink;
  private readonly parser = new KrakenParser();
  private readonly pairs = new Map<string, string>();
  private readonly resubscriber: Resubscriber;
  /** The events of the frame being handled; reused, so a frame allocates no array. */
  private readonly events: MarketEvent[] = [];
  private closed = false;

  constructor(options: KrakenDataClientOptions) {
    this.sink = options.sink;
    const limit = options.depthLimit ?? 1000;
    this.depth = DEPTHS.reduce<number>((best, d) => (d <= limit ? d : best), DEPTHS[0]);
    for (const s of options.symbols) this.pairs.set(s, krakenPair(s));
    this.connection = options.manager.connect(options.exchange ?? 'kraken', {
      // Channel frames are arrays; objects are events (status, acks, heartbeats): control messages.
      stream: (m) => (Array.isArray(m) ? STREAM : undefined),
      heartbeat: { intervalMs: 5_000, timeoutMs: 5_000 },
      backoff: { initialDelayMs: 50, maxDelayMs: 2_000 },
      // Two overlapping sockets would apply each update twice to the checksum books.
      maxConnectionLifetimeMs: 0,
    });
    this.resubscriber = new Resubscriber(
      this.connection,
      (symbol) => {
        const pair = this.pairs.get(symbol) ?? krakenPair(symbol);
        return { unsubscribe: this.bookMessage('unsubscribe', pair), subscribe: this.bookMessage('subscribe', pair) };
      },
      () => {
        this.counters.resyncs++;
      },
      options.resubscribeTimeoutMs,
    );
    this.connection.on('message', (msg) => this.onMessage(msg));
    this.connection.on('state', (change) => {
      if (change.from !== 'open' || this.closed) return;
      this.counters.gaps++;
      this.parser.reset();
      this.resubscriber.clear();
      this.sink.onEvent({ kind: 'gap', venue: 'kraken', reason: `connection ${change.to}` }, performance.now());
    });
    this.connection.on('control', (m) => {
      if (m?.status === 'error' || m?.event === 'error') this.counters.venueErrors++;
    });
    this.connection.on('malformed', () => {
      this.counters.malformed++;
    });
    this.connection.on('error', () => {
      this.counters.sinkErrors++;
    });
  }

  private bookMessage(event: 'subscribe' | 'unsubscribe', pair: string): Record<string, unknown> {
    return { event, pair: [pair], subscription: { name: 'book', depth: this.depth } };
  }

  /** Subscribes each pair's book and trades (restored by the manager after reconnects). */
  async start(): Promise<void> {
    for (const pair of this.pairs.values()) {
      await this.connection.subscribe(
        `book:${pair}`,
        this.bookMessage('subscribe', pair),
        this.bookMessage('unsubscribe', pair),
      );
      await this.connection.subscribe(
        `trade:${pair}`,
        { event: 'subscribe', pair: [pair], subscription: { name: 'trade' } },
        { event: 'unsubscribe', pair: [pair], subscription: { name: 'trade' } },
      );
    }
  }

  private onMessage(msg: StreamMessage): void {
    if (this.closed) return;
    const events = this.events;
    events.length = 0;
    const onDecode = this.onDecode;
    const t0 = onDecode === undefined ? 0 : performance.now();
    try {
      this.parser.parse(msg.data, events);
    } catch (e) {
      // The whole frame is dropped: none of its events were delivered yet.
      if (!isTraderError(e)) throw e;
      this.counters.malformed++;
      return;
    }
    if (onDecode !== undefined) onDecode(performance.now() - t0);
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
        this.counters.gaps++;
        this.counters.checksumFailures++;
      }
      this.sink.onEvent(ev, recvTs);
      if (ev.kind === 'gap' && ev.symbol !== undefined) this.resubscriber.request(ev.symbol);
    }
  }

  /** Resubscribes `symbol`'s book for a fresh snapshot; no-op while one is awaited. */
  requestSnapshot(symbol: string): void {
    if (this.pairs.has(symbol)) this.resubscriber.request(symbol);
  }

  async healthCheck(): Promise<DataClientHealth> {
    return connectionHealth(this.connection, this.counters);
  }

  /** Closes the connection; idempotent. The manager is the caller's. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.resubscriber.close();
    await this.connection.close();
  }
}
