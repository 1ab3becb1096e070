import type { ManagedConnection, StreamMessage, WebSocketManager } from '@cryptoscalp/ws-manager';
import type { DataSink } from '../../model/data-client.js';
import type { BookSnapshot, MarketEvent } from '../../model/types.js';
import { receiveTime } from '../receive-time.js';
import { VenueDataClient } from '../venue-data-client.js';
import { parseBinanceEvent } from './binance-parser.js';
import { SnapshotFetcher } from './snapshot-fetcher.js';

/** Options of {@link BinanceDataClient}. */
export interface BinanceDataClientOptions {
  manager: WebSocketManager;
  /** Exchange name configured in the manager. @default 'binance' */
  exchange?: string;
  /** REST base URL for depth snapshots. */
  restUrl: string;
  symbols: readonly string[];
  /** Snapshot depth. @default 1000 */
  depthLimit?: number;
  /** Receives events and snapshots. */
  sink: DataSink;
}

/** What the resync hands through the pipeline as the `snapshot` message. */
interface SnapshotMessage {
  symbol: string;
  snapshot: BookSnapshot;
}

/** A failed resync (REST down) is retried after this long, until one succeeds. */
const RESYNC_RETRY_MS = 1_000;

/**
 * Binance market data through `@cryptoscalp/ws-manager`: one managed connection to the combined-stream endpoint,
 * `<symbol>@depth@100ms` streams sequenced by `U`/`u`/`pu` with `resync` fetching the REST depth snapshot, and
 * `<symbol>@trade` streams deduplicated by trade id. The manager's pipeline is the one place Binance's sequence rules
 * are checked: it drops duplicates and stale diffs, reorders within 100 ms, buffers diffs until the snapshot, applies
 * the first-diff rule after it, and reports a gap (sent on as a {@link GapEvent}) followed by a resync.
 */
export class BinanceDataClient extends VenueDataClient {
  readonly venue = 'binance' as const;
  readonly connection: ManagedConnection;
  readonly counters = { malformed: 0, gaps: 0, resyncs: 0, snapshots: 0, resyncFailures: 0, sinkErrors: 0 };
  private readonly fetcher: SnapshotFetcher;
  private readonly bySymbol = new Map<string, string>();
  private readonly retries = new Map<string, NodeJS.Timeout>();
  private readonly abort = new AbortController();

  constructor(private readonly options: BinanceDataClientOptions) {
    super(options.sink);
    this.fetcher = new SnapshotFetcher(options.restUrl, options.depthLimit ?? 1000);
    for (const s of options.symbols) this.bySymbol.set(s.toLowerCase(), s);
    this.connection = options.manager.connect(options.exchange ?? 'binance', {
      stream: (m) => (typeof m?.stream === 'string' ? m.stream : undefined),
      sequence: (m) => {
        const d = m?.data;
        if (d?.e !== 'depthUpdate') return undefined;
        return d.pu === undefined ? { first: d.U, last: d.u } : { first: d.U, last: d.u, prev: d.pu };
      },
      id: (m) => (m?.data?.e === 'trade' ? m.data.t : undefined),
      timestamp: (m) => (typeof m?.data?.E === 'number' ? m.data.E : undefined),
      resync: async (stream) => {
        const symbol = this.symbolOf(stream);
        this.counters.resyncs++;
        const snapshot = await this.fetcher.fetch(symbol, this.abort.signal);
        const message: SnapshotMessage = { symbol, snapshot };
        return { sequence: snapshot.lastUpdateId, message };
      },
      // Binance's procedure restarts the local book from a snapshot after a reconnect; it also makes a venue that
      // came back with its update ids reset resync at once instead of its diffs being dropped as duplicates.
      resetSequenceOnReconnect: true,
      heartbeat: { intervalMs: 5_000, timeoutMs: 5_000 },
      backoff: { initialDelayMs: 50, maxDelayMs: 2_000 },
      reorderTimeoutMs: 100,
    });
    this.listen(options.manager);
    this.onConnection(options.manager.onGap, (info) => {
      this.counters.gaps++;
      this.lostContinuity(`sequence gap: expected ${info.expected}, got ${info.received}`, this.symbolOf(info.stream));
    });
    this.onConnection(options.manager.onResync, (info) => {
      if (info.phase !== 'error') return;
      this.counters.resyncFailures++;
      this.scheduleRetry(info.stream);
    });
  }

  private symbolOf(stream: string): string {
    const at = stream.indexOf('@');
    const lower = at < 0 ? stream : stream.slice(0, at);
    return this.bySymbol.get(lower) ?? lower.toUpperCase();
  }

  private static depthStream(symbol: string): string {
    return `${symbol.toLowerCase()}@depth@100ms`;
  }

  /**
   * The pipeline gives up after a few failed attempts and carries on without a snapshot (the book stays unsynced:
   * its gap was reported). Start over a little later, for as long as it takes; a resync still running ignores it.
   */
  private scheduleRetry(stream: string): void {
    if (this.closed || this.retries.has(stream)) return;
    const timer = setTimeout(() => {
      this.retries.delete(stream);
      if (!this.closed) this.connection.resync(stream);
    }, RESYNC_RETRY_MS);
    timer.unref();
    this.retries.set(stream, timer);
  }

  /** Subscribes every symbol's depth and trade streams (restored by the manager after reconnects). */
  async start(): Promise<void> {
    let id = 1;
    for (const s of this.options.symbols) {
      for (const stream of [BinanceDataClient.depthStream(s), `${s.toLowerCase()}@trade`]) {
        await this.connection.subscribe(
          stream,
          { method: 'SUBSCRIBE', params: [stream], id: id++ },
          { method: 'UNSUBSCRIBE', params: [stream], id: id++ },
        );
      }
    }
  }

  protected onMessage(msg: StreamMessage): void {
    if (this.closed) return;
    if (msg.kind === 'snapshot') {
      const { symbol, snapshot } = msg.data as SnapshotMessage;
      this.counters.snapshots++;
      // The manager resyncs only after a gap or for a stream's first message: replace the book even if it looks fine.
      this.sink.onSnapshot(symbol, snapshot, true);
      return;
    }
    const data = (msg.data as { data?: unknown }).data;
    if (typeof data !== 'object' || data === null) {
      this.counters.malformed++;
      return;
    }
    if (!this.normalize(data)) return;
    const ev = this.events[0];
    if (ev !== undefined) this.sink.onEvent(ev, receiveTime(msg));
  }

  /** One combined-stream payload is at most one event (a depth diff or a trade). */
  protected parse(data: unknown, out: MarketEvent[]): void {
    const ev = parseBinanceEvent(data as Record<string, unknown>);
    if (ev !== undefined) out.push(ev);
  }

  /** Resyncs `symbol`'s depth stream from a REST snapshot; a resync already running makes this a no-op. */
  requestSnapshot(symbol: string): void {
    if (!this.closed) this.connection.resync(BinanceDataClient.depthStream(symbol));
  }

  /** Aborts snapshot fetches and pending retries when the client closes. */
  protected stopRecovery(): void {
    this.abort.abort();
    for (const t of this.retries.values()) clearTimeout(t);
    this.retries.clear();
  }
}
