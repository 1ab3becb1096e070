/**
 * Symbol spelling. The trader names a symbol the way Binance does, upper case without a separator (`BTCUSDT`,
 * `BTCUSD`): configuration, books and events all use that form. Venues that separate base and quote (Coinbase
 * `BTC-USD`, Kraken `XBT/USD`) are translated at their data client.
 */

/** Quote currencies recognized when splitting a symbol, longest first so `USDT` wins over `USD`. */
const QUOTES = [
  'USDT',
  'USDC',
  'FDUSD',
  'TUSD',
  'BUSD',
  'DAI',
  'USD',
  'EUR',
  'GBP',
  'JPY',
  'CAD',
  'AUD',
  'CHF',
  'BTC',
  'ETH',
].sort((a, b) => b.length - a.length);

/** Kraken's legacy asset codes and the common ones they stand for. */
const KRAKEN_ASSETS: Readonly<Record<string, string>> = { XBT: 'BTC', XDG: 'DOGE' };

/** The trader's spelling of a venue symbol: upper case, separators removed, Kraken's `XBT`/`XDG` as `BTC`/`DOGE`. */
export function normalizeSymbol(raw: string): string {
  const parts = raw.toUpperCase().split(/[^A-Z0-9]+/);
  if (parts.length === 2) return (KRAKEN_ASSETS[parts[0] as string] ?? parts[0]) + (parts[1] as string);
  const s = parts.join('');
  for (const [legacy, common] of Object.entries(KRAKEN_ASSETS)) if (s.startsWith(legacy)) return common + s.slice(3);
  return s;
}

/** Base and quote of a symbol in the trader's spelling, or undefined when the quote is not a known currency. */
export function splitSymbol(symbol: string): { base: string; quote: string } | undefined {
  for (const quote of QUOTES) {
    if (symbol.length > quote.length && symbol.endsWith(quote)) {
      return { base: symbol.slice(0, -quote.length), quote };
    }
  }
  return undefined;
}
