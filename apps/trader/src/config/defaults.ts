import { API_DEFAULTS } from '../http/defaults.js';
import type { TraderConfig } from './config-types.js';

/** Embedded defaults: simulator, in-process cache, embedded PostgreSQL. Nothing to install. */
export const DEFAULT_CONFIG: Readonly<TraderConfig> = Object.freeze({
  role: 'all',
  env: 'development',
  instanceId: 'trader-1',
  symbols: ['BTCUSDT', 'ETHUSDT', 'SOLUSDT'],
  dataDir: '.trader-data',
  durationSec: 0,
  simulator: { enabled: true, port: 0, tickMs: 10, eventsPerSecond: 200, seed: 42 },
  market: { venue: 'binance', wsUrl: '', restUrl: '', depthLimit: 1000 },
  strategy: {
    orderNotional: 500,
    maxLots: 2,
    limitOrderTtlMs: 1000,
    horizonMs: 500,
    threshold: 0.08,
    learningRate: 0.05,
    l2: 0.0001,
    warmupSamples: 200,
    cooldownMs: 50,
  },
  risk: {
    maxPositionNotional: 5000,
    maxNotionalPerOrder: 2000,
    maxOrdersPerSecond: 20,
    dailyLossLimit: 500,
    maxDrawdown: 300,
    releaseGraceMs: 300_000,
    releaseStep: 50,
  },
  execution: {
    latencyMs: 2,
    makerFeeBps: 1,
    takerFeeBps: 4,
    venue: 'paper',
    live: false,
    binance: {
      restUrl: 'https://api.binance.com',
      wsApiUrl: 'wss://ws-api.binance.com:443/ws-api/v3',
      recvWindowMs: 5000,
    },
  },
  journal: { path: '', fsync: 'interval', fsyncIntervalMs: 100, segmentBytes: 64 * 1024 * 1024, retainSegments: 8 },
  database: { url: '', replicaUrls: [], embedded: 'disk', schema: 'trader', archiveCheckMs: 15_000 },
  cache: { redisUrl: '', prefix: 'cryptoscalp.trader' },
  bus: {
    redisUrl: '',
    key: 'cryptoscalp:trader',
    commandTimeoutMs: 5000,
    snapshotIntervalMs: 5000,
    marketIntervalMs: 250,
    waitReplicas: 0,
  },
  ha: { enabled: false, leaseTtlMs: 2000, renewIntervalMs: 500, holderId: '', strategyStateMs: 1000 },
  http: {
    host: '127.0.0.1',
    port: 9464,
    shutdownDelayMs: 500,
    rateLimitPerIp: API_DEFAULTS.rateLimit.perIp,
    rateLimitPerToken: API_DEFAULTS.rateLimit.perToken,
    maxConnectionsPerIp: API_DEFAULTS.maxConnectionsPerIp,
    trustProxy: [],
    tls: { certFile: '', keyFile: '' },
  },
  alerts: {
    feedStaleMs: 5000,
    decisionLatencyBudgetMs: 0,
    decisionLatencyMargin: 4,
    decisionLatencyCalibrationMs: 60_000,
    slackToken: '',
    slackChannel: '',
    webhookUrl: '',
  },
  recording: { enabled: false, dir: '', flushIntervalMs: 1000 },
  log: { format: 'text', level: 'info' },
} satisfies TraderConfig);

/** Per-environment defaults, applied over {@link DEFAULT_CONFIG} and under the file and the environment variables. */
export const ENVIRONMENT_DEFAULTS: Readonly<Record<string, Record<string, unknown>>> = Object.freeze({
  production: { journal: { fsync: 'always' }, database: { embedded: 'disk' } },
  test: { http: { port: 0 }, database: { embedded: 'memory' } },
});
