import { EventEmitter } from 'node:events';
import WebSocket from 'ws';
import { channels } from './channels.js';
import { WsManagerError, WsManagerErrorCode } from './errors.js';
import { coarseNow } from './internal/coarse-clock.js';
import { newConnectionCounters } from './internal/connection-counters.js';
import { Connector } from './internal/connector.js';
import { ConsumerQueue } from './internal/consumer-queue.js';
import { ExchangeRuntime } from './internal/exchange-runtime.js';
import { stopHeartbeat, watchLiveness } from './internal/heartbeat.js';
import { LatencyReservoir } from './internal/latency-reservoir.js';
import type { LiveSocket } from './internal/live-socket.js';
import { loginOn } from './internal/login-handshake.js';
import { Rotation } from './internal/rotation.js';
import { SendQueue } from './internal/send-queue.js';
import { StreamPipeline } from './internal/stream-pipeline.js';
import { SubscriptionRegistry } from './internal/subscription-registry.js';
import type { ResolvedConnectionOptions } from './internal/validate.js';
import type {
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
 *
 * This class is the public face and the inbound path (frame decode, per-stream pipelines, delivery); it composes the
 * connect loop with failover (`Connector`), liveness (`watchLiveness`), rotation (`Rotation`), the subscription
 * registry with idle resubscribe (`SubscriptionRegistry`), the outbound queue (`SendQueue`) and the login handshake.
 */
export class ManagedConnection extends EventEmitter<ConnectionEvents> implements AsyncIterable<StreamMessage> {
  /** Connection id, unique within the manager (`<exchange>#<n>`). */
  readonly id: string;
  private currentState: ConnectionState = 'idle';
  private primary: LiveSocket | undefined;
  private closed = false;
  private closing: Promise<void> | undefined;
  private readonly abort = new AbortController();
  private readonly pipelines = new Map<string, StreamPipeline>();
  private readonly consumers = new Set<ConsumerQueue>();
  private readonly latency = new Map<string, LatencyReservoir>();
  private lastPipeline: StreamPipeline | undefined;
  private messageListeners: Array<(m: StreamMessage) => void> | undefined;
  private readonly counters = newConnectionCounters();
  private readonly sender: SendQueue;
  private readonly subscriptions: SubscriptionRegistry;
  private readonly connector: Connector;
  private readonly rotation: Rotation;

  /** @internal use `WebSocketManager.connect()`. */
  constructor(
    private readonly component: string,
    readonly exchange: string,
    index: number,
    runtime: ExchangeRuntime,
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
    const closedSignal = this.abort.signal;
    this.sender = new SendQueue(runtime.messageBucket, options.codec, closedSignal, this.counters);
    const send = (socket: LiveSocket, message: unknown) => this.sender.send(socket, message);
    this.subscriptions = new SubscriptionRegistry(options.idleTimeoutMs, send);
    this.connector = new Connector(exchange, runtime, options, this.counters, closedSignal, {
      setState: (to) => this.setState(to),
      adopt: (socket) => this.adopt(socket),
    });
    const connection = this;
    this.rotation = new Rotation(options, this.counters, closedSignal, {
      get primary() {
        return connection.primary;
      },
      set primary(socket) {
        connection.primary = socket;
      },
      openAny: () => this.connector.openAny(),
      wire: (socket) => this.wire(socket),
    });
    this.subscriptions.startIdleCheck(() => (this.closed ? undefined : this.primary), this.pipelines);
    // Deferred so listeners attached right after connect() see the first `state` event.
    queueMicrotask(() => this.connector.start());
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
    return this.subscriptions.streams();
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
    const subscription = this.subscriptions.add(stream, subscribeMessage, unsubscribeMessage);
    this.pipelineFor(stream, Date.now());
    try {
      // A socket still logging in gets every subscription (this one included) once its login is done.
      if (this.primary?.ready) await this.sender.send(this.primary, subscribeMessage, options.signal);
      const rotating = this.rotation.rotating;
      if (rotating?.ready) await this.sender.send(rotating, subscribeMessage, options.signal);
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
      for (const socket of [this.primary, this.rotation.rotating]) {
        if (socket !== undefined) await this.sender.send(socket, subscription.unsubscribe);
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
    await this.sender.send(socket, message, options.signal);
  }

  /** Starts a resync of one stream now (e.g. the consumer found its book inconsistent). Needs a `resync` option. */
  resync(stream: string): void {
    this.pipelines.get(stream)?.startResync();
  }

  private assertOpenForUse(): void {
    if (this.closed)
      throw new WsManagerError(WsManagerErrorCode.Closed, 'connection is closed', { exchange: this.exchange });
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
          // The connection id and endpoint make the payload self-describing for the manager's hooks and the
          // channels, which see every connection's events.
          gap: (info) => {
            const payload: GapInfo = {
              component: this.component,
              exchange: this.exchange,
              connection: this.id,
              endpoint: this.endpoint,
              ...info,
            };
            if (channels.gap.hasSubscribers) channels.gap.publish(payload);
            this.emit('gap', payload);
          },
          resync: (info) => {
            const payload: ResyncInfo = {
              component: this.component,
              exchange: this.exchange,
              connection: this.id,
              endpoint: this.endpoint,
              ...info,
            };
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
  private onFrame(socket: LiveSocket, data: Buffer, isBinary: boolean, receivedAtMono: number): void {
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
      void this.rotation.rotate();
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

  private reportMalformed(socket: LiveSocket, reason: 'decode' | 'oversize', bytes: number): void {
    const info: MalformedInfo = {
      component: this.component,
      exchange: this.exchange,
      connection: this.id,
      endpoint: socket.endpoint.url,
      reason,
      bytes,
    };
    if (channels.malformed.hasSubscribers) channels.malformed.publish(info);
    if (this.listenerCount('malformed') > 0) this.emit('malformed', info);
  }

  // ---------------------------------------------------------------- sockets

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

  /** Wires an open socket: frames, heartbeat, close handling, subscription restore. */
  private wire(socket: LiveSocket): void {
    const ws = socket.ws;
    // The arrival stamp is taken first, before any work on the frame (decode, extraction, ordering).
    ws.on('message', (data, isBinary) => this.onFrame(socket, data as Buffer, isBinary, performance.now()));
    watchLiveness(socket, this.options.heartbeat, this.counters);
    ws.on('error', noop); // a 'close' always follows; counted there
    ws.on('close', () => this.onSocketClose(socket));
    if (this.options.login === undefined) this.subscriptions.restore(socket);
    else void this.login(socket);
  }

  /**
   * Logs a new socket of a private stream in; the subscriptions are restored once the venue accepted it. A refusal, a
   * timeout or a throwing factory closes the socket, which then reconnects with backoff like any lost socket.
   */
  private async login(socket: LiveSocket): Promise<void> {
    const outcome = await loginOn(socket, this.options, (s, message) => this.sender.send(s, message));
    if (outcome === undefined || this.closed || socket.ws.readyState !== WebSocket.OPEN) return;
    const { ok, reason } = outcome;
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
      this.subscriptions.restore(socket);
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

  private adopt(socket: LiveSocket): void {
    this.counters.connects++;
    if (this.counters.connects > 1) {
      this.counters.reconnects++;
      const reset = this.options.resetSequenceOnReconnect;
      for (const pipeline of this.pipelines.values()) pipeline.markDiscontinuity(reset);
    }
    this.primary = socket;
    this.wire(socket);
    this.setState('open');
    this.connector.armStable(() => this.primary === socket);
    this.rotation.armLifetime();
  }

  private onSocketClose(socket: LiveSocket): void {
    stopHeartbeat(socket);
    this.connector.forget(socket.ws);
    if (socket === this.rotation.rotating) {
      this.rotation.rotating = undefined;
      return;
    }
    if (socket !== this.primary) return;
    this.primary = undefined;
    this.connector.disarmStable();
    if (this.closed) return;
    // A rotation in progress already has the replacement socket: promote it.
    if (this.rotation.promoteOnLoss()) return;
    this.connector.reconnectLater();
  }

  /**
   * Make-before-break rotation: opens a second socket, subscribes it, lets both run for `rotationOverlapMs`
   * (the pipeline deduplicates the overlap), then closes the old one. Called on `maxConnectionLifetimeMs`, on a
   * `shutdownNotice`, or by hand. Resolves when the rotation finished (false if it could not start or failed).
   */
  rotate(): Promise<boolean> {
    return this.rotation.rotate();
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
    this.rotation.stop();
    this.subscriptions.stop();
    stopHeartbeat(this.primary);
    stopHeartbeat(this.rotation.rotating);
    await this.connector.closeAll();
    for (const pipeline of this.pipelines.values()) pipeline.close();
    for (const consumer of [...this.consumers]) consumer.end();
    this.setState('closed');
    this.primary = undefined;
    this.rotation.rotating = undefined;
    this.onClosed(this);
  }
}

/** @internal exported for the manager's stats. */
export const breakerState = ExchangeRuntime.breakerState;
