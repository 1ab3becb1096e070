import { generateKeyPairSync } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { waitFor } from '@cryptoscalp/testkit';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { loadBinanceCredentials, reconcileLogLine } from '../../src/adapters/binance/live-venue.js';
import { EngineComponent } from '../../src/app/components/engine-component.js';
import { JournalComponent } from '../../src/app/components/journal-component.js';
import { loadConfig } from '../../src/config/load-config.js';
import { isTraderError } from '../../src/errors.js';
import { Journal } from '../../src/journal/journal.js';
import { BinanceVenue } from '../fixtures/binance-venue.js';
import { tempDirs } from '../temp-dir.js';

const tmp = tempDirs('trader-binance-wiring-');
const API_KEY = 'wiring-api-key-0123456789';
const SECRET = 'wiring-secret-do-not-log-0123456789';

function field(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    if (isTraderError(e)) return e.field;
    throw e;
  }
  return undefined;
}

describe('live trading is off unless configured with keys and --live', () => {
  it('needs --live for the binance venue, the binance venue for --live, and never takes live from a file or the environment', () => {
    const binance = { execution: { venue: 'binance' as const } };
    expect(field(() => loadConfig({ env: {}, overrides: binance }))).toBe('execution.venue');
    expect(field(() => loadConfig({ env: {}, argv: ['--live'] }))).toBe('execution.live');
    expect(field(() => loadConfig({ env: { TRADER_EXECUTION_LIVE: 'true' }, overrides: binance }))).toBe(
      'execution.live',
    );
    const config = loadConfig({ env: {}, argv: ['--live'], overrides: binance });
    expect(config.execution).toMatchObject({ venue: 'binance', live: true });
    expect(loadConfig({ env: {} }).execution).toMatchObject({ venue: 'paper', live: false });
    expect(
      loadConfig({
        env: { TRADER_EXECUTION_BINANCE_REST_URL: 'https://testnet.binance.vision' },
        argv: ['--live'],
        overrides: binance,
      }).execution.binance.restUrl,
    ).toBe('https://testnet.binance.vision');
    expect(field(() => loadConfig({ env: { TRADER_EXECUTION_BINANCE_WS_API_URL: 'http://x' } }))).toBe(
      'execution.binance.wsApiUrl',
    );
  });

  it('reads the API key from the environment or files, HMAC or Ed25519, naming the missing variable', () => {
    expect(field(() => loadBinanceCredentials({}))).toBe('BINANCE_API_KEY');
    expect(field(() => loadBinanceCredentials({ BINANCE_API_KEY: 'k' }))).toBe('BINANCE_API_SECRET');
    const dir = tmp();
    const pem = generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    writeFileSync(`${dir}/ed25519.pem`, pem);
    writeFileSync(`${dir}/key`, 'file-key\n');
    expect(
      field(() =>
        loadBinanceCredentials({
          BINANCE_API_KEY: 'k',
          BINANCE_API_SECRET: 's',
          BINANCE_PRIVATE_KEY_FILE: `${dir}/ed25519.pem`,
        }),
      ),
    ).toBe('BINANCE_API_SECRET');
    expect(loadBinanceCredentials({ BINANCE_API_KEY: 'k', BINANCE_API_SECRET: 's' })).toEqual({
      type: 'hmac',
      apiKey: 'k',
      secret: 's',
    });
    expect(
      loadBinanceCredentials({ BINANCE_API_KEY_FILE: `${dir}/key`, BINANCE_PRIVATE_KEY_FILE: `${dir}/ed25519.pem` }),
    ).toEqual({ type: 'ed25519', apiKey: 'file-key', privateKeyPem: pem.replace(/\n$/, '') });
    expect(field(() => loadBinanceCredentials({ BINANCE_API_KEY: 'k', BINANCE_PRIVATE_KEY_FILE: `${dir}/none` }))).toBe(
      'BINANCE_PRIVATE_KEY_FILE',
    );
  });
});

describe('EngineComponent on the Binance venue', () => {
  const cleanup: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const fn of cleanup.splice(0).reverse()) await fn();
  });

  it('reconciles at start: the difference is journaled, counted and logged without the secret', async () => {
    const venue = await new BinanceVenue({
      apiKey: API_KEY,
      hmacSecret: SECRET,
      symbols: [
        {
          symbol: 'BTCUSDT',
          baseAsset: 'BTC',
          quoteAsset: 'USDT',
          tickSize: '0.01',
          stepSize: '0.00001',
          minQty: '0.00001',
          minNotional: '5',
        },
      ],
      balances: { BTC: 1, USDT: 1000 },
    }).start();
    cleanup.push(() => venue.stop());
    venue.placeForeign('BTCUSDT', 'web-ui-7', 'BUY', '0.01000', '40000.00');
    const dataDir = tmp();
    const config = loadConfig({
      env: {
        TRADER_EXECUTION_BINANCE_REST_URL: venue.restUrl,
        TRADER_EXECUTION_BINANCE_WS_API_URL: venue.wsApiUrl,
      },
      argv: ['--live', '--data-dir', dataDir],
      overrides: { symbols: ['BTCUSDT'], instanceId: 'wiring', execution: { venue: 'binance' } },
    });
    const lines: string[] = [];
    const log = (l: string) => lines.push(l);
    const journal = new JournalComponent(config, log);
    journal.start();
    cleanup.push(() => journal.stop());
    expect(() => new EngineComponent(config, journal, { env: {}, log })).toThrow(/BINANCE_API_KEY/);
    const engine = new EngineComponent(config, journal, {
      env: { BINANCE_API_KEY: API_KEY, BINANCE_API_SECRET: SECRET },
      log,
    });
    engine.start();
    cleanup.push(() => engine.stop());
    expect(engine.engine().execution.name).toBe('binance');
    await waitFor(() => lines.some((l) => l.includes('reconciliation')), { timeoutMs: 10_000 });
    expect(lines.find((l) => l.includes('reconciliation'))).toBe(
      'venue binance: reconciliation (start) found 1 difference(s) [unknown-open-order 1], applied 0 missing fill(s)',
    );
    for (const l of lines) expect(l).not.toContain(SECRET);
    const registry = new Registry();
    for (const m of engine.venueMetrics.metrics) registry.registerMetric(m);
    const text = await registry.metrics();
    expect(text).toContain(
      'cryptoscalp_trader_venue_reconciliations_total{venue="binance",trigger="start",result="differences"} 1',
    );
    expect(text).toContain(
      'cryptoscalp_trader_venue_reconcile_differences_total{venue="binance",kind="unknown-open-order"} 1',
    );
    const entry = Journal.read(journal.path).find((e) => e.type === 'venue.reconciled');
    expect(entry?.data).toMatchObject({ venue: 'binance', trigger: 'start', openAtVenue: 1 });
    expect(JSON.stringify(Journal.read(journal.path))).not.toContain(SECRET);
    expect(
      reconcileLogLine({
        venue: 'binance',
        trigger: 'reconnect',
        at: 0,
        durationMs: 1,
        openAtVenue: 0,
        tradesSeen: 0,
        fillsApplied: 0,
        differences: [],
        balances: {},
        error: 'GET /api/v3/openOrders: no answer',
      }),
    ).toBe(
      'venue binance: reconciliation (reconnect) found 0 difference(s), applied 0 missing fill(s); failed: GET /api/v3/openOrders: no answer',
    );
  });
});
