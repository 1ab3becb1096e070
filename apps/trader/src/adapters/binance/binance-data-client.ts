import { performance } from 'node:perf_hooks';
import type { ManagedConnection, StreamMessage, WebSocketManager } from '@cryptoscalp/ws-manager';
import { isTraderError } from '../../errors.js';
import { parseBinanceEvent } from './binance-parser.js';
import type { DepthSnapshot } from './binance-book-sync.js';
import { SnapshotFetcher } from './snapshot-fetcher.js';
import type { MarketEvent } from '../../model/types.js';

/** Options of {@link ManagedBinanceFeed}. */
export interface ManagedBinanceFeedOptions {
  manager: WebSocketManager;
  /** Exchange name configured in the manager. @default 'binance' */
  exchange?: string;
  /** REST base URL for depth snapshots. */
  restUrl: string;
  symbols: readonly string[];
  /** Snapshot depth. @default 1000 */
  depthLimit?: number;
  /** Receives each normalized event with its receive time (`performance.now()` scale). */
  onEvent: (ev: MarketEvent, recvTs: number) => void;
  /** Receives a snapshot the manager fetched on start or after a gap; `force` replaces a book that looks synced. */
  onSnapshot: (symbol: string, snap: DepthSnapshot, force: boolean) => boolean;
}

interface SnapshotMessage {
  symbol: string;
  snapshot: DepthSnapshot;
}

/**
 * Binance market data through `@cryptoscalp/ws-manager`: one managed connection, `<symbol>@depth@100ms` streams
 * sequenced by `U`/`u`/`pu` with `resync` fetching the REST snapshot (so the manager orders, deduplicates, detects
 * gaps and buffers deltas during a resync), `<symbol>@trade` streams deduplicated by trade id. The engine's
 * {@link BinanceBookSync} checks the same rules again, so a book is never wrong even if the feed were.
 */
export class ManagedBinanceFeed {
  readonly connection: ManagedConnection;
  private readonly fetcher: SnapshotFetcher;
  private readonly bySymbol = new Map<string, string>();
  readonly counters = { malformed: 0, gaps: 0, resyncs: 0, snapshots: 0 };
  /** Receives the normalization time of each delta (the JSON decode itself happens in ws-manager's codec). */
  onDecode: ((ms: number) => void) | undefined;
  private closed = false;

  constructor(private readonly options: ManagedBinanceFeedOptions) {
    this.fetcher = new SnapshotFetcher(options.restUrl, options.depthLimit ?? 1000);
    for (const s of options.symbols) this.bySymbol.set(s.toLowerCase(), s);
    this.connection = options.manager.connect(options.exchange ?? 'binance', {
      stream: (m) => (typeof m?.stream === 'string' ? m.stream : undefined),
      sequence: (m) =>
        m?.data?.e === 'depthUpdate'
          ? { first: m.data.U, last: m.data.u, ...(m.data.pu === undefined ? {} : { prev: m.data.pu }) }
          : undefined,
      id: (m) => (m?.data?.e === 'trade' ? m.data.t : undefined),
      timestamp: (m) => (typeof m?.data?.E === 'number' ? m.data.E : undefined),
      resync: async (stream) => {
        const symbol = this.symbolOf(stream);
        const snapshot = await this.fetcher.fetch(symbol);
        this.counters.resyncs++;
        const message: SnapshotMessage = { symbol, snapshot };
        return { sequence: snapshot.lastUpdateId, message };
      },
      heartbeat: { intervalMs: 5_000, timeoutMs: 5_000 },
      backoff: { initialDelayMs: 50, maxDelayMs: 2_000 },
      reorderTimeoutMs: 100,
    });
    this.connection.on('message', (msg) => this.onMessage(msg));
    this.connection.on('gap', () => {
      this.counters.gaps++;
    });
    this.connection.on('malformed', () => {
      this.counters.malformed++;
    });
    this.connection.on('error', () => {});
  }

  private symbolOf(stream: string): string {
    const lower = stream.split('@')[0] ?? '';
    return this.bySymbol.get(lower) ?? lower.toUpperCase();
  }

  /** Subscribes every symbol's depth and trade streams (restored by the manager after reconnects). */
  async start(): Promise<void> {
    let id = 1;
    for (const s of this.options.symbols) {
      for (const stream of [`${s.toLowerCase()}@depth@100ms`, `${s.toLowerCase()}@trade`]) {
        await this.connection.subscribe(
          stream,
          { method: 'SUBSCRIBE', params: [stream], id: id++ },
          { method: 'UNSUBSCRIBE', params: [stream], id: id++ },
        );
      }
    }
  }

  private onMessage(msg: StreamMessage): void {
    if (this.closed) return;
    // receivedAt is Date.now() at the frame's arrival; map it onto the performance clock for stage latencies.
    const recvTs = performance.now() - Math.max(0, Date.now() - msg.receivedAt);
    if (msg.kind === 'snapshot') {
      const { symbol, snapshot } = msg.data as SnapshotMessage;
      this.counters.snapshots++;
      this.options.onSnapshot(symbol, snapshot, true);
      return;
    }
    const data = (msg.data as { data?: unknown }).data;
    if (typeof data !== 'object' || data === null) {
      this.counters.malformed++;
      return;
    }
    let ev: MarketEvent | undefined;
    const t0 = performance.now();
    try {
      ev = parseBinanceEvent(data as Record<string, unknown>);
      this.onDecode?.(performance.now() - t0);
    } catch (e) {
      if (!isTraderError(e)) throw e;
      this.counters.malformed++;
      return;
    }
    if (ev) this.options.onEvent(ev, recvTs);
  }

  /** The engine found a book inconsistent: ask the manager to resync that stream. */
  requestSnapshot(symbol: string): void {
    if (!this.closed) this.connection.resync(`${symbol.toLowerCase()}@depth@100ms`);
  }

  /** Closes the connection; idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.connection.close();
  }
}
