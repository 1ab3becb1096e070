import { TraderError } from '../errors.js';
import { LOG_FORMATS, LOG_LEVELS } from '../internal/log.js';
import { splitSymbol } from '../model/symbols.js';
import { VENUES } from '../model/types.js';
import type { TraderConfig } from './config-types.js';
import { isSentinelUrl, parseSentinelUrl } from './redis-url.js';

type Check = (v: unknown) => string | undefined;

const int =
  (min: number, max = Number.MAX_SAFE_INTEGER): Check =>
  (v) =>
    typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max
      ? undefined
      : `must be an integer in [${min}, ${max}]`;
const num =
  (min: number, max = Number.POSITIVE_INFINITY, exclusiveMin = false): Check =>
  (v) =>
    typeof v === 'number' && Number.isFinite(v) && (exclusiveMin ? v > min : v >= min) && v <= max
      ? undefined
      : `must be a number ${exclusiveMin ? '>' : '>='} ${min}${max === Number.POSITIVE_INFINITY ? '' : ` and <= ${max}`}`;
const str: Check = (v) => (typeof v === 'string' ? undefined : 'must be a string');
const nonEmpty: Check = (v) => (typeof v === 'string' && v.length > 0 ? undefined : 'must be a non-empty string');
const bool: Check = (v) => (typeof v === 'boolean' ? undefined : 'must be a boolean');
const oneOf =
  (...values: string[]): Check =>
  (v) =>
    typeof v === 'string' && values.includes(v) ? undefined : `must be one of ${values.join(', ')}`;
const url =
  (...protocols: string[]): Check =>
  (v) => {
    if (v === '') return undefined;
    if (typeof v !== 'string') return 'must be a URL string';
    try {
      const u = new URL(v);
      return protocols.includes(u.protocol) ? undefined : `must use ${protocols.join(' or ')}`;
    } catch {
      return 'must be a valid URL';
    }
  };
/** A Redis URL: `redis://`, `rediss://`, or Sentinel's `redis+sentinel://h:p,h:p/<primary>[/<db>]`. */
const redisUrl: Check = (v) => {
  if (typeof v === 'string' && isSentinelUrl(v)) {
    try {
      parseSentinelUrl(v);
      return undefined;
    } catch (e) {
      return (e as Error).message.replace(/^invalid configuration: redisUrl /, '');
    }
  }
  const plain = url('redis:', 'rediss:')(v);
  return plain === undefined ? undefined : `${plain} (or redis+sentinel://)`;
};
const urls =
  (...protocols: string[]): Check =>
  (v) =>
    Array.isArray(v) ? v.map(url(...protocols)).find((e) => e !== undefined) : 'must be a list of URLs';
const symbols: Check = (v) =>
  Array.isArray(v) && v.length > 0 && v.every((s) => typeof s === 'string' && /^[A-Z0-9]{2,20}$/.test(s))
    ? new Set(v).size === v.length
      ? undefined
      : 'must not repeat a symbol'
    : 'must be a non-empty list of upper-case symbols like BTCUSDT';
const identifier: Check = (v) =>
  typeof v === 'string' && /^[a-z_][a-z0-9_]{0,62}$/.test(v) ? undefined : 'must be a lower-case SQL identifier';

const RULES: Readonly<Record<string, Check>> = {
  role: oneOf('all', 'engine', 'gateway'),
  env: nonEmpty,
  instanceId: (v) =>
    typeof v === 'string' && /^[A-Za-z0-9_-]{1,32}$/.test(v) ? undefined : 'must match [A-Za-z0-9_-]{1,32}',
  symbols,
  dataDir: nonEmpty,
  durationSec: num(0),
  'simulator.enabled': bool,
  'simulator.port': int(0, 65535),
  'simulator.tickMs': int(1, 1000),
  'simulator.eventsPerSecond': num(0, 1_000_000, true),
  'simulator.seed': int(0, 2 ** 32 - 1),
  'market.venue': oneOf(...VENUES),
  'market.wsUrl': url('ws:', 'wss:'),
  'market.restUrl': url('http:', 'https:'),
  'market.depthLimit': int(5, 5000),
  'strategy.orderNotional': num(0, Number.POSITIVE_INFINITY, true),
  'strategy.maxLots': int(1, 100),
  'strategy.limitOrderTtlMs': int(1, 3_600_000),
  'strategy.horizonMs': int(1, 600_000),
  'strategy.threshold': num(0, 0.5),
  'strategy.learningRate': num(0, 10, true),
  'strategy.l2': num(0, 1),
  'strategy.warmupSamples': int(0),
  'strategy.cooldownMs': int(0),
  'risk.maxPositionNotional': num(0, Number.POSITIVE_INFINITY, true),
  'risk.maxNotionalPerOrder': num(0, Number.POSITIVE_INFINITY, true),
  'risk.maxOrdersPerSecond': int(1),
  'risk.dailyLossLimit': num(0, Number.POSITIVE_INFINITY, true),
  'risk.maxDrawdown': num(0, Number.POSITIVE_INFINITY, true),
  'risk.releaseGraceMs': int(1),
  'risk.releaseStep': num(0, Number.POSITIVE_INFINITY, true),
  'execution.latencyMs': num(0, 60_000),
  'execution.makerFeeBps': num(-100, 100),
  'execution.takerFeeBps': num(0, 100),
  'execution.venue': oneOf('paper', 'binance'),
  'execution.live': bool,
  'execution.binance.restUrl': url('http:', 'https:'),
  'execution.binance.wsApiUrl': url('ws:', 'wss:'),
  'execution.binance.recvWindowMs': int(1, 60_000),
  'journal.path': str,
  'journal.fsync': oneOf('always', 'interval', 'never'),
  'journal.fsyncIntervalMs': int(1, 60_000),
  'journal.segmentBytes': (v) =>
    v === 0 || (Number.isSafeInteger(v) && (v as number) >= 4096)
      ? undefined
      : 'must be 0 (no rotation) or an integer >= 4096',
  'journal.retainSegments': int(0, 1_000_000),
  'database.url': url('postgres:', 'postgresql:'),
  'database.replicaUrls': urls('postgres:', 'postgresql:'),
  'database.embedded': oneOf('memory', 'disk'),
  'database.schema': identifier,
  'database.archiveCheckMs': (v) =>
    v === 0 || (Number.isSafeInteger(v) && (v as number) >= 1000 && (v as number) <= 3_600_000)
      ? undefined
      : 'must be 0 (off) or an integer from 1000 to 3600000',
  'cache.redisUrl': redisUrl,
  'cache.prefix': (v) =>
    typeof v === 'string' && /^[A-Za-z0-9_.-]{1,128}$/.test(v) ? undefined : 'must match [A-Za-z0-9_.-]{1,128}',
  'bus.redisUrl': redisUrl,
  'bus.key': (v) =>
    typeof v === 'string' && /^[A-Za-z0-9_.:-]{1,128}$/.test(v) ? undefined : 'must match [A-Za-z0-9_.:-]{1,128}',
  'bus.commandTimeoutMs': int(10, 600_000),
  'bus.snapshotIntervalMs': int(100, 3_600_000),
  'bus.marketIntervalMs': int(10, 60_000),
  'bus.waitReplicas': int(0, 16),
  'ha.enabled': bool,
  'ha.leaseTtlMs': int(300, 600_000),
  'ha.renewIntervalMs': int(50, 200_000),
  'ha.holderId': (v) =>
    typeof v === 'string' && /^[A-Za-z0-9_.:-]{0,128}$/.test(v) ? undefined : 'must match [A-Za-z0-9_.:-]{0,128}',
  'ha.strategyStateMs': int(0, 3_600_000),
  'http.host': nonEmpty,
  'http.port': int(0, 65535),
  'http.shutdownDelayMs': int(0, 60_000),
  'http.rateLimitPerIp': int(0),
  'http.rateLimitPerToken': int(0),
  'http.maxConnectionsPerIp': int(0),
  'http.trustProxy': (v) =>
    Array.isArray(v) && v.every((a) => typeof a === 'string' && /^[0-9A-Za-z.:/]{1,64}$/.test(a))
      ? undefined
      : 'must be a list of addresses, CIDRs or loopback/linklocal/uniquelocal',
  'http.tls.certFile': str,
  'http.tls.keyFile': str,
  'alerts.feedStaleMs': int(100),
  'alerts.decisionLatencyBudgetMs': num(0, 10_000),
  'alerts.decisionLatencyMargin': num(1, 1_000),
  'alerts.decisionLatencyCalibrationMs': int(1_000),
  'alerts.slackToken': str,
  'alerts.slackChannel': str,
  'alerts.webhookUrl': url('http:', 'https:'),
  'recording.enabled': bool,
  'recording.dir': str,
  'recording.flushIntervalMs': int(10, 60_000),
  'log.format': oneOf(...LOG_FORMATS),
  'log.level': oneOf(...LOG_LEVELS),
};

/** Checks every field; throws a `TraderError` naming the first bad one. Returns the config frozen. */
export function validateConfig(config: TraderConfig): TraderConfig {
  for (const [path, check] of Object.entries(RULES)) {
    let value: unknown = config;
    for (const part of path.split('.')) value = (value as Record<string, unknown>)[part];
    const problem = check(value);
    if (problem !== undefined) {
      throw new TraderError(
        'E_TRADER_INVALID_CONFIG',
        `invalid configuration: ${path} ${problem} (got ${JSON.stringify(value)})`,
        {
          field: path,
        },
      );
    }
  }
  if (config.risk.maxNotionalPerOrder > config.risk.maxPositionNotional) {
    throw new TraderError(
      'E_TRADER_INVALID_CONFIG',
      'invalid configuration: risk.maxNotionalPerOrder must not exceed risk.maxPositionNotional',
      { field: 'risk.maxNotionalPerOrder' },
    );
  }
  if (!config.simulator.enabled && config.market.wsUrl === '') {
    throw new TraderError(
      'E_TRADER_INVALID_CONFIG',
      'invalid configuration: market.wsUrl is required when simulator.enabled is false',
      {
        field: 'market.wsUrl',
      },
    );
  }
  if (config.market.venue !== 'binance') {
    // The simulator speaks Binance's format only; other venues are real endpoints.
    if (config.market.wsUrl === '') {
      throw new TraderError(
        'E_TRADER_INVALID_CONFIG',
        `invalid configuration: market.wsUrl is required when market.venue is ${config.market.venue} (the simulator speaks Binance)`,
        { field: 'market.wsUrl' },
      );
    }
    // Coinbase and Kraken separate base and quote, so the quote must be recognizable.
    const unsplittable = config.symbols.find((s) => splitSymbol(s) === undefined);
    if (unsplittable !== undefined) {
      throw new TraderError(
        'E_TRADER_INVALID_CONFIG',
        `invalid configuration: symbols ${unsplittable} has no known quote currency (needed for ${config.market.venue}, e.g. BTCUSD)`,
        { field: 'symbols' },
      );
    }
  } else if (config.market.wsUrl !== '' && config.market.restUrl === '') {
    throw new TraderError(
      'E_TRADER_INVALID_CONFIG',
      'invalid configuration: market.restUrl is required with a Binance market.wsUrl (depth snapshots come from REST)',
      { field: 'market.restUrl' },
    );
  }
  if (config.role !== 'all' && config.bus.redisUrl === '' && config.cache.redisUrl === '') {
    throw new TraderError(
      'E_TRADER_INVALID_CONFIG',
      `invalid configuration: bus.redisUrl (or REDIS_URL) is required for role ${config.role}: the engine and its gateways meet on a Redis stream`,
      { field: 'bus.redisUrl' },
    );
  }
  if (config.role === 'gateway' && config.database.url === '') {
    throw new TraderError(
      'E_TRADER_INVALID_CONFIG',
      'invalid configuration: database.url (DATABASE_URL) is required for role gateway: the audit log lives in the shared PostgreSQL, not in an embedded one',
      { field: 'database.url' },
    );
  }
  checkHa(config);
  checkTls(config);
  return deepFreeze(config);
}

/** Active/standby needs engines that share PostgreSQL (the lease) and renew well within the lease's lifetime. */
function checkHa(config: TraderConfig): void {
  if (!config.ha.enabled) return;
  const bad = (field: string, why: string) =>
    new TraderError('E_TRADER_INVALID_CONFIG', `invalid configuration: ${field} ${why}`, { field });
  if (config.role !== 'engine') throw bad('ha.enabled', `is for role engine only (got role ${config.role})`);
  if (config.database.url === '')
    throw bad('database.url', '(DATABASE_URL) is required with ha.enabled: the lease lives in the shared PostgreSQL');
  if (config.ha.renewIntervalMs * 3 > config.ha.leaseTtlMs)
    throw bad('ha.renewIntervalMs', `must be at most a third of ha.leaseTtlMs (${config.ha.leaseTtlMs})`);
}

/**
 * TLS files come in pairs, and production API roles (`all`, `gateway`) serve HTTPS themselves or sit behind a trusted
 * TLS-terminating proxy: tokens and passwords never cross a network in clear. The engine's health/metrics port is
 * private to the deployment and may stay plain.
 */
function checkTls(config: TraderConfig): void {
  const { certFile, keyFile } = config.http.tls;
  const bad = (field: string, why: string) =>
    new TraderError('E_TRADER_INVALID_CONFIG', `invalid configuration: ${field} ${why}`, { field });
  if (certFile !== '' && keyFile === '')
    throw bad('http.tls.keyFile', '(TRADER_HTTP_TLS_KEY) is required with http.tls.certFile');
  if (keyFile !== '' && certFile === '')
    throw bad('http.tls.certFile', '(TRADER_HTTP_TLS_CERT) is required with http.tls.keyFile');
  if (config.env === 'production' && config.role !== 'engine' && certFile === '' && config.http.trustProxy.length === 0)
    throw bad(
      'http.tls.certFile',
      '(TRADER_HTTP_TLS_CERT and TRADER_HTTP_TLS_KEY) is required in production unless a TLS-terminating proxy is trusted (http.trustProxy, TRADER_HTTP_TRUST_PROXY): the API would carry tokens in clear',
    );
}

function deepFreeze<T>(o: T): T {
  if (o !== null && typeof o === 'object') {
    for (const v of Object.values(o)) deepFreeze(v);
    Object.freeze(o);
  }
  return o;
}
