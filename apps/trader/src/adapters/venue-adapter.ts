import type { MarketEvent, Venue } from '../model/types.js';

/**
 * Turns one venue's raw WebSocket frames into normalized {@link MarketEvent}s. One instance per connection:
 * adapters keep the per-connection state their venue's rules need (sequence numbers, checksum books).
 * `parse` throws a `TraderError` with code `E_TRADER_MALFORMED` for frames it cannot read; control frames
 * (subscription acks, heartbeats) return `[]`.
 */
export interface VenueAdapter {
  readonly venue: Venue;
  parse(raw: string): MarketEvent[];
  /** Forgets per-connection state (after a reconnect). */
  reset(): void;
}

/** Upper-case symbol without separators, with Kraken's XBT spelled BTC: `XBT/USD` -> `BTCUSD`. */
export function normalizeSymbol(raw: string): string {
  const s = raw.toUpperCase().replace(/[^A-Z0-9]/g, '');
  return s.startsWith('XBT') ? `BTC${s.slice(3)}` : s;
}
