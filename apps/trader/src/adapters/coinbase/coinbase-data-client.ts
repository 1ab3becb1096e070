import type { WebSocketManager } from '@cryptoscalp/ws-manager';
import type { DataSink } from '../../model/data-client.js';
import type { MarketEvent } from '../../model/types.js';
import { ResubscribingDataClient } from '../resubscribing-data-client.js';
import { CoinbaseParser, coinbaseProductId } from './coinbase-parser.js';

/** Options of {@link CoinbaseDataClient}. */
export interface CoinbaseDataClientOptions {
  manager: WebSocketManager;
  /** Exchange name configured in the manager (its endpoint: `wss://advanced-trade-ws.coinbase.com`). @default 'coinbase' */
  exchange?: string;
  /** Symbols in the trader's spelling (`BTCUSD`); subscribed as product ids (`BTC-USD`). */
  symbols: readonly string[];
  /** Receives events; Coinbase's snapshots come in the stream, as `snapshot` book events. */
  sink: DataSink;
  /** A resubscription whose snapshot has not arrived after this long is sent again. @default 5000 */
  resubscribeTimeoutMs?: number;
}

/** The one ws-manager stream of the connection: `sequence_num` counts every message of the connection. */
const STREAM = 'coinbase';

/**
 * Coinbase Advanced Trade market data through `@cryptoscalp/ws-manager`: `level2` and `market_trades` per product
 * plus `heartbeats` (which keeps a quiet connection open). Continuity is Coinbase's `sequence_num`, one counter per
 * connection across channels, so every message goes through one sequenced ws-manager stream (ordered, deduplicated,
 * a jump reported as a gap) that starts over on each reconnect. Coinbase has no REST snapshot of the socket's book:
 * a gap makes every book wrong until its product's `level2` is resubscribed and the new snapshot arrives; a
 * disconnect does too, and the reconnect resubscribes everything.
 */
export class CoinbaseDataClient extends ResubscribingDataClient {
  readonly venue = 'coinbase' as const;
  readonly counters = { malformed: 0, gaps: 0, resyncs: 0, snapshots: 0, venueErrors: 0, sinkErrors: 0 };
  private readonly parser = new CoinbaseParser();

  constructor(options: CoinbaseDataClientOptions) {
    super(
      options.manager,
      options.manager.connect(options.exchange ?? 'coinbase', {
        stream: (m) => (typeof m?.channel === 'string' ? STREAM : undefined),
        sequence: (m) => (typeof m?.sequence_num === 'number' ? m.sequence_num : undefined),
        resetSequenceOnReconnect: true,
        heartbeat: { intervalMs: 5_000, timeoutMs: 5_000 },
        backoff: { initialDelayMs: 50, maxDelayMs: 2_000 },
        reorderTimeoutMs: 100,
        // Two overlapping sockets would interleave two `sequence_num` counters.
        maxConnectionLifetimeMs: 0,
      }),
      options.sink,
      options.symbols,
      coinbaseProductId,
      options.resubscribeTimeoutMs,
    );
    this.onConnection(options.manager.onGap, (info) => {
      this.counters.gaps++;
      // One counter for the whole connection: any product may have lost an update.
      this.lostContinuity(`sequence_num gap: expected ${info.expected}, got ${info.received}`);
      for (const symbol of this.markets.keys()) this.resubscriber.request(symbol);
    });
    this.connection.on('control', (m) => {
      if (m?.type === 'error') this.counters.venueErrors++;
    });
  }

  protected bookMessage(type: 'subscribe' | 'unsubscribe', product: string): Record<string, unknown> {
    return { type, product_ids: [product], channel: 'level2' };
  }

  protected parse(data: unknown, out: MarketEvent[]): void {
    this.parser.parse(data as Record<string, unknown>, out);
  }

  /** Subscribes `heartbeats`, then each product's `level2` and `market_trades` (restored after reconnects). */
  async start(): Promise<void> {
    await this.connection.subscribe(
      'heartbeats',
      { type: 'subscribe', channel: 'heartbeats' },
      { type: 'unsubscribe', channel: 'heartbeats' },
    );
    for (const product of this.markets.values()) {
      await this.connection.subscribe(
        `level2:${product}`,
        this.bookMessage('subscribe', product),
        this.bookMessage('unsubscribe', product),
      );
      await this.connection.subscribe(
        `market_trades:${product}`,
        { type: 'subscribe', product_ids: [product], channel: 'market_trades' },
        { type: 'unsubscribe', product_ids: [product], channel: 'market_trades' },
      );
    }
  }
}
