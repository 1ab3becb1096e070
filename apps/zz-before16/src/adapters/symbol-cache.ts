import { normalizeSymbol } from '../model/symbols.js';

/**
 * A venue's market names (`BTC-USD`, `XBT/USD`) to the trader's symbols, memoized: every frame names its market, and
 * re-spelling it each time would allocate on the hot path.
 */
export class SymbolCache {
  private readonly symbols = new Map<string, string>();

  /** The trader's symbol of the venue's market name `name`. */
  symbolOf(name: string): string {
    let s = this.symbols.get(name);
    if (s === undefined) {
      s = normalizeSymbol(name);
      this.symbols.set(name, s);
    }
    return s;
  }
}
