import { type ManagedConnection, type StreamMessage, WebSocketManager } from '@cryptoscalp/ws-manager';
import { TraderError } from '../../errors.js';
import { type BinanceSigner, wsApiPayload } from './signing.js';

/** `executionReport` of the user data stream (the fields the adapter reads). */
export interface ExecutionReport {
  e: 'executionReport';
  /** Event time. */
  E: number;
  s: string;
  /** Client order id (of the cancel request for a cancel: the original is `C`). */
  c: string;
  /** Original client order id of a cancel; '' otherwise. */
  C: string;
  S: 'BUY' | 'SELL';
  o: string;
  q: string;
  p: string;
  /** Execution type: NEW, CANCELED, REPLACED, REJECTED, TRADE, EXPIRED, TRADE_PREVENTION. */
  x: string;
  /** Order status. */
  X: string;
  /** Reject reason. */
  r: string;
  /** Venue order id. */
  i: number;
  /** Last executed quantity. */
  l: string;
  /** Cumulative filled quantity. */
  z: string;
  /** Last executed price. */
  L: string;
  /** Commission amount and asset. */
  n: string;
  N: string | null;
  /** Transaction time. */
  T: number;
  /** Trade id (-1 when not a trade). */
  t: number;
  /** Maker side of the trade. */
  m: boolean;
}

/** `outboundAccountPosition`: the balances an event changed. */
export interface AccountPosition {
  e: 'outboundAccountPosition';
  E: number;
  u: number;
  B: Array<{ a: string; f: string; l: string }>;
}

/** An event of the user data stream. */
export type UserDataEvent = ExecutionReport | AccountPosition | { e: string; E?: number };

/** Options of {@link BinanceUserDataStream}. */
export interface BinanceUserDataStreamOptions {
  /** WebSocket API URL: `wss://ws-api.binance.com:443/ws-api/v3`, testnet `wss://ws-api.testnet.binance.vision/ws-api/v3`. */
  wsApiUrl: string;
  signer: BinanceSigner;
  /** `recvWindow` of the subscription request, ms. @default 5000 */
  recvWindowMs?: number;
  /** Clock of the `timestamp` parameter. @default Date.now */
  now?: () => number;
  /** Reconnect backoff (ws-manager's). */
  backoff?: { initialDelayMs?: number; maxDelayMs?: number; multiplier?: number; stableAfterMs?: number };
  /** How long the subscription's answer is waited for. @default 10000 */
  loginTimeoutMs?: number;
  /** Transport heartbeat (ws-manager's); `false` disables. @default ws-manager's (15 s ping, 10 s pong timeout) */
  heartbeat?: { intervalMs?: number; timeoutMs?: number } | false;
}

/**
 * The account's user data stream through the WebSocket API (`userDataStream.subscribe.signature`, Binance's current
 * path; the REST listen-key endpoints are deprecated): one ws-manager connection whose login message is the signed
 * subscription request, made anew (fresh timestamp and signature) for every socket, so every reconnect subscribes
 * again before anything else. `onSubscribed` fires after each accepted subscription (`reconnect: true` after a
 * drop: the caller reconciles, since events of the gap are not replayed); `onDown` when the socket is lost.
 */
export class BinanceUserDataStream {
  private readonly manager: WebSocketManager;
  private connection: ManagedConnection | undefined;
  private readonly eventListeners: Array<(e: UserDataEvent) => void> = [];
  private readonly subscribedListeners: Array<(info: { reconnect: boolean }) => void> = [];
  private readonly downListeners: Array<(at: number) => void> = [];
  private requestId = 0;
  private pendingId = '';
  private readonly now: () => number;
  private readonly recvWindowMs: number;
  readonly counters = { events: 0, subscriptions: 0, subscriptionFailures: 0, drops: 0 };

  constructor(private readonly options: BinanceUserDataStreamOptions) {
    let url: URL;
    try {
      url = new URL(options.wsApiUrl);
    } catch (cause) {
      throw new TraderError('E_TRADER_INVALID_OPTION', 'wsApiUrl is not a URL', { field: 'wsApiUrl', cause });
    }
    if (url.protocol !== 'ws:' && url.protocol !== 'wss:')
      throw new TraderError('E_TRADER_INVALID_OPTION', 'wsApiUrl must be ws(s)', { field: 'wsApiUrl' });
    this.now = options.now ?? Date.now;
    this.recvWindowMs = options.recvWindowMs ?? 5_000;
    this.manager = new WebSocketManager({
      name: 'binance-user-data',
      exchanges: { 'binance-ws-api': { endpoints: [options.wsApiUrl] } },
    });
  }

  onEvent(listener: (e: UserDataEvent) => void): void {
    this.eventListeners.push(listener);
  }

  onSubscribed(listener: (info: { reconnect: boolean }) => void): void {
    this.subscribedListeners.push(listener);
  }

  onDown(listener: (at: number) => void): void {
    this.downListeners.push(listener);
  }

  /** Whether the socket is open and subscribed. */
  get subscribed(): boolean {
    return this.connection?.state === 'open' && this.pendingId === '';
  }

  /** Opens the connection (it subscribes on every socket). Idempotent. */
  start(): void {
    if (this.connection !== undefined) return;
    const signer = this.options.signer;
    const conn = this.manager.connect('binance-ws-api', {
      ...(this.options.backoff === undefined ? {} : { backoff: this.options.backoff }),
      ...(this.options.heartbeat === undefined ? {} : { heartbeat: this.options.heartbeat }),
      loginTimeoutMs: this.options.loginTimeoutMs ?? 10_000,
      login: () => {
        this.pendingId = `uds-${++this.requestId}`;
        const params: Record<string, string | number> = {
          apiKey: signer.apiKey,
          recvWindow: this.recvWindowMs,
          timestamp: this.now(),
        };
        return {
          id: this.pendingId,
          method: 'userDataStream.subscribe.signature',
          params: { ...params, signature: signer.sign(wsApiPayload(params)) },
        };
      },
      loginAck: (m) => (m?.id === this.pendingId ? m.status === 200 : undefined),
      // Events come as `{ subscriptionId, event }`; answers to requests (with `id`) are control messages.
      stream: (m) => (m !== null && typeof m === 'object' && typeof m.event === 'object' ? 'user' : undefined),
    });
    // The manager is this stream's own: its hooks carry only this connection's events.
    this.manager.onLogin((info) => {
      if (info.ok) {
        this.pendingId = '';
        this.counters.subscriptions++;
        for (const l of this.subscribedListeners) l({ reconnect: info.reconnect });
      } else {
        this.counters.subscriptionFailures++;
      }
    });
    this.manager.onStateChange((change) => {
      if (change.from === 'open' && change.to === 'reconnecting') {
        this.counters.drops++;
        const at = this.now();
        for (const l of this.downListeners) l(at);
      }
    });
    conn.on('message', (m: StreamMessage) => {
      const event = (m.data as { event: UserDataEvent }).event;
      this.counters.events++;
      for (const l of this.eventListeners) l(event);
    });
    this.connection = conn;
  }

  stats(): Record<string, unknown> {
    return { ...this.counters, state: this.connection?.state ?? 'idle', subscribed: this.subscribed };
  }

  /** Closes the connection; idempotent. */
  close(): Promise<void> {
    return this.manager.close();
  }
}
