import { performance } from 'node:perf_hooks';
import type { ManagedConnection, StreamMessage, WebSocketManager } from '@cryptoscalp/ws-manager';
import { isTraderError } from '../../errors.js';
import type { DataClient, DataClientHealth, DataSink } from '../../model/data-client.js';
import type { MarketEvent } from '../../model/types.js';
import { connectionHealth } from '../connection-health.js';
import { receiveTime } from '../receive-time.js';
import { Resubscriber } from '../resubscriber.js';
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
export class CoinbaseDataClient implements DataClient {
  readonly venue = 'coinbase' as const;
  readonly connection: ManagedConnection;
  readonly counters = { malformed: 0, gaps: 0, resyncs: 0, snapshots: 0, venueErrors: 0, sinkErrors: 0 };
  onDecode: ((ms: number) => void) | undefined;
  private readonly sink: DataSink;
  private readonly parser = new CoinbaseParser();
  private readonly products = new Map<string, string>();
  private readonly resubscriber: Resubscriber;
  /** The events of the frame being handled; reused, so a frame allocates no array. */
  private readonly events: MarketEvent[] = [];
  private closed = false;

  constructor(options: CoinbaseDataClientOptions) {
    this.sink = options.sink;
    for (const s of options.symbols) this.products.set(s, coinbaseProductId(s));
    this.connection = options.manager.connect(options.exchange ?? 'coinbase', {
      stream: (m) => (typeof m?.channel === 'string' ? STREAM : undefined),
      sequence: (m) => (typeof m?.sequence_num === 'number' ? m.sequence_num : undefined),
      resetSequenceOnReconnect: true,
      heartbeat: { intervalMs: 5_000, timeoutMs: 5_000 },
      backoff: { initialDelayMs: 50, maxDelayMs: 2_000 },
      reorderTimeoutMs: 100,
      // Two overlapping sockets would interleave two `sequence_num` counters.
      maxConnectionLifetimeMs: 0,
    });
    this.resubscriber = new Resubscriber(
      this.connection,
      (symbol) => {
        const product = this.products.get(symbol) ?? coinbaseProductId(symbol);
        return { unsubscribe: level2('unsubscribe', product), subscribe: level2('subscribe', product) };
      },
      () => {
        this.counters.resyncs++;
      },
      options.resubscribeTimeoutMs,
    );
    this.connection.on('message', (msg) => this.onMessage(msg));
    this.connection.on('gap', (info) => {
      this.counters.gaps++;
      // One counter for the whole connection: any product may have lost an update.
      this.lostContinuity(`sequence_num gap: expected ${info.expected}, got ${info.received}`);
      for (const symbol of this.products.keys()) this.resubscriber.request(symbol);
    });
    this.connection.on('state', (change) => {
      if (change.from !== 'open' || this.closed) return;
      this.counters.gaps++;
      this.resubscriber.clear();
      this.lostContinuity(`connection ${change.to}`);
    });
    this.connection.on('control', (m) => {
      if (m?.type === 'error') this.counters.venueErrors++;
    });
    this.connection.on('malformed', () => {
      this.counters.malformed++;
    });
    this.connection.on('error', () => {
      this.counters.sinkErrors++;
    });
  }

  private lostContinuity(reason: string): void {
    if (!this.closed) this.sink.onEvent({ kind: 'gap', venue: 'coinbase', reason }, performance.now());
  }

  /** Subscribes `heartbeats`, then each product's `level2` and `market_trades` (restored after reconnects). */
  async start(): Promise<void> {
    await this.connection.subscribe(
      'heartbeats',
      { type: 'subscribe', channel: 'heartbeats' },
      { type: 'unsubscribe', channel: 'heartbeats' },
    );
    for (const product of this.products.values()) {
      await this.connection.subscribe(
        `level2:${product}`,
        level2('subscribe', product),
        level2('unsubscribe', product),
      );
      await this.connection.subscribe(
        `market_trades:${product}`,
        { type: 'subscribe', product_ids: [product], channel: 'market_trades' },
        { type: 'unsubscribe', product_ids: [product], channel: 'market_trades' },
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
      this.parser.parse(msg.data as Record<string, unknown>, events);
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
      if (ev.kind === 'book' && ev.snapshot) {
        this.counters.snapshots++;
        this.resubscriber.done(ev.symbol);
      }
      this.sink.onEvent(ev, recvTs);
    }
  }

  /** Resubscribes `symbol`'s `level2` for a fresh snapshot; no-op while one is awaited. */
  requestSnapshot(symbol: string): void {
    if (this.products.has(symbol)) this.resubscriber.request(symbol);
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

function level2(type: 'subscribe' | 'unsubscribe', product: string): Record<string, unknown> {
  return { type, product_ids: [product], channel: 'level2' };
}
