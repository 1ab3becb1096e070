/** Defaults of every API option, in one place. */
export const API_DEFAULTS = Object.freeze({
  port: 0,
  host: '127.0.0.1',
  cacheTtlMs: 250,
  bodyLimit: 16_384,
  dashboard: true,
  trustProxy: false,
  keepAliveTimeoutMs: 72_000,
  auth: Object.freeze({
    issuer: 'cryptoscalp-trader',
    audience: 'cryptoscalp-api',
    clockToleranceSec: 5,
    cacheSize: 10_000,
  }),
  audit: Object.freeze({ schema: 'public', maxPending: 10_000, retryIntervalMs: 1_000 }),
  rateLimit: Object.freeze({ windowMs: 10_000, perIp: 1_000, perToken: 500, keyPrefix: 'cryptoscalp:trader:rl:' }),
  stream: Object.freeze({
    path: '/api/stream',
    maxBufferedBytes: 1_048_576,
    historySize: 1_000,
    bookDepth: 10,
    heartbeatIntervalMs: 30_000,
    maxTopicsPerClient: 100,
    maxMessageBytes: 4_096,
    flushIntervalMs: 25,
  }),
  health: Object.freeze({
    prefixes: Object.freeze(['/health']),
    publicPaths: Object.freeze(['/health', '/health/liveness', '/health/readiness', '/health/startup']),
  }),
});
