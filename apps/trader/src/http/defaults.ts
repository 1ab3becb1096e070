/** Defaults of every HTTP server option, in one place. */
export const API_DEFAULTS = Object.freeze({
  port: 0,
  host: '127.0.0.1',
  cacheTtlMs: 250,
  bodyLimit: 16_384,
  dashboard: true,
  trustProxy: false,
  keepAliveTimeoutMs: 72_000,
  drainTimeoutMs: 10_000,
  /** Browsers open about 6 connections per host; a NAT of many users or a bot with streams stays well below this. */
  maxConnectionsPerIp: 256,
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 30_000,
  upgradeTimeoutMs: 10_000,
  metricsMaxAgeMs: 1_000,
  metricsMaxPerSecond: 10,
  auth: Object.freeze({
    issuer: 'cryptoscalp-trader',
    audience: 'cryptoscalp-api',
    clockToleranceSec: 5,
    cacheSize: 10_000,
    /** 30 days: the longest a token may live (`exp - iat`), service tokens included. */
    maxLifetimeSec: 2_592_000,
  }),
  audit: Object.freeze({ schema: 'public', maxPending: 10_000, retryIntervalMs: 1_000 }),
  rateLimit: Object.freeze({
    windowMs: 10_000,
    perIp: 1_000,
    perToken: 500,
    keyPrefix: 'cryptoscalp:trader:rl:',
    storeTimeoutMs: 250,
    memoryKeys: 100_000,
  }),
  loadShedding: Object.freeze({
    maxEventLoopDelayMs: 1_000,
    /** Fraction of the V8 heap size limit (`v8.getHeapStatistics().heap_size_limit`). */
    maxHeapUsedRatio: 0.9,
    maxRssBytes: 0,
    maxEventLoopUtilization: 0,
    retryAfterSec: 10,
    sampleIntervalMs: 1_000,
  }),
  stream: Object.freeze({
    path: '/api/stream',
    allowedOrigins: Object.freeze([] as string[]),
    maxBufferedBytes: 1_048_576,
    historySize: 1_000,
    bookDepth: 10,
    heartbeatIntervalMs: 30_000,
    maxTopicsPerClient: 100,
    maxMessageBytes: 4_096,
    flushIntervalMs: 25,
  }),
  health: Object.freeze({
    publicPaths: Object.freeze(['/health', '/health/liveness', '/health/readiness', '/health/startup']),
  }),
});
