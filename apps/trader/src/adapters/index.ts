import type { WebSocketManager } from '@cryptoscalp/ws-manager';
import { TraderError } from '../errors.js';
import type { DataClient, DataSink } from '../model/data-client.js';
import type { Venue } from '../model/types.js';
import { BinanceDataClient } from './binance/binance-data-client.js';
import { CoinbaseDataClient } from './coinbase/coinbase-data-client.js';
import { KrakenDataClient } from './kraken/kraken-data-client.js';

/** Options of {@link createDataClient}. */
export interface CreateDataClientOptions {
  /** The venue (`market.venue`). */
  venue: Venue;
  /** The manager the connection comes from; it must configure an exchange named `venue` with `wsUrl` as endpoint. */
  manager: WebSocketManager;
  /** The venue's WebSocket endpoint (Binance: the combined-stream URL `.../stream`). */
  wsUrl: string;
  /** Binance's REST base URL for depth snapshots; unused by venues that snapshot in the stream. */
  restUrl: string;
  /** Symbols in the trader's spelling (`BTCUSDT`, `BTCUSD`). */
  symbols: readonly string[];
  /** Book depth (Binance: REST snapshot limit; Kraken: subscription depth). @default 1000 */
  depthLimit?: number;
  /** Receives the events and snapshots. */
  sink: DataSink;
}

/**
 * The {@link DataClient} of a venue, connected through `manager` and delivering into `sink`. It connects at once;
 * `start()` subscribes. Throws `E_TRADER_INVALID_OPTION` when the manager has no exchange named after the venue
 * serving `wsUrl` (the connection's URL comes from the manager's configuration, so a mismatch would silently
 * read another feed).
 */
export function createDataClient(options: CreateDataClientOptions): DataClient {
  const { venue, manager, wsUrl, restUrl, symbols, depthLimit, sink } = options;
  if (!manager.exchanges.includes(venue)) {
    throw new TraderError('E_TRADER_INVALID_OPTION', `the ws-manager has no exchange named ${venue}`, {
      field: 'venue',
    });
  }
  const urls = endpointsOf(manager, venue);
  if (urls !== undefined && !urls.includes(wsUrl)) {
    throw new TraderError(
      'E_TRADER_INVALID_OPTION',
      `wsUrl ${wsUrl} is not an endpoint of the ws-manager's ${venue} exchange (${urls.join(', ')})`,
      { field: 'wsUrl' },
    );
  }
  switch (venue) {
    case 'binance':
      return new BinanceDataClient({ manager, restUrl, symbols, depthLimit, sink });
    case 'coinbase':
      return new CoinbaseDataClient({ manager, symbols, sink });
    case 'kraken':
      return new KrakenDataClient({ manager, symbols, depthLimit, sink });
    default: {
      const unknown: never = venue;
      throw new TraderError('E_TRADER_INVALID_OPTION', `unknown venue ${String(unknown)}`, { field: 'venue' });
    }
  }
}

/** The endpoint URLs the manager configures for `exchange` (from its stats), or undefined if they cannot be read. */
function endpointsOf(manager: WebSocketManager, exchange: string): string[] | undefined {
  const exchanges = manager.stats().exchanges as Record<string, { endpoints?: unknown }> | undefined;
  const endpoints = exchanges?.[exchange]?.endpoints;
  // Keyed by URL: ws-manager's stats() are plain objects all the way down.
  if (typeof endpoints !== 'object' || endpoints === null) return undefined;
  return Object.keys(endpoints);
}
