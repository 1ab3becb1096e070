import { EventEmitter } from 'node:events';
import WebSocket from 'ws';
import { channels } from './channels.js';
import { WsManagerError, WsManagerErrorCode } from './errors.js';
import { backoffDelay } from './internal/backoff.js';
import { coarseNow } from './internal/coarse-clock.js';
import { ConsumerQueue } from './internal/consumer-queue.js';
import { type Endpoint, ExchangeRuntime } from './internal/exchange-runtime.js';
import { LatencyReservoir } from './internal/latency-reservoir.js';
import { StreamPipeline } from './internal/stream-pipeline.js';
import type { ResolvedConnectionOptions } from './internal/validate.js';
import type {
  ConnectAttempt,
  ConnectionEvents,
  ConnectionState,
  DecodedMessage,
  GapInfo,
  LoginInfo,
  MalformedInfo,
  QueueOptions,
  QueuePolicy,
  ResyncInfo,
  SequenceRange,
  StateChange,
  StreamMessage,
} from './types.js';

interface Subscription {
  subscribe: unknown;
  unsubscribe: unknown;
  subscribedAt: number;
}

/** A live socket with its endpoint and liveness bookkeeping. */
interface Socket {
  ws: WebSocket;
  endpoint: Endpoint;
  openedAt: number;
  lastPongAt: number;
  pingSentAt: number;
  heartbeat: NodeJS.Timeout | undefined;
  sendChain: Promise<void>;
  /** Whether this socket replaced an earlier one (reconnect, failover, rotation). */
  reconnect: boolean;
  /** Subscriptions go out on this socket (false until a private stream's login is done; they are restored then). */
  ready: boolean;
  /** Set while `loginAck` waits for the venue's answer on this socket. */
  loginWait: ((ok: boolean) => void) | undefined;
}

const noop = () => {};

function validSequence(sequence: number | SequenceRange): boolean {
  if (typeof sequence === 'number') return Number.isFinite(sequence);
  return (
    typeof sequence === 'object' &&
    sequence !== null &&
    Number.isFinite(sequence.first) &&
    Number.isFinite(sequence.last) &&
    sequence.last >= sequence.first &&
    (sequence.prev === undefined || Number.isFinite(sequence.prev))
  );
}

/**
 * One logical connection to an exchange: a socket (two during a rotation) with failover, backoff, heartbeat,
 * subscriptions that survive reconnects, and an ordered, deduplicated message pipeline per stream.
 * Created by `WebSocketManager.connect()`; it starts connecting at once.
 */
export class ManagedConnection extends EventEmitter<ConnectionEvents> implements AsyncIterable<StreamMessage> {
  /** Connection id, unique within the manager (`<exchange>#<n>`). */
  readonly id: string;
  private currentState: ConnectionState = 'idle';
  private primary: Socket | undefined;
  private rotating: Socket | undefined;
  private connecting = false;
  private closed = false;
  private closing: Promise<void> | undefined;
  private readonly abort = new AbortController();
  private readonly subscriptions = new Map<string, Subscription>();
  private readonly pipelines = new Map<string, StreamPipeline>();
  private readonly consumers = new Set<ConsumerQueue>();
  private readonly latency = new Map<string, LatencyReservoir>();
  private lastPipeline: StreamPipeline | undefined;
  private messageListeners: Array<(m: StreamMessage) => void> | undefined;
  private endpointIndex = 0;
  private attempt = 0;
  private retryTimer: NodeJS.Timeout | undefined;
  private stableTimer: NodeJS.Timeout | undefined;
  private lifetimeTimer: NodeJS.Timeout | undefined;
  private idleTimer: NodeJS.Timeout | undefined;
  private rotationTimer: NodeJS.Timeout | undefined;
  private readonly sockets = new Set<WebSocket>();

  private readonly counters = {
    connects: 0,
    connectFailures: 0,
    reconnects: 0,
    failovers: 0,
    rotations: 0,
    heartbeatTimeouts: 0,
    framesIn: 0,
    bytesIn: 0,
    malformed: 0,
    oversized: 0,
    controlMessages: 0,
    listenerErrors: 0,
    subscribeMessagesSent: 0,
    logins: 0,
    loginFailures: 0,
  };

  /** @internal use `WebSocketManager.connect()`. */
  constructor(
    private readonly component: string,
    readonly exchange: string,
    index: number,
    private readonly runtime: ExchangeRuntime,
    private readonly options: ResolvedConnectionOptions,
    private readonly onClosed: (connection: ManagedConnection) => void,
  ) {
    super();
    this.id = `${exchange}#${index}`;
    const invalidate = (event: string | symbol) => {
      if (event === 'message') this.messageListeners = undefined;
    };
    this.on('newListener' as never, invalidate as never);
    this.on('removeListener' as never, invalidate as never);
    if (options.idleTimeoutMs > 0) {
      this.idleTimer = setInterval(() => this.checkIdle(), Math.max(10, options.idleTimeoutMs / 4));
      this.idleTimer.unref?.();
    }
    // Deferred so listeners attached right after connect() see the first `state` event.
    queueMicrotask(() => this.startConnect());
  }

  /** The logical state: `connecting`, `open`, `reconnecting` or `closed`. */
  get state(): ConnectionState {
    return this.currentState;
  }

  /** The URL of the endpoint currently serving (undefined when not open). */
  get endpoint(): string | undefined {
    return this.primary?.endpoint.url;
  }

  /** Streams currently subscribed. */
  get streams(): string[] {
    return [...this.subscriptions.keys()];
  }

  // ---------------------------------------------------------------- subscriptions

  /**
   * Subscribes to a stream: `subscribeMessage` is sent now (if open) and after every reconnect; `unsubscribeMessage`
   * (optional) is sent by {@link unsubscribe} and before an idle resubscribe. Messages pass the shared per-exchange budget.
   * Resolves when the message was handed to the socket (or at once when not open: it is sent on open). If
   * `options.signal` aborts while waiting for the budget, the subscription is withdrawn and `E_WS_ABORTED` is thrown.
   */
  async subscribe(
    stream: string,
    subscribeMessage: unknown,
    unsubscribeMessage?: unknown,
    options: { signal?: AbortSignal } = {},
  ): Promise<void> {
    this.assertOpenForUse();
    if (typeof stream !== 'string' || stream.length === 0) {
      throw new WsManagerError(WsManagerErrorCode.INVALID_OPTION, 'stream must be a non-empty string', {
        field: 'stream',
      });
    }
    const subscription: Subscription = {
      subscribe: subscribeMessage,
      unsubscribe: unsubscribeMessage,
      subscribedAt: Date.now(),
    };
    this.subscriptions.set(stream, subscription);
    this.pipelineFor(stream, Date.now());
    try {
      // A socket still logging in gets every subscription (this one included) once its login is done.
      if (this.primary?.ready) await this.enqueueSend(this.primary, subscribeMessage, options.signal);
      if (this.rotating?.ready) await this.enqueueSend(this.rotating, subscribeMessage, options.signal);
    } catch (error) {
      if (this.subscriptions.get(stream) === subscription) {
        this.subscriptions.delete(stream);
        this.pipelines.get(stream)?.close();
        this.pipelines.delete(stream);
        if (this.lastPipeline?.stream === stream) this.lastPipeline = undefined;
      }
      throw error;
    }
  }

  /** Unsubscribes: forgets the stream (no restore) and sends its unsubscribe message if one was given. */
  async unsubscribe(stream: string): Promise<void> {
    const subscription = this.subscriptions.get(stream);
    if (subscription === undefined) return;
    this.subscriptions.delete(stream);
    this.pipelines.get(stream)?.close();
    this.pipelines.delete(stream);
    if (this.lastPipeline?.stream === stream) this.lastPipeline = undefined;
    this.latency.delete(stream);
    if (subscription.unsubscribe !== undefined) {
      for (const socket of [this.primary, this.rotating]) {
        if (socket !== undefined) await this.enqueueSend(socket, subscription.unsubscribe);
      }
    }
  }

  /** Sends an arbitrary message on the current socket through the per-exchange message budget. */
  async send(message: unknown, options: { signal?: AbortSignal } = {}): Promise<void> {
    this.assertOpenForUse();
    const socket = this.primary;
    if (socket === undefined) {
      throw new WsManagerError(WsManagerErrorCode.ConnectFailed, 'not connected', { exchange: this.exchange });
    }
    await this.enqueueSend(socket, message, options.signal);
  }

  /** Starts a resync of one stream now (e.g. the consumer found its book inconsistent). Needs a `resync` option. */
  resync(stream: string): void {
    this.pipelines.get(stream)?.startResync();
  }

  private assertOpenForUse(): void {
    if (this.closed)
      throw new WsManagerError(WsManagerErrorCode.Closed, 'connection is closed', { exchange: this.exchange });
  }

  private enqueueSend(socket: Socket, message: unknown, signal?: AbortSignal): Promise<void> {
    const next = socket.sendChain.then(async () => {
      if (signal?.aborted) {
        throw new WsManagerError(WsManagerErrorCode.Aborted, 'aborted before sending', { cause: signal.reason });
      }
      await this.runtime.messageBucket.take(
        signal === undefined ? this.abort.signal : AbortSignal.any([this.abort.signal, signal]),
      );
      if (socket.ws.readyState !== WebSocket.OPEN) return;
      const frame = this.options.codec.encode(message);
      socket.ws.send(frame, { binary: typeof frame !== 'string' });
      this.counters.subscribeMessagesSent++;
    });
    // A failed send (closed socket, abort) must not break the chain for later messages.
    socket.sendChain = next.catch(noop);
    return next.catch((error: unknown) => {
      if (this.closed) return;
      throw error;
    });
  }

  // ---------------------------------------------------------------- consumers

  /**
   * A bounded async iterator over delivered messages. Each call creates an independent consumer with its own queue
   * and policy; memory stays bounded by `maxSize` whatever the consumer's speed. Ends when the connection closes.
   */
  messages(options: QueueOptions = {}): AsyncIterableIterator<StreamMessage> {
    const maxSize = options.maxSize ?? this.options.queue.maxSize;
    const policy: QueuePolicy = options.policy ?? this.options.queue.policy;
    if (!Number.isInteger(maxSize) || maxSize < 1) {
      throw new WsManagerError(WsManagerErrorCode.INVALID_OPTION, 'queue.maxSize must be an integer >= 1', {
        field: 'queue.maxSize',
      });
    }
    if (policy !== 'drop-oldest' && policy !== 'conflate-latest' && policy !== 'error') {
      throw new WsManagerError(WsManagerErrorCode.INVALID_OPTION, 'queue.policy is invalid', { field: 'queue.policy' });
    }
    const queue = new ConsumerQueue(maxSize, policy, (q) => this.consumers.delete(q));
    if (this.closed) queue.end();
    else this.consumers.add(queue);
    return queue;
  }

  /** Async iteration with the connection's default queue options. */
  [Symbol.asyncIterator](): AsyncIterator<StreamMessage> {
    return this.messages();
  }

  private deliver(message: StreamMessage): void {
    const timestamp = this.options.timestamp;
    if (timestamp !== undefined && message.kind === 'delta') {
      let ts: number | undefined;
      try {
        ts = timestamp(message.data);
      } catch {
        ts = undefined;
      }
      if (typeof ts === 'number' && Number.isFinite(ts)) {
        let reservoir = this.latency.get(message.stream);
        if (reservoir === undefined) {
          reservoir = new LatencyReservoir();
          this.latency.set(message.stream, reservoir);
        }
        reservoir.add(Date.now() - ts);
      }
    }
    // Listeners are called directly from a cached array: EventEmitter#emit allocates an argument array per call.
    let listeners = this.messageListeners;
    if (listeners === undefined) {
      listeners = this.rawListeners('message') as Array<(m: StreamMessage) => void>;
      this.messageListeners = listeners;
    }
    for (let i = 0; i < listeners.length; i++) {
      try {
        (listeners[i] as (m: StreamMessage) => void).call(this, message);
      } catch (error) {
        this.counters.listenerErrors++;
        if (this.listenerCount('error') > 0) this.emit('error', error);
      }
    }
    if (this.consumers.size > 0) for (const consumer of this.consumers) consumer.push(message);
  }

  // ---------------------------------------------------------------- inbound frames

  private pipelineFor(stream: string, now: number): StreamPipeline {
    let pipeline = this.pipelines.get(stream);
    if (pipeline === undefined) {
      pipeline = new StreamPipeline(
        stream,
        this.options,
        {
          deliver: (message) => this.deliver(message),
          gap: (info) => {
            const payload: GapInfo = { component: this.component, exchange: this.exchange, ...info };
            if (channels.gap.hasSubscribers) channels.gap.publish(payload);
            this.emit('gap', payload);
          },
          resync: (info) => {
            const payload: ResyncInfo = { component: this.component, exchange: this.exchange, ...info };
            if (channels.resync.hasSubscribers) channels.resync.publish(payload);
            this.emit('resync', payload);
          },
        },
        now,
      );
      this.pipelines.set(stream, pipeline);
    }
    return pipeline;
  }

  /** One inbound frame; `receivedAtMono` is the `performance.now()` taken when `ws` emitted it. */
  private onFrame(socket: Socket, data: Buffer, isBinary: boolean, receivedAtMono: number): void {
    const counters = this.counters;
    counters.framesIn++;
    counters.bytesIn += data.length;
    socket.lastPongAt = coarseNow();
    if (data.length > this.options.maxFrameBytes) {
      counters.oversized++;
      this.reportMalformed(socket, 'oversize', data.length);
      return;
    }
    const options = this.options;
    let message: DecodedMessage;
    let stream: string | undefined;
    let sequence: ReturnType<NonNullable<ResolvedConnectionOptions['sequence']>>;
    try {
      message = options.codec.decode(data, isBinary);
      if (message === undefined) throw new TypeError('codec returned undefined');
      stream = options.stream(message);
      sequence = options.sequence === undefined || stream === undefined ? undefined : options.sequence(message);
      if (sequence !== undefined && !validSequence(sequence)) throw new TypeError('invalid sequence');
    } catch {
      counters.malformed++;
      this.reportMalformed(socket, 'decode', data.length);
      return;
    }
    if (socket.loginWait !== undefined && options.loginAck !== undefined) {
      let answer: boolean | undefined;
      try {
        answer = options.loginAck(message);
      } catch {
        answer = undefined;
      }
      if (answer !== undefined) socket.loginWait(answer === true);
    }
    if (options.shutdownNotice !== undefined && this.isShutdownNotice(message)) {
      void this.rotate();
    }
    const now = socket.lastPongAt;
    if (stream === undefined) {
      counters.controlMessages++;
      if (this.listenerCount('control') > 0) {
        try {
          this.emit('control', message);
        } catch (error) {
          counters.listenerErrors++;
          if (this.listenerCount('error') > 0) this.emit('error', error);
        }
      }
      return;
    }
    // Most feeds send long runs of one stream: skip the Map lookup (string hashing) for a repeat.
    let pipeline = this.lastPipeline;
    if (pipeline === undefined || pipeline.stream !== stream) {
      pipeline = this.pipelines.get(stream) ?? this.pipelineFor(stream, now);
      this.lastPipeline = pipeline;
    }
    if (sequence === undefined) {
      let id: string | number | undefined;
      if (options.id !== undefined) {
        try {
          id = options.id(message);
        } catch {
          id = undefined;
        }
      }
      pipeline.acceptUnsequenced(message, id, now, receivedAtMono);
    } else {
      pipeline.accept(message, sequence, now, receivedAtMono);
    }
  }

  private isShutdownNotice(message: DecodedMessage): boolean {
    try {
      return (this.options.shutdownNotice as (m: DecodedMessage) => boolean)(message) === true;
    } catch {
      return false;
    }
  }

  private reportMalformed(socket: Socket, reason: 'decode' | 'oversize', bytes: number): void {
    const info: MalformedInfo = {
      component: this.component,
      exchange: this.exchange,
      endpoint: socket.endpoint.url,
      reason,
      bytes,
    };
    if (channels.malformed.hasSubscribers) channels.malformed.publish(info);
    if (this.listenerCount('malformed') > 0) this.emit('malformed', info);
  }

  // ---------------------------------------------------------------- connect / reconnect

  private setState(to: ConnectionState): void {
    const from = this.currentState;
    if (from === to) return;
    this.currentState = to;
    const change: StateChange = {
      component: this.component,
      exchange: this.exchange,
      connection: this.id,
      endpoint: this.primary?.endpoint.url,
      from,
      to,
    };
    if (channels.state.hasSubscribers) channels.state.publish(change);
    this.emit('state', change);
  }

  private startConnect(): void {
    if (this.closed || this.connecting) return;
    this.connecting = true;
    this.setState(this.counters.connects === 0 ? 'connecting' : 'reconnecting');
    void this.connectLoop().finally(() => {
      this.connecting = false;
    });
  }

  /** Opens one socket, trying endpoints in order and backing off between failed rounds. */
  private async connectLoop(): Promise<void> {
    while (!this.closed) {
      try {
        const socket = await this.openAny();
        if (this.closed) {
          socket.ws.terminate();
          return;
        }
        this.adopt(socket);
        return;
      } catch {
        if (this.closed) return;
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
  private async openAny(): Promise<Socket> {
    const endpoints = this.runtime.endpoints;
    const allOpen = endpoints.every((e) => e.breaker.opened);
    let lastError: unknown;
    for (let i = 0; i < endpoints.length; i++) {
      const index = (this.endpointIndex + i) % endpoints.length;
      const endpoint = endpoints[index] as Endpoint;
      const bypass = allOpen && i === 0;
      if (endpoint.breaker.opened && !bypass) continue;
      await this.runtime.connectBucket.take(this.abort.signal);
      if (this.closed) throw new WsManagerError(WsManagerErrorCode.Closed, 'connection is closed');
      const attempt: ConnectAttempt = { endpoint: endpoint.url, reconnect: this.counters.connects > 0 };
      try {
        const open = () => this.openSocket(attempt);
        const ws = (bypass ? await open() : await endpoint.breaker.fire(open)) as WebSocket;
        endpoint.successes++;
        if (index !== this.endpointIndex) this.counters.failovers++;
        this.endpointIndex = index;
        const now = Date.now();
        return {
          ws,
          endpoint,
          openedAt: now,
          lastPongAt: now,
          pingSentAt: 0,
          heartbeat: undefined,
          sendChain: Promise.resolve(),
          reconnect: attempt.reconnect,
          ready: false,
          loginWait: undefined,
        };
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
    if (this.closed) throw new WsManagerError(WsManagerErrorCode.Closed, 'connection is closed');
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
        if (this.closed) {
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

  /** Wires an open socket: frames, heartbeat, close handling, subscription restore. */
  private wire(socket: Socket): void {
    const ws = socket.ws;
    // The arrival stamp is taken first, before any work on the frame (decode, extraction, ordering).
    ws.on('message', (data, isBinary) => this.onFrame(socket, data as Buffer, isBinary, performance.now()));
    ws.on('pong', () => {
      socket.lastPongAt = Date.now();
    });
    ws.on('error', noop); // a 'close' always follows; counted there
    ws.on('close', () => this.onSocketClose(socket));
    const heartbeat = this.options.heartbeat;
    if (heartbeat !== false) {
      socket.heartbeat = setInterval(
        () => {
          const now = Date.now();
          const awaiting = socket.pingSentAt > 0 && socket.lastPongAt < socket.pingSentAt;
          if (awaiting && now - socket.pingSentAt >= heartbeat.timeoutMs) {
            this.counters.heartbeatTimeouts++;
            ws.terminate();
            return;
          }
          if (!awaiting && now - Math.max(socket.pingSentAt, socket.openedAt) >= heartbeat.intervalMs) {
            socket.pingSentAt = now;
            try {
              ws.ping();
            } catch {
              // socket closing; the close handler takes over
            }
          }
        },
        Math.max(5, Math.min(heartbeat.intervalMs, heartbeat.timeoutMs) / 2),
      );
      socket.heartbeat.unref?.();
    }
    if (this.options.login === undefined) this.restoreSubscriptions(socket);
    else void this.login(socket);
  }

  private restoreSubscriptions(socket: Socket): void {
    socket.ready = true;
    for (const subscription of this.subscriptions.values()) {
      void this.enqueueSend(socket, subscription.subscribe).catch(noop);
    }
  }

  /**
   * A private stream's login on a new socket: the message is made anew and sent first; with `loginAck`, the
   * subscriptions are restored only once the venue accepted it. A refusal, a timeout or a throwing factory closes the
   * socket, which then reconnects with backoff like any lost socket.
   */
  private async login(socket: Socket): Promise<void> {
    const options = this.options;
    const attempt: ConnectAttempt = { endpoint: socket.endpoint.url, reconnect: socket.reconnect };
    let ok = false;
    let reason: LoginInfo['reason'];
    try {
      const message = await (options.login as (a: ConnectAttempt) => unknown)(attempt);
      if (socket.ws.readyState !== WebSocket.OPEN) return;
      let answered: Promise<boolean> | undefined;
      let timer: NodeJS.Timeout | undefined;
      if (options.loginAck !== undefined) {
        answered = new Promise<boolean>((resolve) => {
          socket.loginWait = resolve;
          timer = setTimeout(() => {
            reason = 'timeout';
            resolve(false);
          }, options.loginTimeoutMs);
          timer.unref?.();
        });
      }
      await this.enqueueSend(socket, message);
      ok = answered === undefined ? true : await answered;
      if (timer !== undefined) clearTimeout(timer);
      socket.loginWait = undefined;
      if (!ok) reason ??= 'refused';
    } catch {
      reason = 'error';
    }
    if (this.closed || socket.ws.readyState !== WebSocket.OPEN) return;
    const info: LoginInfo = {
      component: this.component,
      exchange: this.exchange,
      connection: this.id,
      endpoint: socket.endpoint.url,
      reconnect: socket.reconnect,
      ok,
      ...(reason === undefined ? {} : { reason }),
    };
    if (ok) {
      this.counters.logins++;
      this.restoreSubscriptions(socket);
    } else {
      this.counters.loginFailures++;
      socket.ws.terminate();
    }
    if (this.listenerCount('login') > 0) {
      try {
        this.emit('login', info);
      } catch (error) {
        this.counters.listenerErrors++;
        if (this.listenerCount('error') > 0) this.emit('error', error);
      }
    }
  }

  private adopt(socket: Socket): void {
    this.counters.connects++;
    if (this.counters.connects > 1) {
      this.counters.reconnects++;
      const reset = this.options.resetSequenceOnReconnect;
      for (const pipeline of this.pipelines.values()) pipeline.markDiscontinuity(reset);
    }
    this.primary = socket;
    this.wire(socket);
    this.setState('open');
    const { stableAfterMs } = this.options.backoff;
    this.stableTimer = setTimeout(() => {
      this.stableTimer = undefined;
      if (this.primary === socket) this.attempt = 0;
    }, stableAfterMs);
    this.stableTimer.unref?.();
    this.armLifetime();
  }

  private armLifetime(): void {
    if (this.lifetimeTimer !== undefined) clearTimeout(this.lifetimeTimer);
    this.lifetimeTimer = undefined;
    const lifetime = this.options.maxConnectionLifetimeMs;
    if (lifetime > 0) {
      this.lifetimeTimer = setTimeout(() => {
        this.lifetimeTimer = undefined;
        void this.rotate();
      }, lifetime);
      this.lifetimeTimer.unref?.();
    }
  }

  private onSocketClose(socket: Socket): void {
    if (socket.heartbeat !== undefined) clearInterval(socket.heartbeat);
    this.sockets.delete(socket.ws);
    if (socket === this.rotating) {
      this.rotating = undefined;
      return;
    }
    if (socket !== this.primary) return;
    this.primary = undefined;
    if (this.stableTimer !== undefined) clearTimeout(this.stableTimer);
    this.stableTimer = undefined;
    if (this.closed) return;
    // A rotation in progress already has the replacement socket: promote it.
    const replacement = this.rotating;
    if (replacement !== undefined && replacement.ws.readyState === WebSocket.OPEN) {
      this.rotating = undefined;
      this.finishRotation(replacement, undefined);
      return;
    }
    this.setState('reconnecting');
    const delay = backoffDelay(this.attempt, this.options.backoff);
    this.attempt++;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.startConnect();
    }, delay);
  }

  // ---------------------------------------------------------------- rotation

  /**
   * Make-before-break rotation: opens a second socket, subscribes it, lets both run for `rotationOverlapMs`
   * (the pipeline deduplicates the overlap), then closes the old one. Called on `maxConnectionLifetimeMs`, on a
   * `shutdownNotice`, or by hand. Resolves when the rotation finished (false if it could not start or failed).
   */
  async rotate(): Promise<boolean> {
    if (this.closed || this.rotating !== undefined || this.primary === undefined) return false;
    this.counters.rotations++;
    let socket: Socket;
    try {
      socket = await this.openAny();
    } catch {
      if (!this.closed) this.armLifetime();
      return false;
    }
    if (this.closed) {
      socket.ws.terminate();
      return false;
    }
    this.rotating = socket;
    this.wire(socket);
    await new Promise<void>((resolve) => {
      this.rotationTimer = setTimeout(resolve, this.options.rotationOverlapMs);
      this.rotationTimer.unref?.();
    });
    this.rotationTimer = undefined;
    if (this.closed || this.rotating !== socket) return this.primary === socket;
    this.rotating = undefined;
    this.finishRotation(socket, this.primary);
    return true;
  }

  private finishRotation(replacement: Socket, old: Socket | undefined): void {
    this.primary = replacement;
    if (old !== undefined) {
      if (old.heartbeat !== undefined) clearInterval(old.heartbeat);
      old.ws.close(1000, 'rotation');
    }
    this.armLifetime();
  }

  // ---------------------------------------------------------------- idle streams

  private checkIdle(): void {
    const socket = this.primary;
    if (socket === undefined || this.closed) return;
    const now = Date.now();
    const limit = this.options.idleTimeoutMs;
    for (const [stream, subscription] of this.subscriptions) {
      const pipeline = this.pipelines.get(stream);
      const last = Math.max(pipeline?.lastMessageAt ?? 0, subscription.subscribedAt, socket.openedAt);
      if (now - last < limit) continue;
      if (pipeline !== undefined) {
        pipeline.idleResubscribes++;
        pipeline.lastMessageAt = now;
      }
      subscription.subscribedAt = now;
      if (subscription.unsubscribe !== undefined) void this.enqueueSend(socket, subscription.unsubscribe).catch(noop);
      void this.enqueueSend(socket, subscription.subscribe).catch(noop);
    }
  }

  // ---------------------------------------------------------------- stats / close

  /** A cheap plain snapshot: connection counters and one entry per stream. */
  stats(): Record<string, unknown> {
    const streams: Record<string, unknown> = {};
    for (const [stream, pipeline] of this.pipelines) {
      const latency = this.latency.get(stream)?.percentiles();
      streams[stream] = { ...pipeline.stats(), subscribed: this.subscriptions.has(stream), latencyMs: latency };
    }
    let queued = 0;
    let dropped = 0;
    let conflated = 0;
    for (const consumer of this.consumers) {
      queued += consumer.length;
      dropped += consumer.dropped;
      conflated += consumer.conflated;
    }
    return {
      id: this.id,
      exchange: this.exchange,
      state: this.currentState,
      endpoint: this.primary?.endpoint.url,
      openSince: this.primary?.openedAt,
      ...this.counters,
      consumers: { count: this.consumers.size, queued, dropped, conflated },
      streams,
    };
  }

  /**
   * Closes the sockets (code 1000), stops every timer and ends the async iterators. Idempotent: every caller gets
   * the same promise, which resolves once the close has finished.
   */
  close(): Promise<void> {
    this.closing ??= this.closeOnce();
    return this.closing;
  }

  private async closeOnce(): Promise<void> {
    this.closed = true;
    this.abort.abort();
    for (const timer of [this.retryTimer, this.stableTimer, this.lifetimeTimer, this.rotationTimer]) {
      if (timer !== undefined) clearTimeout(timer);
    }
    if (this.idleTimer !== undefined) clearInterval(this.idleTimer);
    const closing: Promise<void>[] = [];
    for (const socket of [this.primary, this.rotating]) {
      if (socket?.heartbeat !== undefined) clearInterval(socket.heartbeat);
    }
    for (const ws of this.sockets) {
      if (ws.readyState === WebSocket.CLOSED) continue;
      closing.push(
        new Promise<void>((resolve) => {
          const timer = setTimeout(() => {
            ws.terminate();
            resolve();
          }, 1_000);
          timer.unref?.();
          ws.once('close', () => {
            clearTimeout(timer);
            resolve();
          });
          if (ws.readyState === WebSocket.OPEN) ws.close(1000, 'client closing');
          else ws.terminate();
        }),
      );
    }
    await Promise.all(closing);
    this.sockets.clear();
    for (const pipeline of this.pipelines.values()) pipeline.close();
    for (const consumer of [...this.consumers]) consumer.end();
    this.setState('closed');
    this.primary = undefined;
    this.rotating = undefined;
    this.onClosed(this);
  }
}

/** @internal exported for the manager's stats. */
export const breakerState = ExchangeRuntime.breakerState;
