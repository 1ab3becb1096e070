import WebSocket from 'ws';
import { WsManagerError, WsManagerErrorCode } from '../errors.js';
import type { ConnectAttempt, ConnectionState } from '../types.js';
import { backoffDelay } from './backoff.js';
import { closeSocket } from './close-socket.js';
import type { ConnectionCounters } from './connection-counters.js';
import type { Endpoint, ExchangeRuntime } from './exchange-runtime.js';
import { type LiveSocket, newLiveSocket } from './live-socket.js';
import type { ResolvedConnectionOptions } from './validate.js';

const noop = () => {};

/** What the connector needs from its connection. */
export interface ConnectorHost {
  /** Moves the connection's logical state (`connecting` / `reconnecting`). */
  setState(to: ConnectionState): void;
  /** Takes an open socket into service. */
  adopt(socket: LiveSocket): void;
}

/**
 * The connect loop of one connection: endpoints tried in order behind their circuit breakers and the exchange's
 * connect budget (failover), full-jitter backoff between failed rounds and after a lost socket, and the backoff reset
 * once a socket stayed up for `stableAfterMs`. Owns every socket it opened until it closes.
 */
export class Connector {
  /** Sockets opened (handshake included) and not yet closed: `closeAll()` closes them. */
  private readonly sockets = new Set<WebSocket>();
  private endpointIndex = 0;
  private attempt = 0;
  private connecting = false;
  private retryTimer: NodeJS.Timeout | undefined;
  private stableTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly exchange: string,
    private readonly runtime: ExchangeRuntime,
    private readonly options: ResolvedConnectionOptions,
    private readonly counters: ConnectionCounters,
    /** Aborted when the connection closes. */
    private readonly closed: AbortSignal,
    private readonly host: ConnectorHost,
  ) {}

  /** Starts the connect loop unless it runs already. */
  start(): void {
    if (this.closed.aborted || this.connecting) return;
    this.connecting = true;
    this.host.setState(this.counters.connects === 0 ? 'connecting' : 'reconnecting');
    void this.loop().finally(() => {
      this.connecting = false;
    });
  }

  /** The serving socket was lost: reconnect after a backoff delay. */
  reconnectLater(): void {
    this.host.setState('reconnecting');
    const delay = backoffDelay(this.attempt, this.options.backoff);
    this.attempt++;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.start();
    }, delay);
  }

  /** A socket was adopted: the backoff restarts from zero once `isServing()` still holds after `stableAfterMs`. */
  armStable(isServing: () => boolean): void {
    this.stableTimer = setTimeout(() => {
      this.stableTimer = undefined;
      if (isServing()) this.attempt = 0;
    }, this.options.backoff.stableAfterMs);
    this.stableTimer.unref?.();
  }

  /** The serving socket closed before it was stable: the backoff keeps growing. */
  disarmStable(): void {
    if (this.stableTimer !== undefined) clearTimeout(this.stableTimer);
    this.stableTimer = undefined;
  }

  /** A socket closed: it is no longer the connector's to close. */
  forget(ws: WebSocket): void {
    this.sockets.delete(ws);
  }

  /** Opens one socket, trying endpoints in order and backing off between failed rounds. */
  private async loop(): Promise<void> {
    while (!this.closed.aborted) {
      try {
        const socket = await this.openAny();
        if (this.closed.aborted) {
          socket.ws.terminate();
          return;
        }
        this.host.adopt(socket);
        return;
      } catch {
        if (this.closed.aborted) return;
        const delay = backoffDelay(this.attempt, this.options.backoff);
        this.attempt++;
        await new Promise<void>((resolve) => {
          this.retryTimer = setTimeout(resolve, delay);
        });
        this.retryTimer = undefined;
      }
    }
  }

  /**
   * One pass over the endpoints starting at the current one; resolves with an open socket. Endpoints whose breaker is
   * open are skipped; when every breaker is open the current endpoint is still tried (outside its breaker): the
   * backoff already paces these attempts, and a lone endpoint must not be locked out by its own breaker.
   */
  async openAny(): Promise<LiveSocket> {
    const endpoints = this.runtime.endpoints;
    const allOpen = endpoints.every((e) => e.breaker.opened);
    let lastError: unknown;
    for (let i = 0; i < endpoints.length; i++) {
      const index = (this.endpointIndex + i) % endpoints.length;
      const endpoint = endpoints[index] as Endpoint;
      const bypass = allOpen && i === 0;
      if (endpoint.breaker.opened && !bypass) continue;
      await this.runtime.connectBucket.take(this.closed);
      if (this.closed.aborted) throw new WsManagerError(WsManagerErrorCode.Closed, 'connection is closed');
      const attempt: ConnectAttempt = { endpoint: endpoint.url, reconnect: this.counters.connects > 0 };
      try {
        const open = () => this.openSocket(attempt);
        const ws = (bypass ? await open() : await endpoint.breaker.fire(open)) as WebSocket;
        endpoint.successes++;
        if (index !== this.endpointIndex) this.counters.failovers++;
        this.endpointIndex = index;
        return newLiveSocket(ws, endpoint, attempt.reconnect);
      } catch (error) {
        endpoint.failures++;
        this.counters.connectFailures++;
        lastError = error;
      }
    }
    // Prefer the next endpoint on the following round.
    this.endpointIndex = (this.endpointIndex + 1) % endpoints.length;
    throw lastError;
  }

  /** Resolves a private stream's URL and headers for one attempt (their failure fails the attempt), then opens. */
  private async openSocket(attempt: ConnectAttempt): Promise<WebSocket> {
    const { url: urlFactory, headers: headersOption } = this.options;
    let url = attempt.endpoint;
    let headers: Readonly<Record<string, string>> | undefined;
    try {
      if (urlFactory !== undefined) url = await urlFactory(attempt);
      headers = typeof headersOption === 'function' ? await headersOption(attempt) : headersOption;
    } catch (error) {
      throw new WsManagerError(
        WsManagerErrorCode.ConnectFailed,
        `connect to ${attempt.endpoint} failed: url or headers`,
        {
          exchange: this.exchange,
          endpoint: attempt.endpoint,
          cause: error,
        },
      );
    }
    if (this.closed.aborted) throw new WsManagerError(WsManagerErrorCode.Closed, 'connection is closed');
    return this.openUrl(url, headers);
  }

  private openUrl(url: string, headers: Readonly<Record<string, string>> | undefined): Promise<WebSocket> {
    return new Promise<WebSocket>((resolve, reject) => {
      const ws = new WebSocket(url, {
        ...(headers === undefined ? {} : { headers: { ...headers } }),
        handshakeTimeout: this.options.connectTimeoutMs,
        maxPayload: this.options.maxPayloadBytes,
        perMessageDeflate: false,
        // A text frame with invalid UTF-8 would make ws close the socket (1007); the codec rejects it instead, so it is
        // counted as malformed and the connection keeps working (and the per-frame validation cost is saved).
        skipUTF8Validation: true,
      });
      this.sockets.add(ws);
      const timer = setTimeout(() => {
        ws.terminate();
        fail(new Error('connect timeout'));
      }, this.options.connectTimeoutMs);
      const cleanup = () => {
        clearTimeout(timer);
        ws.off('open', onOpen);
        ws.off('error', fail);
        ws.off('close', onClose);
        ws.off('unexpected-response', onResponse);
      };
      const fail = (error: unknown) => {
        cleanup();
        this.sockets.delete(ws);
        ws.on('error', noop);
        if (ws.readyState !== WebSocket.CLOSED) ws.terminate();
        reject(
          new WsManagerError(WsManagerErrorCode.ConnectFailed, `connect to ${url} failed`, {
            exchange: this.exchange,
            endpoint: url,
            cause: error,
          }),
        );
      };
      const onOpen = () => {
        cleanup();
        if (this.closed.aborted) {
          this.sockets.delete(ws);
          ws.on('error', noop);
          ws.terminate();
          reject(new WsManagerError(WsManagerErrorCode.Closed, 'connection is closed'));
          return;
        }
        resolve(ws);
      };
      const onClose = () => fail(new Error('closed during handshake'));
      const onResponse = (_req: unknown, res: { statusCode?: number }) =>
        fail(new Error(`unexpected HTTP ${res.statusCode}`));
      ws.once('open', onOpen);
      ws.once('error', fail);
      ws.once('close', onClose);
      ws.once('unexpected-response', onResponse);
    });
  }

  /**
   * Stops the timers and closes every socket (code 1000; terminated if the close handshake takes over 1 s). Resolves
   * once all are closed.
   */
  async closeAll(): Promise<void> {
    if (this.retryTimer !== undefined) clearTimeout(this.retryTimer);
    this.disarmStable();
    const closing: Promise<void>[] = [];
    for (const ws of this.sockets) closing.push(closeSocket(ws, 1000, 'client closing'));
    await Promise.all(closing);
    this.sockets.clear();
  }
}
