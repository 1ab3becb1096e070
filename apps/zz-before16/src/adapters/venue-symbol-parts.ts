import { TraderError } from '../errors.js';
import { splitSymbol } from '../model/symbols.js';
import type { Venue } from '../model/types.js';

/**
 * Base and quote of `symbol` (trader spelling) for building `venue`'s own name of it. Throws
 * `E_TRADER_INVALID_OPTION` (field `symbols`) when the quote is not a known currency: a venue that spells pairs with
 * a separator cannot guess where it goes, and a wrong guess would subscribe another market.
 */
export function venueSymbolParts(venue: Venue, symbol: string): { base: string; quote: string } {
  const parts = splitSymbol(symbol);
  if (parts === undefined) {
    throw new TraderError('E_TRADER_INVALID_OPTION', `${venue}: cannot tell the quote currency of ${symbol}`, {
      field: 'symbols',
    });
  }
  return parts;
}
