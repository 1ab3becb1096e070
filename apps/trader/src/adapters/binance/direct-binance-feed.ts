import { performance } from 'node:perf_hooks';
import { WebSocketManager } from '@cryptoscalp/ws-manager';
import type { DataSink } from '../../model/data-client.js';
import type { BookSnapshot, MarketEvent } from '../../model/types.js';
import { BinanceDataClient } from './binance-data-client.js';

/** @deprecated Options of {@link DirectBinanceFeed}. */
export interface DirectBinanceFeedOptions {
  /** Combined-stream URL, e.g. `ws://127.0.0.1:9443/stream`. */
  wsUrl: string;
  /** REST base URL for snapshots. */
  restUrl: string;
  symbols: readonly string[];
  /** Receives each normalized event with its receive time (`performance.now()`). */
  onEvent: (ev: MarketEvent, recvTs: number) => void;
  /** Receives snapshots. */
  onSnapshot: (symbol: string, snap: BookSnapshot) => boolean;
  /** Snapshot depth. @default 1000 */
  depthLimit?: number;
}

/**
 * @deprecated Kept only so `bench/tick-to-decision.ts` and `bench/app-latency.ts` compile; no production code uses
 * it. It is no longer a plain-`ws` client: Binance's sequence rules are checked in one place, ws-manager's pipeline,
 * so this wraps a {@link BinanceDataClient} on a private `WebSocketManager`. Benchmarks should call
 * `createDataClient` (`src/adapters/index.ts`) instead; then this file goes.
 */
export class DirectBinanceFeed {
  private readonly manager: WebSocketManager;
  private readonly client: BinanceDataClient;
  /** Sees every delta frame's data, re-serialized, after the engine handled it (the bench's baseline). */
  onRaw: ((raw: string, recvTs: number) => void) | undefined;

  constructor(options: DirectBinanceFeedOptions) {
    this.manager = new WebSocketManager({
      exchanges: { binance: { endpoints: [options.wsUrl], limits: { messagesPerSecond: 50, messageBurst: 50 } } },
    });
    const sink: DataSink = { onEvent: options.onEvent, onSnapshot: (s, snap) => options.onSnapshot(s, snap) };
    this.client = new BinanceDataClient({
      manager: this.manager,
      restUrl: options.restUrl,
      symbols: options.symbols,
      depthLimit: options.depthLimit,
      sink,
    });
    this.client.connection.on('message', (msg) => {
      if (this.onRaw !== undefined && msg.kind === 'delta') this.onRaw(JSON.stringify(msg.data), performance.now());
    });
  }

  /** The client's counters. */
  get counters(): BinanceDataClient['counters'] {
    return this.client.counters;
  }

  /** Decode time per frame, for the engine's decode recorder. */
  set onDecode(fn: ((ms: number) => void) | undefined) {
    this.client.onDecode = fn;
  }

  get onDecode(): ((ms: number) => void) | undefined {
    return this.client.onDecode;
  }

  /** Connects and subscribes. */
  start(): void {
    void this.client.start().catch(() => {});
  }

  requestSnapshot(symbol: string): void {
    this.client.requestSnapshot(symbol);
  }

  /** Closes the client and its manager; idempotent. */
  async close(): Promise<void> {
    await this.client.close();
    await this.manager.close();
  }
}
