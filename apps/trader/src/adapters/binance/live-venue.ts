import { Counter, type Metric } from 'prom-client';
import type { TraderConfig } from '../../config/config-types.js';
import { readSecretEnv } from '../../config/secrets.js';
import { TraderError } from '../../errors.js';
import { BinanceSpotApi } from './binance-api.js';
import { BinanceLiveExecution } from './live-execution.js';
import type { JournalView, ReconcileReport } from './reconcile.js';
import { BinanceRestClient } from './rest-client.js';
import { type BinanceCredentials, BinanceSigner } from './signing.js';
import { BinanceUserDataStream } from './user-data-stream.js';

/** The environment variables the Binance credentials come from (never from the config file, never logged). */
export const BINANCE_SECRET_ENV = [
  'BINANCE_API_KEY',
  'BINANCE_API_KEY_FILE',
  'BINANCE_API_SECRET',
  'BINANCE_API_SECRET_FILE',
  'BINANCE_PRIVATE_KEY_FILE',
] as const;

/**
 * Reads the Binance API key from the environment: `BINANCE_API_KEY` (or `_FILE`) with either `BINANCE_API_SECRET`
 * (or `_FILE`: an HMAC key) or `BINANCE_PRIVATE_KEY_FILE` (a PEM Ed25519 private key: an Ed25519 API key).
 * @throws TraderError `E_TRADER_INVALID_CONFIG` naming the variable.
 */
export function loadBinanceCredentials(env: NodeJS.ProcessEnv): BinanceCredentials {
  const apiKey = readSecretEnv(env, 'BINANCE_API_KEY');
  if (apiKey === '')
    throw new TraderError('E_TRADER_INVALID_CONFIG', 'live trading needs BINANCE_API_KEY (or BINANCE_API_KEY_FILE)', {
      field: 'BINANCE_API_KEY',
    });
  const secret = readSecretEnv(env, 'BINANCE_API_SECRET');
  const pemFile = env.BINANCE_PRIVATE_KEY_FILE ?? '';
  if ((secret === '') === (pemFile === ''))
    throw new TraderError(
      'E_TRADER_INVALID_CONFIG',
      'live trading needs exactly one of BINANCE_API_SECRET (HMAC key) and BINANCE_PRIVATE_KEY_FILE (Ed25519 key)',
      { field: 'BINANCE_API_SECRET' },
    );
  if (secret !== '') return { type: 'hmac', apiKey, secret };
  // readSecretEnv reads NAME_FILE: the PEM file is the "_FILE" form of BINANCE_PRIVATE_KEY.
  const privateKeyPem = readSecretEnv({ BINANCE_PRIVATE_KEY_FILE: pemFile }, 'BINANCE_PRIVATE_KEY');
  return { type: 'ed25519', apiKey, privateKeyPem };
}

/**
 * The live venue's metrics (registered in the monitoring registry by the observability component):
 * `cryptoscalp_trader_venue_reconciliations_total{venue,trigger,result}` and
 * `cryptoscalp_trader_venue_reconcile_differences_total{venue,kind}`.
 */
export class LiveVenueMetrics {
  readonly reconciliations = new Counter({
    name: 'cryptoscalp_trader_venue_reconciliations_total',
    help: 'Reconciliations with the live venue (start, user-data reconnect, manual), by result (clean, differences, failed).',
    labelNames: ['venue', 'trigger', 'result'],
    registers: [],
  });
  readonly differences = new Counter({
    name: 'cryptoscalp_trader_venue_reconcile_differences_total',
    help: 'Differences between the live venue and the journal found by reconciliation, by kind (missing-fill, closed, balance, ...).',
    labelNames: ['venue', 'kind'],
    registers: [],
  });

  get metrics(): Metric[] {
    return [this.reconciliations, this.differences];
  }

  record(report: ReconcileReport): void {
    const result = report.error !== undefined ? 'failed' : report.differences.length > 0 ? 'differences' : 'clean';
    this.reconciliations.labels(report.venue, report.trigger, result).inc();
    for (const d of report.differences) this.differences.labels(report.venue, d.kind).inc();
  }
}

/** One line for the log: counts by kind and the orders concerned, no secrets. */
export function reconcileLogLine(report: ReconcileReport): string {
  const kinds = new Map<string, number>();
  for (const d of report.differences) kinds.set(d.kind, (kinds.get(d.kind) ?? 0) + 1);
  const summary = [...kinds].map(([k, n]) => `${k} ${n}`).join(', ');
  return `venue ${report.venue}: reconciliation (${report.trigger}) found ${report.differences.length} difference(s)${
    summary === '' ? '' : ` [${summary}]`
  }, applied ${report.fillsApplied} missing fill(s)${report.error === undefined ? '' : `; failed: ${report.error}`}`;
}

/** Builds the Binance live execution from the configuration and the environment's credentials. */
export function createBinanceLiveVenue(options: {
  config: TraderConfig;
  credentials: BinanceCredentials;
  journal: () => JournalView;
  onReport: (report: ReconcileReport) => void;
}): BinanceLiveExecution {
  const { binance } = options.config.execution;
  const signer = new BinanceSigner(options.credentials);
  const rest = new BinanceRestClient({ baseUrl: binance.restUrl, signer, recvWindowMs: binance.recvWindowMs });
  const userData = new BinanceUserDataStream({
    wsApiUrl: binance.wsApiUrl,
    signer,
    recvWindowMs: binance.recvWindowMs,
  });
  return new BinanceLiveExecution({
    api: new BinanceSpotApi(rest),
    userData,
    symbols: options.config.symbols,
    journal: options.journal,
    onReconciled: options.onReport,
  });
}
