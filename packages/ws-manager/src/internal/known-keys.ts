import { invalidOption } from '../errors.js';

/**
 * Throws `E_WS_INVALID_OPTION` naming the first key of `options` not in `known`
 * (`prefix` + key, e.g. `exchanges.binance.limit`), so a misspelt option fails at construction
 * instead of silently keeping its default. Same shape in every package of the suite.
 */
export function checkKnownKeys(options: object, known: readonly string[], prefix = ''): void {
  for (const key of Object.keys(options)) {
    if (!known.includes(key)) throw invalidOption(prefix + key, 'unknown option');
  }
}
