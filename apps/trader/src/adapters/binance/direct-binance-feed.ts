import { performance } from 'node:perf_hooks';
import WebSocket from 'ws';
import { isTraderError } from '../../errors.js';
import type { MarketEvent } from '../../model/types.js';
import { BinanceAdapter } from './binance-parser.js';
import type { DepthSnapshot } from './binance-book-sync.js';
import { SnapshotFetcher } from './snapshot-fetcher.js';

/** Options of {@link DirectBinanceFeed}. */
export interface DirectBinanceFeedOptions {
  /** Combined-stream URL, e.g. `ws://127.0.0.1:9443/stream`. */
  wsUrl: string;
  /** REST base URL for snapshots. */
  restUrl: string;
  symbols: readonly string[];
  /** Receives each normalized event with its receive time (`performance.now()`). */
  onEvent: (ev: MarketEvent, recvTs: number) => void;
  /** Receives snapshots; returns false when the book needs another one. */
  onSnapshot: (symbol: string, snap: DepthSnapshot) => boolean;
  /** Called on connection state changes. @default undefined */
  onState?: (state: 'connecting' | 'open' | 'closed') => void;
  /** Snapshot depth. @default 1000 */
  depthLimit?: number;
  /** Reconnect delay cap. @default 2000 */
  maxBackoffMs?: number;
}

/**
 * A minimal Binance combined-stream client on plain `ws`: connect, reconnect with capped exponential backoff,
 * parse and normalize, fetch snapshots when a book asks. It is the fallback market-data path (and the baseline in
 * the bench); the trader uses `@cryptoscalp/ws-manager` when available.
 */
export class DirectBinanceFeed {
  private ws: WebSocket | undefined;
  private readonly adapter = new BinanceAdapter();
  private readonly fetcher: SnapshotFetcher;
  private attempts = 0;
  private closed = false;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private readonly abort = new AbortController();
  readonly counters = { frames: 0, malformed: 0, reconnects: 0, snapshotRetries: 0 };
  /** Decode (parse + normalize) time per frame, for the engine's decode recorder. */
  onDecode: ((ms: number) => void) | undefined;
  /** Sees every text frame before it is decoded (benchmarks measure a baseline on it). */
  onRaw: ((raw: string, recvTs: number) => void) | undefined;

  constructor(private readonly options: DirectBinanceFeedOptions) {
    this.fetcher = new SnapshotFetcher(options.restUrl, options.depthLimit ?? 1000);
  }

  start(): void {
    this.connect();
  }

  private connect(): void {
    if (this.closed) return;
    const streams = this.options.symbols.flatMap((s) => [`${s.toLowerCase()}@depth@100ms`, `${s.toLowerCase()}@trade`]);
    const ws = new WebSocket(`${this.options.wsUrl}?streams=${streams.join('/')}`);
    this.ws = ws;
    this.options.onState?.('connecting');
    ws.on('open', () => {
      this.attempts = 0;
      this.options.onState?.('open');
      for (const s of this.options.symbols) this.requestSnapshot(s);
    });
    ws.on('message', (data, isBinary) => {
      const recvTs = performance.now();
      this.counters.frames++;
      if (isBinary) {
        this.counters.malformed++;
        return;
      }
      let events: MarketEvent[];
      const raw = data.toString();
      this.onRaw?.(raw, recvTs);
      try {
        events = this.adapter.parse(raw);
      } catch (e) {
        if (!isTraderError(e)) throw e;
        this.counters.malformed++;
        return;
      }
      this.onDecode?.(performance.now() - recvTs);
      for (const ev of events) this.options.onEvent(ev, recvTs);
    });
    ws.on('close', () => {
      this.options.onState?.('closed');
      // Continuity is lost: every book must resync after the reconnect.
      for (const s of this.options.symbols)
        this.options.onEvent({ kind: 'gap', venue: 'binance', symbol: s, reason: 'disconnected' }, performance.now());
      this.scheduleReconnect();
    });
    ws.on('error', () => {});
  }

  private scheduleReconnect(): void {
    if (this.closed) return;
    this.counters.reconnects++;
    const cap = this.options.maxBackoffMs ?? 2000;
    const delay = Math.random() * Math.min(cap, 50 * 2 ** this.attempts++);
    this.reconnectTimer = setTimeout(() => this.connect(), delay);
  }

  private readonly chains = new Set<string>();

  /**
   * Fetches a snapshot for `symbol` and hands it over, retrying until the book accepts one. One retry chain per
   * symbol; while disconnected nothing is fetched (the reconnect requests every symbol).
   */
  requestSnapshot(symbol: string): void {
    if (this.closed || this.ws?.readyState !== WebSocket.OPEN || this.chains.has(symbol)) return;
    this.chains.add(symbol);
    this.fetchChain(symbol);
  }

  private fetchChain(symbol: string): void {
    const retry = (ms: number) => {
      this.counters.snapshotRetries++;
      setTimeout(() => {
        if (this.closed || this.ws?.readyState !== WebSocket.OPEN) this.chains.delete(symbol);
        else this.fetchChain(symbol);
      }, ms);
    };
    this.fetcher
      .fetch(symbol, this.abort.signal)
      .then((snap) => {
        if (this.closed) return;
        if (this.options.onSnapshot(symbol, snap)) this.chains.delete(symbol);
        else retry(50);
      })
      .catch(() => {
        if (!this.closed) retry(250);
      });
  }

  /** Closes the connection; idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.abort.abort();
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.ws?.terminate();
  }
}
