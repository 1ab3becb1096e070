import { jsonCodec } from './codec.js';

/** Defaults of every connection option (see {@link ConnectionOptions} for the meaning of each field). */
export const DEFAULT_CONNECTION_OPTIONS = {
  /** @default jsonCodec */
  codec: jsonCodec,
  /** @default 1 MiB */
  maxFrameBytes: 1_048_576,
  /** @default 64 MiB */
  maxPayloadBytes: 67_108_864,
  /** @default 15 s ping, 10 s pong timeout */
  heartbeat: { intervalMs: 15_000, timeoutMs: 10_000 },
  /** @default 100 ms initial, x2, cap 10 s, reset after 3 s open */
  backoff: { initialDelayMs: 100, maxDelayMs: 10_000, multiplier: 2, stableAfterMs: 3_000 },
  /** @default open at 50% failures over at least 5 attempts in 10 s, retry after 2 s */
  breaker: { errorThresholdPercentage: 50, volumeThreshold: 5, resetTimeoutMs: 2_000, rollingCountTimeoutMs: 10_000 },
  /** @default 10 s */
  connectTimeoutMs: 10_000,
  /** @default 10 s */
  loginTimeoutMs: 10_000,
  /** @default false */
  resetSequenceOnReconnect: false,
  /** @default 0 (no rotation) */
  maxConnectionLifetimeMs: 0,
  /** @default 2 s */
  rotationOverlapMs: 2_000,
  /** @default 0 (no idle resubscribe) */
  idleTimeoutMs: 0,
  /** @default 256 messages */
  reorderWindow: 256,
  /** @default 250 ms */
  reorderTimeoutMs: 250,
  /** @default 10000 deltas */
  maxBufferedDeltas: 10_000,
  /** @default 4096 ids */
  dedupWindow: 4_096,
  /** @default 3 */
  maxResyncAttempts: 3,
  /** @default 10000 messages, drop-oldest */
  queue: { maxSize: 10_000, policy: 'drop-oldest' as const },
} as const;

/** Defaults of the per-exchange limits (Binance-like: 5 messages/s). */
export const DEFAULT_EXCHANGE_LIMITS = {
  /** @default 2 */
  connectsPerSecond: 2,
  /** @default 5 */
  connectBurst: 5,
  /** @default 5 */
  messagesPerSecond: 5,
  /** @default 10 */
  messageBurst: 10,
} as const;

/** Defaults of {@link StreamHubOptions}. */
export const DEFAULT_HUB_OPTIONS = {
  /** @default 'stream-hub' */
  name: 'stream-hub',
  /** @default '127.0.0.1' */
  host: '127.0.0.1',
  /** @default 1 MiB */
  maxBufferedBytes: 1_048_576,
  /** @default 'conflate' */
  slowConsumer: 'conflate' as const,
  /** @default 4008 */
  slowConsumerCloseCode: 4008,
  /** @default 30 s */
  heartbeatIntervalMs: 30_000,
  /** @default 16 KiB */
  maxMessageBytes: 16_384,
  /** @default 20 */
  inboundRatePerSecond: 20,
  /** @default 50 */
  inboundBurst: 50,
  /** @default 1000 */
  maxTopicsPerClient: 1_000,
  /** @default 10000 */
  maxTopics: 10_000,
  /** @default 1000 messages per topic */
  historyMaxMessages: 1_000,
  /** @default 10 ms */
  flushIntervalMs: 10,
} as const;

/** Default manager name. */
export const DEFAULT_MANAGER_NAME = 'ws-manager';

/**
 * Every default of the package in one object, by the options type it belongs to (the convention of the suite:
 * each package's `defaults.ts` exports `DEFAULTS`). The separate constants above are the same objects.
 */
export const DEFAULTS = {
  /** {@link ConnectionOptions}. */
  connection: DEFAULT_CONNECTION_OPTIONS,
  /** Per-exchange limits. */
  exchangeLimits: DEFAULT_EXCHANGE_LIMITS,
  /** {@link StreamHubOptions}. */
  hub: DEFAULT_HUB_OPTIONS,
  /** Manager name. */
  managerName: DEFAULT_MANAGER_NAME,
} as const;
