import type { IncomingMessage, Server } from 'node:http';
import type { GapInfo, MalformedInfo, ResyncInfo, StateChange } from '@cryptoscalp/contracts';

export type { HealthCheckResult } from '@cryptoscalp/contracts';

/**
 * A decoded message as handed to the user's extractors (whatever the codec returned).
 * Typed loosely on purpose so extractors can read fields without casts.
 */
// biome-ignore lint/suspicious/noExplicitAny: extractors read fields of codec output without casts
export type DecodedMessage = any;

/** Turns frames into messages and messages into frames. */
export interface Codec {
  /**
   * Decodes one inbound frame. Throwing (or returning `undefined`) marks the frame malformed: it is counted and dropped.
   * @param data the frame payload
   * @param isBinary whether the frame was a binary frame
   */
  decode(data: Buffer, isBinary: boolean): unknown;
  /** Encodes an outbound message (subscribe/unsubscribe requests). Strings are sent as text frames. */
  encode(message: unknown): string | Buffer;
}

/**
 * Sequence information of one message. A plain number `n` means `{ first: n, last: n }`.
 * For an order-book delta feed (Binance `U`/`u`/`pu`) return `{ first: U, last: u, prev: pu }`.
 */
export interface SequenceRange {
  /** First update id covered by this message (Binance `U`). */
  first: number;
  /** Last update id covered by this message (Binance `u`). */
  last: number;
  /** The `last` of the previous message of the stream (Binance futures `pu`); when given it decides contiguity. */
  prev?: number;
}

/** What a `resync` callback resolves with: the snapshot's sequence and, optionally, a snapshot message to deliver. */
export interface ResyncResult {
  /** Sequence the snapshot reflects (Binance `lastUpdateId`). Buffered deltas with `last <= sequence` are dropped. */
  sequence: number;
  /** A message delivered to consumers with `kind: 'snapshot'` before the buffered deltas. */
  message?: unknown;
}

/** Backpressure policy of a consumer queue when it is full. */
export type QueuePolicy = 'drop-oldest' | 'conflate-latest' | 'error';

/** A delivered message. */
export interface StreamMessage<T = unknown> {
  /** The stream key (from the `stream` extractor). */
  stream: string;
  /** The decoded message (or the snapshot message for `kind: 'snapshot'`). */
  data: T;
  /** `delta` for messages from the socket, `snapshot` for a resync result. */
  kind: 'delta' | 'snapshot';
  /** The message's last sequence number, when the stream is sequenced. */
  sequence: number | undefined;
  /**
   * `Date.now()` when the frame arrived (epoch ms, 1 ms resolution; frames of one TCP read share one reading).
   * For a snapshot (`kind: 'snapshot'`), when the resync resolved. Kept for compatibility and wall-clock logging; use
   * {@link StreamMessage.receivedAtMono} to measure latencies.
   */
  receivedAt: number;
  /**
   * `performance.now()` read once per frame when `ws` emitted it (the socket's `message` event), before decoding: a
   * monotonic time in milliseconds with a sub-microsecond fraction, on the same clock as the consumer's
   * `performance.now()` (same process), so `performance.now() - msg.receivedAtMono` is the time from arrival to now
   * (decode, ordering, buffering, queueing). A message held in the reorder window or buffered during a resync keeps
   * the stamp of its own frame, not the time it was released. For a snapshot (`kind: 'snapshot'`), when the resync
   * resolved. Frames that arrive in one TCP read are emitted one after the other, so a later frame of a burst also
   * carries the decode time of the frames before it.
   */
  receivedAtMono: number;
}

export type { ConnectionState, GapInfo, MalformedInfo, ResyncInfo, StateChange } from '@cryptoscalp/contracts';

/** Rate limits shared by all connections of one exchange. */
export interface ExchangeLimits {
  /** New connections per second (token refill rate). @default 2 */
  connectsPerSecond?: number;
  /** Connection bucket capacity. @default 5 */
  connectBurst?: number;
  /** Subscribe/unsubscribe messages per second (token refill rate). @default 5 */
  messagesPerSecond?: number;
  /** Message bucket capacity. @default 10 */
  messageBurst?: number;
}

/** One exchange: its endpoints (tried in order, with failover) and its limits. */
export interface ExchangeOptions {
  /** WebSocket URLs, `ws://` or `wss://`; the first is preferred, the others are failover targets. */
  endpoints: string[];
  /** Shared connect / subscribe budget. */
  limits?: ExchangeLimits;
  /** The circuit breaker of each endpoint (shared by every connection to it). */
  breaker?: BreakerOptions;
  /** Default connection options for this exchange; `connect()` options override them. */
  connection?: ConnectionOptions;
}

/** Options of {@link WebSocketManager}. */
export interface WebSocketManagerOptions {
  /** Health indicator and diagnostics `component` name. @default 'ws-manager' */
  name?: string;
  /** Exchanges by name. */
  exchanges: Record<string, ExchangeOptions>;
}

/** Transport heartbeat (WebSocket ping/pong). */
export interface HeartbeatOptions {
  /** Interval between pings. @default 15000 */
  intervalMs?: number;
  /** A pong (or any frame) must arrive within this time after a ping, or the socket is replaced. @default 10000 */
  timeoutMs?: number;
}

/** Reconnect backoff: exponential with full jitter, capped, reset after a stable period. */
export interface BackoffOptions {
  /** Base delay of the first retry. @default 100 */
  initialDelayMs?: number;
  /** Cap of the delay. @default 10000 */
  maxDelayMs?: number;
  /** Growth factor per failed attempt. @default 2 */
  multiplier?: number;
  /** A connection open at least this long resets the attempt counter. @default 3000 */
  stableAfterMs?: number;
}

/** Circuit breaker per endpoint (opossum). */
export interface BreakerOptions {
  /** Failure percentage that opens the breaker. @default 50 */
  errorThresholdPercentage?: number;
  /** Minimum attempts in the rolling window before the breaker may open. @default 5 */
  volumeThreshold?: number;
  /** Time the breaker stays open before a trial connect. @default 2000 */
  resetTimeoutMs?: number;
  /** Rolling statistics window. @default 10000 */
  rollingCountTimeoutMs?: number;
}

/** A consumer queue for async iteration. */
export interface QueueOptions {
  /** Maximum queued messages per consumer. @default 10000 */
  maxSize?: number;
  /** What happens when the queue is full. @default 'drop-oldest' */
  policy?: QueuePolicy;
}

/** Which connect a private stream's factories ({@link ConnectionOptions.url}, `headers`, `login`) are called for. */
export interface ConnectAttempt {
  /** The configured endpoint URL being tried (failover moves to the next one). */
  endpoint: string;
  /** `false` for the first socket of the connection, `true` for every reconnect, failover and rotation after it. */
  reconnect: boolean;
}

/** Handshake headers, or a function that makes them for each connect (a fresh token or signature). */
export type HeadersFactory =
  | Readonly<Record<string, string>>
  | ((attempt: ConnectAttempt) => Readonly<Record<string, string>> | Promise<Readonly<Record<string, string>>>);

/** The outcome of a private stream's login on one socket (the connection's `login` event). */
export interface LoginInfo {
  /** Manager name. */
  component: string;
  exchange: string;
  /** Connection id (`<exchange>#<n>`). */
  connection: string;
  endpoint: string;
  /** Whether this socket is a reconnect (see {@link ConnectAttempt.reconnect}). */
  reconnect: boolean;
  /** `true`: the login was sent (and acknowledged, with `loginAck`); the subscriptions are being restored. */
  ok: boolean;
  /** Why it failed: `refused` (the ack said no), `timeout` (no ack in `loginTimeoutMs`), `error` (the factory threw). */
  reason?: 'refused' | 'timeout' | 'error';
}

/** Options of one managed connection (`manager.connect(exchange, options)`). */
export interface ConnectionOptions {
  /**
   * Private streams: makes the URL of every connect and reconnect from the configured endpoint (a fresh listen key,
   * a signed query). Called once per attempt, before the handshake; a throw or rejection counts as a failed connect
   * (backoff, breaker). @default the endpoint as configured
   */
  url?: (attempt: ConnectAttempt) => string | Promise<string>;
  /** Private streams: HTTP headers of the handshake (an API key), fixed or made per connect. @default none */
  headers?: HeadersFactory;
  /**
   * Private streams: the login / authentication message, made anew for every socket (fresh timestamp and signature)
   * and sent on it first, before any subscription is restored. With `loginAck`, the subscriptions wait for the
   * venue's answer. A throw closes that socket (it reconnects with backoff). @default none
   */
  login?: (attempt: ConnectAttempt) => unknown | Promise<unknown>;
  /**
   * Recognises the answer to `login` among the decoded messages: `true` accepted, `false` refused (the socket is closed
   * and reconnects with backoff), `undefined` not the answer. The answer is also emitted as `control` when the `stream`
   * extractor says so. @default none: the login counts as done once it is sent
   */
  loginAck?: (message: DecodedMessage) => boolean | undefined;
  /** How long `loginAck` waits for the answer before the socket is closed (it reconnects). @default 10000 */
  loginTimeoutMs?: number;
  /** Frame codec. @default jsonCodec */
  codec?: Codec;
  /** Frames larger than this are dropped and counted as oversized. @default 1048576 */
  maxFrameBytes?: number;
  /** Hard limit passed to `ws` as `maxPayload`; a larger frame closes the socket (1009) and it reconnects. @default 67108864 */
  maxPayloadBytes?: number;
  /** Transport ping/pong; `false` disables it. @default { intervalMs: 15000, timeoutMs: 10000 } */
  heartbeat?: HeartbeatOptions | false;
  /** Reconnect backoff. */
  backoff?: BackoffOptions;
  /** Time allowed for the TCP + WebSocket handshake. @default 10000 */
  connectTimeoutMs?: number;
  /**
   * Extracts the stream key of a message; `undefined` marks a control message (subscription acks), emitted as `control`.
   * @default `msg.stream` when it is a string, else `'*'`
   */
  stream?: (message: DecodedMessage) => string | undefined;
  /** Extracts the sequence of a message; `undefined` means unsequenced (no ordering, no gap detection). @default none */
  sequence?: (message: DecodedMessage) => number | SequenceRange | undefined;
  /**
   * The venue numbers messages per connection (sequences restart after a reconnect): every stream then starts over
   * after a reconnect, with a resync when `resync` is given. Without it a restarted numbering would look like duplicates.
   * @default false
   */
  resetSequenceOnReconnect?: boolean;
  /** Extracts a dedup id for unsequenced streams (bounded memory of recent ids). @default none */
  id?: (message: DecodedMessage) => string | number | undefined;
  /** Extracts the exchange timestamp (epoch ms) for the latency statistics. @default none */
  timestamp?: (message: DecodedMessage) => number | undefined;
  /**
   * Fetches a snapshot after a gap. Called once per stream at a time; deltas are buffered meanwhile.
   * Without it a gap is reported and delivery continues from the next available message.
   */
  resync?: (stream: string) => Promise<ResyncResult>;
  /** Recognises a venue's shutdown notice; a `true` starts a make-before-break rotation. @default none */
  shutdownNotice?: (message: DecodedMessage) => boolean;
  /** Rotate the socket (make-before-break) after this lifetime; `0` disables. @default 0 */
  maxConnectionLifetimeMs?: number;
  /** How long old and new sockets overlap during a rotation. @default 2000 */
  rotationOverlapMs?: number;
  /** A stream without data for this long is resubscribed alone; `0` disables. @default 0 */
  idleTimeoutMs?: number;
  /** Out-of-order messages held while waiting for a missing sequence. @default 256 */
  reorderWindow?: number;
  /** How long a missing sequence is waited for before it is a gap. @default 250 */
  reorderTimeoutMs?: number;
  /** Deltas buffered per stream during a resync; beyond it the oldest are dropped and the resync repeats. @default 10000 */
  maxBufferedDeltas?: number;
  /** Recent ids remembered per stream for `id`-based dedup. @default 4096 */
  dedupWindow?: number;
  /** Resync attempts before giving up until the next gap. @default 3 */
  maxResyncAttempts?: number;
  /** Default queue of async-iteration consumers. */
  queue?: QueueOptions;
}

/** The shape of a hub broker: lets several hub instances share topics. */
export interface HubBroker {
  /** Sends a payload to the other hubs. */
  publish(topic: string, payload: string): Promise<void> | void;
  /** Registers the single handler that receives payloads published by any hub (including this one). */
  subscribe(handler: (topic: string, payload: string) => void): Promise<void> | void;
  /** Releases the broker's resources that it owns. */
  close(): Promise<void>;
}

/**
 * A refusal returned by `authenticate` with a specific HTTP status, e.g.
 * `{ ok: false, status: 429, headers: { 'Retry-After': 30 }, reason: 'too many connections' }`.
 */
export interface AuthRejection {
  /** Marks the object as a refusal (an object without `ok: false` is a principal). */
  ok: false;
  /**
   * HTTP status of the upgrade response: an integer 400-599, typically 401 (unauthenticated), 403 (forbidden),
   * 429 (too many; add `Retry-After`) or 503 (unavailable). Anything else is replaced by 401. @default 401
   */
  status?: number;
  /**
   * Extra response headers (e.g. `{ 'Retry-After': 30 }`). A header whose name is not an HTTP token, whose value holds
   * control characters (CR, LF, NUL...), or that the hub sets itself (`Connection`, `Content-Length`, `Content-Type`,
   * `Transfer-Encoding`) is left out. @default none
   */
  headers?: Readonly<Record<string, string | number>>;
  /**
   * Short text for the response body (`text/plain`) and the `reason` of the `auth-rejected` hub event. It is sent to
   * the client: never put secrets in it. @default the status text (e.g. 'Forbidden')
   */
  reason?: string;
}

/**
 * What `authenticate` may resolve with: `true` or an object accepts (the object is kept as the principal); `false`,
 * `null` or `undefined` refuse with 401; an {@link AuthRejection} (`{ ok: false, status, headers?, reason? }`) refuses
 * with its status.
 */
export type AuthResult = boolean | Record<string, unknown> | AuthRejection | null | undefined;

/** Options of {@link StreamHub}. */
export interface StreamHubOptions {
  /** Health indicator and diagnostics `component` name. @default 'stream-hub' */
  name?: string;
  /** Attach to an existing HTTP server (upgrade requests on `path`). Exclusive with `port`. */
  server?: Server;
  /** Listen on this port (0 picks a free one). Exclusive with `server`. */
  port?: number;
  /** Host to bind when `port` is given. @default '127.0.0.1' */
  host?: string;
  /** Only upgrade requests on this path are accepted. @default undefined (any path) */
  path?: string;
  /**
   * Called at upgrade; resolve with `true` or a principal object to accept, `false` (or throw) to refuse with HTTP 401,
   * or `{ ok: false, status, headers?, reason? }` ({@link AuthRejection}) to refuse with that status (403, 429 with
   * `Retry-After`, 503...). @default accept everyone
   */
  authenticate?: (request: IncomingMessage) => AuthResult | Promise<AuthResult>;
  /**
   * Called for every subscribe request with the principal `authenticate` returned; `false` (or a throw) rejects the
   * subscription with an `error` (`code: 'forbidden'`). @default allow every topic
   */
  authorize?: (principal: Record<string, unknown> | undefined, topic: string) => boolean;
  /**
   * Per-client bound on bytes queued in the socket before the slow-consumer policy applies. A frame larger than the
   * bound is still written when the client's queue is empty (stat `oversizedFrames`), and the bound is raised by its
   * size until it drains, so a client's queue stays under this bound plus its largest frame. @default 1048576
   */
  maxBufferedBytes?: number;
  /** `conflate` keeps the latest message per topic until the socket drains; `disconnect` closes the client. @default 'conflate' */
  slowConsumer?: 'conflate' | 'disconnect';
  /** Close code for `slowConsumer: 'disconnect'`. @default 4008 */
  slowConsumerCloseCode?: number;
  /** Ping interval; a client that has not answered the previous ping is terminated. `0` disables. @default 30000 */
  heartbeatIntervalMs?: number;
  /** Largest inbound client message; larger closes the client with 1009. @default 16384 */
  maxMessageBytes?: number;
  /** Inbound client messages per second (refill rate). @default 20 */
  inboundRatePerSecond?: number;
  /** Inbound burst capacity. @default 50 */
  inboundBurst?: number;
  /** Topics one client may subscribe to. @default 1000 */
  maxTopicsPerClient?: number;
  /**
   * Topics kept by the hub (with their history). Creating one more evicts the oldest topic without subscribers (its
   * history is lost; a client resuming it gets `resnapshot`). @default 10000
   */
  maxTopics?: number;
  /** Per-topic history for resume; `false` disables it. @default { maxMessages: 1000 } */
  history?: { maxMessages?: number } | false;
  /**
   * The epoch of every topic, instead of a random one per topic and hub instance: set it to the epoch of the durable log
   * whose record offsets you pass to `publish(topic, message, { offset })`, so that every hub fed from that log (several
   * gateways, or one gateway after a restart) numbers messages alike and a client can resume on any of them. A client
   * that resumes ahead of a topic (this hub has not caught up with the log yet), or on a topic without any message here
   * yet, is then held until the topic passes its offset instead of being told to resnapshot (it gets `resnapshot` then
   * if this hub cannot tell what it missed). Only meaningful with log offsets: locally counted offsets restart
   * at 1 in every hub process, so under a fixed epoch they would resume clients at the wrong place. 1-256 characters.
   * @default a random epoch per topic
   */
  epoch?: string;
  /** Shares topics between hub instances. @default none */
  broker?: HubBroker;
  /** How often conflated clients are checked for drained sockets. @default 10 */
  flushIntervalMs?: number;
}

/** Options of one `StreamHub.publish()` call. */
export interface PublishOptions {
  /**
   * The message's offset in the topic: the offset of its record in the durable log the hub is fed from (an integer
   * >= 1; a log numbered from 0 publishes `offset + 1`). It must be greater than the topic's current offset; a message
   * whose offset is not (a replay after a restart, or the same record from another hub through the broker) is dropped,
   * counted in the `duplicatesDropped` stat, and `publish` returns the topic's current offset. Offsets may skip (a
   * topic gets only some of the log's records). Without it the hub counts: the topic's current offset + 1 (mixing both
   * on one topic is allowed but the counted ones then take log positions: avoid it). @default the topic's offset + 1
   */
  offset?: number;
}

/** Events of a `ManagedConnection`. */
export interface ConnectionEvents {
  /** A message reached the consumer side (in order, deduplicated). */
  message: [message: StreamMessage];
  /** A message without a stream key (subscription acks, venue notices). */
  control: [message: DecodedMessage];
  /**
   * The logical connection changed state.
   * @deprecated Use the manager's hook, `manager.onStateChange(listener)` (or `onOpen`, `onClose`): it covers every
   * connection, later ones too; `change.connection` is this connection's `id`. The event keeps working.
   */
  state: [change: StateChange];
  /**
   * A sequence gap was detected.
   * @deprecated Use the manager's hook, `manager.onGap(listener)`: it covers every connection, later ones too;
   * `info.connection` is this connection's `id`. The event keeps working.
   */
  gap: [info: GapInfo];
  /**
   * A resync started, finished or failed.
   * @deprecated Use the manager's hook, `manager.onResync(listener)`; `info.connection` is this connection's `id`.
   * The event keeps working.
   */
  resync: [info: ResyncInfo];
  /**
   * A frame was dropped as malformed or oversized.
   * @deprecated Use the manager's hook, `manager.onMalformed(listener)`; `info.connection` is this connection's `id`.
   * The event keeps working.
   */
  malformed: [info: MalformedInfo];
  /** A `message` listener threw (only emitted when an `error` listener exists; always counted). */
  error: [error: unknown];
  /**
   * A private stream's login on a new socket succeeded or failed (only with the `login` option).
   * @deprecated Use the manager's hook, `manager.onLogin(listener)`; `info.connection` is this connection's `id`.
   */
  login: [info: LoginInfo];
}

/**
 * The subset of an ioredis client the broker uses (structural, so this package does not import ioredis).
 * An `ioredis` `Redis` instance satisfies it.
 */
export interface RedisPubSubClient {
  publish(channel: string, message: string): Promise<unknown>;
  psubscribe(...patterns: string[]): Promise<unknown>;
  punsubscribe(...patterns: string[]): Promise<unknown>;
  on(event: 'pmessage', listener: (pattern: string, channel: string, message: string) => void): unknown;
  off(event: 'pmessage', listener: (pattern: string, channel: string, message: string) => void): unknown;
  duplicate(): RedisPubSubClient;
  quit(): Promise<unknown>;
}

/** Options of `RedisBroker`. */
export interface RedisBrokerOptions {
  /** An ioredis client used to publish. It is never closed by the broker. */
  client: RedisPubSubClient;
  /**
   * A dedicated ioredis client for subscribing (a subscribed connection cannot run other commands).
   * @default `client.duplicate()`, owned and closed by the broker
   */
  subscriber?: RedisPubSubClient;
  /** Prefix of the Redis channels (`<prefix><topic>`). Hubs that share topics must use the same prefix. @default 'cryptoscalp:hub:' */
  channelPrefix?: string;
}
