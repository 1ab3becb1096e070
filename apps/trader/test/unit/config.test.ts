import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { configPaths, DEFAULT_CONFIG, envNameFor, loadConfig } from '../../src/config/index.js';
import { isTraderError, type TraderError } from '../../src/errors.js';

function fails(fn: () => unknown): TraderError {
  try {
    fn();
  } catch (e) {
    expect(isTraderError(e)).toBe(true);
    return e as TraderError;
  }
  throw new Error('expected a TraderError');
}

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function file(content: unknown): string {
  const dir = mkdtempSync(join(tmpdir(), 'trader-config-'));
  dirs.push(dir);
  const path = join(dir, 'config.json');
  writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content));
  return path;
}

describe('loadConfig', () => {
  it('returns the embedded defaults with an empty environment', () => {
    const c = loadConfig({ env: {} });
    expect(c.simulator.enabled).toBe(true);
    expect(c.database.url).toBe('');
    expect(c.cache.redisUrl).toBe('');
    expect(c.symbols).toEqual(DEFAULT_CONFIG.symbols);
    expect(Object.isFrozen(c.risk)).toBe(true);
  });

  it('layers defaults < environment defaults < file < file environment section < env vars < --duration', () => {
    const path = file({
      risk: { maxOrdersPerSecond: 7, dailyLossLimit: 100 },
      journal: { fsync: 'never' },
      // Production's API needs TLS or a trusted TLS-terminating proxy (tls-trader.test.ts).
      http: { trustProxy: ['loopback'] },
      environments: { production: { risk: { dailyLossLimit: 200 } } },
    });
    const c = loadConfig({
      env: { TRADER_ENV: 'production', TRADER_CONFIG: path, TRADER_RISK_MAX_ORDERS_PER_SECOND: '9' },
      argv: ['--duration', '12'],
    });
    expect(c.env).toBe('production');
    expect(c.risk.maxOrdersPerSecond).toBe(9); // env beats file
    expect(c.risk.dailyLossLimit).toBe(200); // environment section beats file top level
    expect(c.journal.fsync).toBe('never'); // file beats production's environment default ('always')
    expect(c.durationSec).toBe(12);
    const prod = loadConfig({ env: { NODE_ENV: 'production', TRADER_HTTP_TRUST_PROXY: 'loopback' } });
    expect(prod.journal.fsync).toBe('always');
  });

  it('maps REDIS_URL, DATABASE_URL and DATABASE_REPLICA_URLS', () => {
    const c = loadConfig({
      env: {
        REDIS_URL: 'redis://127.0.0.1:6379',
        DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/test',
        DATABASE_REPLICA_URLS: 'postgres://a@127.0.0.1:5433/test, postgres://a@127.0.0.1:5434/test',
        TRADER_SYMBOLS: 'BTCUSDT,ETHUSDT',
        TRADER_SIMULATOR_ENABLED: 'false',
        TRADER_MARKET_WS_URL: 'ws://127.0.0.1:1/stream',
        TRADER_MARKET_REST_URL: 'http://127.0.0.1:1',
      },
    });
    expect(c.cache.redisUrl).toBe('redis://127.0.0.1:6379');
    expect(c.database.url).toContain('5432');
    expect(c.database.replicaUrls).toHaveLength(2);
    expect(c.symbols).toEqual(['BTCUSDT', 'ETHUSDT']);
    expect(c.simulator.enabled).toBe(false);
  });

  it('names the field of a bad value', () => {
    expect(fails(() => loadConfig({ env: { TRADER_HTTP_PORT: 'eighty' } })).field).toBe('http.port');
    expect(fails(() => loadConfig({ env: { TRADER_HTTP_PORT: '70000' } })).field).toBe('http.port');
    expect(fails(() => loadConfig({ env: { TRADER_JOURNAL_FSYNC: 'sometimes' } })).message).toMatch(/journal\.fsync/);
    expect(fails(() => loadConfig({ env: { DATABASE_URL: 'mysql://x' } })).field).toBe('database.url');
    expect(fails(() => loadConfig({ env: { TRADER_SYMBOLS: 'btc' } })).field).toBe('symbols');
    expect(fails(() => loadConfig({ env: { TRADER_SIMULATOR_ENABLED: 'maybe' } })).field).toBe('simulator.enabled');
    expect(fails(() => loadConfig({ env: { TRADER_RISK_MAX_NOTIONAL_PER_ORDER: '99999' } })).field).toBe(
      'risk.maxNotionalPerOrder',
    );
    expect(fails(() => loadConfig({ env: { TRADER_SIMULATOR_ENABLED: 'false' } })).field).toBe('market.wsUrl');
    expect(fails(() => loadConfig({ env: {}, argv: ['--duration', '-1'] })).field).toBe('durationSec');
  });

  it('selects the market venue, binance by default, and checks what the venue needs', () => {
    expect(loadConfig({ env: {} }).market.venue).toBe('binance');
    const ws = 'wss://advanced-trade-ws.coinbase.com';
    const coinbase = loadConfig({
      env: { TRADER_MARKET_VENUE: 'coinbase', TRADER_MARKET_WS_URL: ws, TRADER_SYMBOLS: 'BTCUSD,ETHUSD' },
    });
    expect(coinbase.market).toMatchObject({ venue: 'coinbase', wsUrl: ws, restUrl: '' });
    expect(
      loadConfig({ env: {}, file: file({ market: { venue: 'kraken', wsUrl: 'wss://ws.kraken.com' } }) }).market.venue,
    ).toBe('kraken');
    const bad = fails(() => loadConfig({ env: { TRADER_MARKET_VENUE: 'ftx' } }));
    expect(bad.field).toBe('market.venue');
    expect(bad.message).toMatch(/must be one of binance, coinbase, kraken/);
    // The simulator speaks Binance only.
    expect(fails(() => loadConfig({ env: { TRADER_MARKET_VENUE: 'kraken' } })).field).toBe('market.wsUrl');
    expect(
      fails(() =>
        loadConfig({ env: { TRADER_MARKET_VENUE: 'coinbase', TRADER_MARKET_WS_URL: ws, TRADER_SYMBOLS: 'BTCXYZ' } }),
      ).field,
    ).toBe('symbols');
    // Binance snapshots come from REST.
    expect(
      fails(() => loadConfig({ env: { TRADER_MARKET_WS_URL: 'wss://stream.binance.com:9443/stream' } })).field,
    ).toBe('market.restUrl');
  });

  it('rejects unknown keys, variables and options', () => {
    expect(fails(() => loadConfig({ env: { TRADER_RISK_MAX_ORDER_PER_SECOND: '1' } })).field).toBe(
      'TRADER_RISK_MAX_ORDER_PER_SECOND',
    );
    expect(fails(() => loadConfig({ env: {}, file: file({ risk: { maxOrders: 1 } }) })).field).toBe('risk.maxOrders');
    expect(fails(() => loadConfig({ env: {}, file: file({ risk: 5 }) })).field).toBe('risk');
    expect(fails(() => loadConfig({ env: {}, file: file('{ not json') })).field).toBe('file');
    expect(fails(() => loadConfig({ env: {}, file: file('[1,2]') })).field).toBe('file');
    expect(fails(() => loadConfig({ env: {}, argv: ['--verbose'] })).field).toBe('--verbose');
    expect(fails(() => loadConfig({ env: {}, argv: ['--duration'] })).field).toBe('duration');
    expect(fails(() => loadConfig({ env: {}, argv: ['3'] })).field).toBe('argv');
  });

  it('derives one environment variable per leaf field', () => {
    const paths = configPaths();
    expect(paths).toContain('risk.maxOrdersPerSecond');
    expect(envNameFor('risk.maxOrdersPerSecond')).toBe('TRADER_RISK_MAX_ORDERS_PER_SECOND');
    expect(new Set(paths.map(envNameFor)).size).toBe(paths.length);
    expect(loadConfig({ env: {}, argv: ['--env=test'] }).http.port).toBe(0);
  });

  it('takes the API rate limits from the configuration, 0 turning one off, and rejects a negative one', () => {
    const c = loadConfig({ env: { TRADER_HTTP_RATE_LIMIT_PER_IP: '0', TRADER_HTTP_RATE_LIMIT_PER_TOKEN: '2000' } });
    expect(c.http).toMatchObject({ rateLimitPerIp: 0, rateLimitPerToken: 2000 });
    expect(loadConfig({ env: {} }).http).toMatchObject({ rateLimitPerIp: 1000, rateLimitPerToken: 500 });
    expect(fails(() => loadConfig({ env: { TRADER_HTTP_RATE_LIMIT_PER_TOKEN: '-1' } })).field).toBe(
      'http.rateLimitPerToken',
    );
  });
});
