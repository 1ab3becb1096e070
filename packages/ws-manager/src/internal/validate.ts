import { DEFAULT_CONNECTION_OPTIONS, DEFAULT_EXCHANGE_LIMITS, DEFAULT_HUB_OPTIONS } from '../defaults.js';
import { invalidOption } from '../errors.js';
import type {
  Codec,
  ConnectAttempt,
  ConnectionOptions,
  DecodedMessage,
  ExchangeLimits,
  HubBroker,
  QueuePolicy,
  ResyncResult,
  SequenceRange,
  StreamHubOptions,
  WebSocketManagerOptions,
} from '../types.js';
import { checkKnownKeys } from './known-keys.js';

/** Connection options with every default applied. */
export interface ResolvedConnectionOptions {
  url: ((attempt: ConnectAttempt) => string | Promise<string>) | undefined;
  headers: ConnectionOptions['headers'];
  login: ((attempt: ConnectAttempt) => unknown) | undefined;
  loginAck: ((message: DecodedMessage) => boolean | undefined) | undefined;
  loginTimeoutMs: number;
  codec: Codec;
  maxFrameBytes: number;
  maxPayloadBytes: number;
  heartbeat: { intervalMs: number; timeoutMs: number } | false;
  backoff: { initialDelayMs: number; maxDelayMs: number; multiplier: number; stableAfterMs: number };
  connectTimeoutMs: number;
  stream: (message: DecodedMessage) => string | undefined;
  sequence: ((message: DecodedMessage) => number | SequenceRange | undefined) | undefined;
  resetSequenceOnReconnect: boolean;
  id: ((message: DecodedMessage) => string | number | undefined) | undefined;
  timestamp: ((message: DecodedMessage) => number | undefined) | undefined;
  resync: ((stream: string) => Promise<ResyncResult>) | undefined;
  shutdownNotice: ((message: DecodedMessage) => boolean) | undefined;
  maxConnectionLifetimeMs: number;
  rotationOverlapMs: number;
  idleTimeoutMs: number;
  reorderWindow: number;
  reorderTimeoutMs: number;
  maxBufferedDeltas: number;
  dedupWindow: number;
  maxResyncAttempts: number;
  queue: { maxSize: number; policy: QueuePolicy };
}

/** Limits with defaults applied. */
export type ResolvedLimits = Required<ExchangeLimits>;

const CONNECTION_KEYS: readonly (keyof ConnectionOptions)[] = [
  'url',
  'headers',
  'login',
  'loginAck',
  'loginTimeoutMs',
  'codec',
  'maxFrameBytes',
  'maxPayloadBytes',
  'heartbeat',
  'backoff',
  'connectTimeoutMs',
  'stream',
  'sequence',
  'resetSequenceOnReconnect',
  'id',
  'timestamp',
  'resync',
  'shutdownNotice',
  'maxConnectionLifetimeMs',
  'rotationOverlapMs',
  'idleTimeoutMs',
  'reorderWindow',
  'reorderTimeoutMs',
  'maxBufferedDeltas',
  'dedupWindow',
  'maxResyncAttempts',
  'queue',
];

const HUB_KEYS: readonly (keyof StreamHubOptions)[] = [
  'name',
  'server',
  'port',
  'host',
  'path',
  'authenticate',
  'authorize',
  'maxBufferedBytes',
  'slowConsumer',
  'slowConsumerCloseCode',
  'heartbeatIntervalMs',
  'maxMessageBytes',
  'inboundRatePerSecond',
  'inboundBurst',
  'maxTopicsPerClient',
  'maxTopics',
  'history',
  'epoch',
  'broker',
  'flushIntervalMs',
];

const POLICIES: readonly QueuePolicy[] = ['drop-oldest', 'conflate-latest', 'error'];

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A finite number >= min (integer when asked), or the default when undefined. */
export function num(field: string, value: unknown, fallback: number, min = 0, integer = false): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || (integer && !Number.isInteger(value))) {
    throw invalidOption(
      field,
      `expected ${integer ? 'an integer' : 'a finite number'} >= ${min}, got ${String(value)}`,
    );
  }
  return value;
}

function bool(field: string, value: unknown, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') throw invalidOption(field, 'expected a boolean');
  return value;
}

function fn<T>(field: string, value: unknown): T | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'function') throw invalidOption(field, 'expected a function');
  return value as T;
}

function obj(field: string, value: unknown): Record<string, unknown> {
  if (value === undefined) return {};
  if (!isObject(value)) throw invalidOption(field, 'expected an object');
  return value;
}

const defaultStream = (message: DecodedMessage): string =>
  message !== null && typeof message === 'object' && typeof message.stream === 'string' ? message.stream : '*';

/** Validates connection options (`prefix` names the field path) and applies defaults over `base`. */
export function resolveConnectionOptions(
  prefix: string,
  input: ConnectionOptions | undefined,
  base: ConnectionOptions = {},
): ResolvedConnectionOptions {
  const raw = { ...obj(prefix, base), ...obj(prefix, input) } as ConnectionOptions;
  const d = DEFAULT_CONNECTION_OPTIONS;
  const f = (name: string) => `${prefix}.${name}`;
  checkKnownKeys(raw, CONNECTION_KEYS, `${prefix}.`);
  let codec = d.codec as Codec;
  if (raw.codec !== undefined) {
    if (!isObject(raw.codec) || typeof raw.codec.decode !== 'function' || typeof raw.codec.encode !== 'function') {
      throw invalidOption(f('codec'), 'expected { decode(data, isBinary), encode(message) }');
    }
    codec = raw.codec;
  }
  let heartbeat: ResolvedConnectionOptions['heartbeat'] = false;
  if (raw.heartbeat !== false) {
    const h = obj(f('heartbeat'), raw.heartbeat);
    checkKnownKeys(h, ['intervalMs', 'timeoutMs'], f('heartbeat.'));
    heartbeat = {
      intervalMs: num(f('heartbeat.intervalMs'), h.intervalMs, d.heartbeat.intervalMs, 1),
      timeoutMs: num(f('heartbeat.timeoutMs'), h.timeoutMs, d.heartbeat.timeoutMs, 1),
    };
  }
  const b = obj(f('backoff'), raw.backoff);
  checkKnownKeys(b, ['initialDelayMs', 'maxDelayMs', 'multiplier', 'stableAfterMs'], f('backoff.'));
  const backoff = {
    initialDelayMs: num(f('backoff.initialDelayMs'), b.initialDelayMs, d.backoff.initialDelayMs, 0),
    maxDelayMs: num(f('backoff.maxDelayMs'), b.maxDelayMs, d.backoff.maxDelayMs, 0),
    multiplier: num(f('backoff.multiplier'), b.multiplier, d.backoff.multiplier, 1),
    stableAfterMs: num(f('backoff.stableAfterMs'), b.stableAfterMs, d.backoff.stableAfterMs, 0),
  };
  if (backoff.maxDelayMs < backoff.initialDelayMs)
    throw invalidOption(f('backoff.maxDelayMs'), 'must be >= initialDelayMs');
  const q = obj(f('queue'), raw.queue);
  checkKnownKeys(q, ['maxSize', 'policy'], f('queue.'));
  const policy = q.policy === undefined ? d.queue.policy : (q.policy as QueuePolicy);
  if (!POLICIES.includes(policy)) throw invalidOption(f('queue.policy'), `expected one of ${POLICIES.join(', ')}`);
  const maxFrameBytes = num(f('maxFrameBytes'), raw.maxFrameBytes, d.maxFrameBytes, 1, true);
  const maxPayloadBytes = num(
    f('maxPayloadBytes'),
    raw.maxPayloadBytes,
    Math.max(d.maxPayloadBytes, maxFrameBytes),
    1,
    true,
  );
  if (maxPayloadBytes < maxFrameBytes) throw invalidOption(f('maxPayloadBytes'), 'must be >= maxFrameBytes');
  let headers: ConnectionOptions['headers'];
  if (raw.headers !== undefined) {
    if (typeof raw.headers === 'function') headers = raw.headers;
    else if (isObject(raw.headers) && Object.values(raw.headers).every((v) => typeof v === 'string'))
      headers = { ...raw.headers };
    else throw invalidOption(f('headers'), 'expected an object of string values or a function');
  }
  const loginAck = fn<ResolvedConnectionOptions['loginAck']>(f('loginAck'), raw.loginAck);
  const login = fn<ResolvedConnectionOptions['login']>(f('login'), raw.login);
  if (loginAck !== undefined && login === undefined) throw invalidOption(f('loginAck'), 'needs a login option');
  return {
    url: fn(f('url'), raw.url),
    headers,
    login,
    loginAck,
    loginTimeoutMs: num(f('loginTimeoutMs'), raw.loginTimeoutMs, d.loginTimeoutMs, 1),
    codec,
    maxFrameBytes,
    maxPayloadBytes,
    heartbeat,
    backoff,
    connectTimeoutMs: num(f('connectTimeoutMs'), raw.connectTimeoutMs, d.connectTimeoutMs, 1),
    stream: fn(f('stream'), raw.stream) ?? defaultStream,
    sequence: fn(f('sequence'), raw.sequence),
    resetSequenceOnReconnect: bool(
      f('resetSequenceOnReconnect'),
      raw.resetSequenceOnReconnect,
      d.resetSequenceOnReconnect,
    ),
    id: fn(f('id'), raw.id),
    timestamp: fn(f('timestamp'), raw.timestamp),
    resync: fn(f('resync'), raw.resync),
    shutdownNotice: fn(f('shutdownNotice'), raw.shutdownNotice),
    maxConnectionLifetimeMs: num(
      f('maxConnectionLifetimeMs'),
      raw.maxConnectionLifetimeMs,
      d.maxConnectionLifetimeMs,
      0,
    ),
    rotationOverlapMs: num(f('rotationOverlapMs'), raw.rotationOverlapMs, d.rotationOverlapMs, 0),
    idleTimeoutMs: num(f('idleTimeoutMs'), raw.idleTimeoutMs, d.idleTimeoutMs, 0),
    reorderWindow: num(f('reorderWindow'), raw.reorderWindow, d.reorderWindow, 0, true),
    reorderTimeoutMs: num(f('reorderTimeoutMs'), raw.reorderTimeoutMs, d.reorderTimeoutMs, 0),
    maxBufferedDeltas: num(f('maxBufferedDeltas'), raw.maxBufferedDeltas, d.maxBufferedDeltas, 1, true),
    dedupWindow: num(f('dedupWindow'), raw.dedupWindow, d.dedupWindow, 1, true),
    maxResyncAttempts: num(f('maxResyncAttempts'), raw.maxResyncAttempts, d.maxResyncAttempts, 1, true),
    queue: { maxSize: num(f('queue.maxSize'), q.maxSize, d.queue.maxSize, 1, true), policy },
  };
}

/** Breaker options with defaults applied. */
export interface ResolvedBreakerOptions {
  errorThresholdPercentage: number;
  volumeThreshold: number;
  resetTimeoutMs: number;
  rollingCountTimeoutMs: number;
}

/** Validates breaker options. */
export function resolveBreakerOptions(prefix: string, input: unknown): ResolvedBreakerOptions {
  const d = DEFAULT_CONNECTION_OPTIONS;
  const f = (name: string) => `${prefix}.${name}`;
  const br = obj(prefix, input);
  checkKnownKeys(br, ['errorThresholdPercentage', 'volumeThreshold', 'resetTimeoutMs', 'rollingCountTimeoutMs'], f(''));
  const breaker = {
    errorThresholdPercentage: num(
      f('errorThresholdPercentage'),
      br.errorThresholdPercentage,
      d.breaker.errorThresholdPercentage,
      1,
    ),
    volumeThreshold: num(f('volumeThreshold'), br.volumeThreshold, d.breaker.volumeThreshold, 0, true),
    resetTimeoutMs: num(f('resetTimeoutMs'), br.resetTimeoutMs, d.breaker.resetTimeoutMs, 1),
    rollingCountTimeoutMs: num(
      f('rollingCountTimeoutMs'),
      br.rollingCountTimeoutMs,
      d.breaker.rollingCountTimeoutMs,
      10,
    ),
  };
  if (breaker.errorThresholdPercentage > 100) throw invalidOption(f('errorThresholdPercentage'), 'must be <= 100');
  return breaker;
}

/** Validated manager options. */
export interface ResolvedManagerOptions {
  name: string;
  exchanges: Map<
    string,
    { endpoints: string[]; limits: ResolvedLimits; breaker: ResolvedBreakerOptions; connection: ConnectionOptions }
  >;
}

/** Validates the manager options; throws `E_WS_INVALID_OPTION` naming the field. */
export function resolveManagerOptions(input: WebSocketManagerOptions, defaultName: string): ResolvedManagerOptions {
  if (!isObject(input)) throw invalidOption('options', 'expected an object');
  checkKnownKeys(input, ['name', 'exchanges']);
  const name = input.name ?? defaultName;
  if (typeof name !== 'string' || name.length === 0) throw invalidOption('name', 'expected a non-empty string');
  if (!isObject(input.exchanges) || Object.keys(input.exchanges).length === 0) {
    throw invalidOption('exchanges', 'expected an object with at least one exchange');
  }
  const exchanges: ResolvedManagerOptions['exchanges'] = new Map();
  for (const [exchange, value] of Object.entries(input.exchanges)) {
    const prefix = `exchanges.${exchange}`;
    if (!isObject(value)) throw invalidOption(prefix, 'expected an object');
    checkKnownKeys(value, ['endpoints', 'limits', 'breaker', 'connection'], `${prefix}.`);
    const endpoints = value.endpoints;
    if (!Array.isArray(endpoints) || endpoints.length === 0) {
      throw invalidOption(`${prefix}.endpoints`, 'expected a non-empty array of ws:// or wss:// URLs');
    }
    endpoints.forEach((url, i) => {
      let parsed: URL | undefined;
      try {
        parsed = typeof url === 'string' ? new URL(url) : undefined;
      } catch {
        parsed = undefined;
      }
      if (parsed === undefined || (parsed.protocol !== 'ws:' && parsed.protocol !== 'wss:')) {
        throw invalidOption(`${prefix}.endpoints[${i}]`, `expected a ws:// or wss:// URL, got ${String(url)}`);
      }
    });
    const l = obj(`${prefix}.limits`, value.limits);
    checkKnownKeys(l, ['connectsPerSecond', 'connectBurst', 'messagesPerSecond', 'messageBurst'], `${prefix}.limits.`);
    const dl = DEFAULT_EXCHANGE_LIMITS;
    const limits: ResolvedLimits = {
      connectsPerSecond: num(`${prefix}.limits.connectsPerSecond`, l.connectsPerSecond, dl.connectsPerSecond, 0.001),
      connectBurst: num(`${prefix}.limits.connectBurst`, l.connectBurst, dl.connectBurst, 1, true),
      messagesPerSecond: num(`${prefix}.limits.messagesPerSecond`, l.messagesPerSecond, dl.messagesPerSecond, 0.001),
      messageBurst: num(`${prefix}.limits.messageBurst`, l.messageBurst, dl.messageBurst, 1, true),
    };
    const connection = (value.connection ?? {}) as ConnectionOptions;
    // Validate the exchange-level defaults now so a bad field fails at construction.
    resolveConnectionOptions(`${prefix}.connection`, connection);
    const breaker = resolveBreakerOptions(`${prefix}.breaker`, value.breaker);
    exchanges.set(exchange, { endpoints: [...endpoints], limits, breaker, connection });
  }
  return { name, exchanges };
}

/** Validated hub options. */
export interface ResolvedHubOptions {
  name: string;
  server: StreamHubOptions['server'];
  port: number | undefined;
  host: string;
  path: string | undefined;
  authenticate: StreamHubOptions['authenticate'];
  authorize: StreamHubOptions['authorize'];
  maxBufferedBytes: number;
  slowConsumer: 'conflate' | 'disconnect';
  slowConsumerCloseCode: number;
  heartbeatIntervalMs: number;
  maxMessageBytes: number;
  inboundRatePerSecond: number;
  inboundBurst: number;
  maxTopicsPerClient: number;
  maxTopics: number;
  historyMaxMessages: number;
  epoch: string | undefined;
  broker: HubBroker | undefined;
  flushIntervalMs: number;
}

/** Validates the hub options; throws `E_WS_INVALID_OPTION` naming the field. */
export function resolveHubOptions(input: StreamHubOptions): ResolvedHubOptions {
  if (!isObject(input)) throw invalidOption('options', 'expected an object');
  checkKnownKeys(input, HUB_KEYS);
  const d = DEFAULT_HUB_OPTIONS;
  if (input.server !== undefined && input.port !== undefined)
    throw invalidOption('port', 'give either server or port, not both');
  if (input.server === undefined && input.port === undefined)
    throw invalidOption('server', 'give either server or port');
  const server = input.server as unknown;
  if (server !== undefined && (!isObject(server) || typeof server.on !== 'function')) {
    throw invalidOption('server', 'expected an http.Server');
  }
  const name = input.name ?? d.name;
  if (typeof name !== 'string' || name.length === 0) throw invalidOption('name', 'expected a non-empty string');
  const slowConsumer = input.slowConsumer ?? d.slowConsumer;
  if (slowConsumer !== 'conflate' && slowConsumer !== 'disconnect') {
    throw invalidOption('slowConsumer', "expected 'conflate' or 'disconnect'");
  }
  const code = num('slowConsumerCloseCode', input.slowConsumerCloseCode, d.slowConsumerCloseCode, 1000, true);
  if (code > 4999 || (code < 3000 && code !== 1008 && code !== 1013)) {
    throw invalidOption('slowConsumerCloseCode', 'expected 1008, 1013 or 3000-4999');
  }
  let historyMaxMessages: number = d.historyMaxMessages;
  if (input.history === false) historyMaxMessages = 0;
  else {
    const history = obj('history', input.history);
    checkKnownKeys(history, ['maxMessages'], 'history.');
    historyMaxMessages = num('history.maxMessages', history.maxMessages, d.historyMaxMessages, 1, true);
  }
  const epoch = input.epoch as unknown;
  if (epoch !== undefined && (typeof epoch !== 'string' || epoch.length === 0 || epoch.length > 256)) {
    throw invalidOption('epoch', 'expected a string of 1-256 characters');
  }
  const broker = input.broker as unknown;
  if (
    broker !== undefined &&
    (!isObject(broker) ||
      typeof broker.publish !== 'function' ||
      typeof broker.subscribe !== 'function' ||
      typeof broker.close !== 'function')
  ) {
    throw invalidOption('broker', 'expected { publish(topic, payload), subscribe(handler), close() }');
  }
  const host = input.host ?? d.host;
  if (typeof host !== 'string' || host.length === 0) throw invalidOption('host', 'expected a non-empty string');
  if (input.path !== undefined && (typeof input.path !== 'string' || !input.path.startsWith('/'))) {
    throw invalidOption('path', "expected a string starting with '/'");
  }
  return {
    name,
    server: input.server as StreamHubOptions['server'],
    port: input.port === undefined ? undefined : num('port', input.port, 0, 0, true),
    host,
    path: input.path,
    authenticate: fn('authenticate', input.authenticate),
    authorize: fn('authorize', input.authorize),
    maxBufferedBytes: num('maxBufferedBytes', input.maxBufferedBytes, d.maxBufferedBytes, 1, true),
    slowConsumer,
    slowConsumerCloseCode: code,
    heartbeatIntervalMs: num('heartbeatIntervalMs', input.heartbeatIntervalMs, d.heartbeatIntervalMs, 0),
    maxMessageBytes: num('maxMessageBytes', input.maxMessageBytes, d.maxMessageBytes, 1, true),
    inboundRatePerSecond: num('inboundRatePerSecond', input.inboundRatePerSecond, d.inboundRatePerSecond, 0.001),
    inboundBurst: num('inboundBurst', input.inboundBurst, d.inboundBurst, 1, true),
    maxTopicsPerClient: num('maxTopicsPerClient', input.maxTopicsPerClient, d.maxTopicsPerClient, 1, true),
    maxTopics: num('maxTopics', input.maxTopics, d.maxTopics, 1, true),
    historyMaxMessages,
    epoch: epoch as string | undefined,
    broker: broker as HubBroker | undefined,
    flushIntervalMs: num('flushIntervalMs', input.flushIntervalMs, d.flushIntervalMs, 1),
  };
}
