import type { WebSocketManager } from '@cryptoscalp/ws-manager';
import type { DataSink } from '../../model/data-client.js';
import type { MarketEvent } from '../../model/types.js';
import { ResubscribingDataClient } from '../resubscribing-data-client.js';
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
export class KrakenDataClient extends ResubscribingDataClient {
  readonly venue = 'kraken' as const;
  readonly counters = {
    malformed: 0,
    gaps: 0,
    resyncs: 0,
    snapshots: 0,
    checksumFailures: 0,
    venueErrors: 0,
    sinkErrors: 0,
  };
  /** The subscribed book depth. */
  readonly depth: number;
  private readonly parser = new KrakenParser();

  constructor(options: KrakenDataClientOptions) {
    super(
      options.manager,
      options.manager.connect(options.exchange ?? 'kraken', {
        // Channel frames are arrays; objects are events (status, acks, heartbeats): control messages.
        stream: (m) => (Array.isArray(m) ? STREAM : undefined),
        heartbeat: { intervalMs: 5_000, timeoutMs: 5_000 },
        backoff: { initialDelayMs: 50, maxDelayMs: 2_000 },
        // Two overlapping sockets would apply each update twice to the checksum books.
        maxConnectionLifetimeMs: 0,
      }),
      options.sink,
      options.symbols,
      krakenPair,
      options.resubscribeTimeoutMs,
    );
    const limit = options.depthLimit ?? 1000;
    this.depth = DEPTHS.reduce<number>((best, d) => (d <= limit ? d : best), DEPTHS[0]);
    this.connection.on('control', (m) => {
      if (m?.status === 'error' || m?.event === 'error') this.counters.venueErrors++;
    });
  }

  protected bookMessage(event: 'subscribe' | 'unsubscribe', pair: string): Record<string, unknown> {
    return { event, pair: [pair], subscription: { name: 'book', depth: this.depth } };
  }

  protected parse(data: unknown, out: MarketEvent[]): void {
    this.parser.parse(data, out);
  }

  /** The parser's only stream gap is a checksum mismatch. */
  protected override countStreamGap(): void {
    super.countStreamGap();
    this.counters.checksumFailures++;
  }

  /** The checksum books are stale once the socket drops; the reconnect's subscriptions bring new snapshots. */
  protected override onDisconnect(): void {
    this.parser.reset();
  }

  /** Subscribes each pair's book and trades (restored by the manager after reconnects). */
  async start(): Promise<void> {
    for (const pair of this.markets.values()) {
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
}
