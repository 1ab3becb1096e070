import { asObject, malformed, toNum } from '../../internal/parse.js';
import type { Level, MarketEvent } from '../../model/types.js';
import { SymbolCache } from '../symbol-cache.js';
import { venueSymbolParts } from '../venue-symbol-parts.js';

const VENUE = 'coinbase' as const;

/** Coinbase's product id of a symbol in the trader's spelling: `BTCUSD` -> `BTC-USD`. */
export function coinbaseProductId(symbol: string): string {
  const parts = venueSymbolParts(VENUE, symbol);
  return `${parts.base}-${parts.quote}`;
}

/**
 * Coinbase Advanced Trade WebSocket market data, already decoded: envelopes `{channel, timestamp, sequence_num,
 * events}` on the `l2_data` channel (`snapshot`/`update` events with `side: bid|offer`, `price_level`, `new_quantity`)
 * and the `market_trades` channel; other channels (`subscriptions`, `heartbeats`) carry nothing for the books.
 * `sequence_num` is checked by ws-manager, not here (`CoinbaseDataClient`). Each book event gets a per-book counter
 * as its sequence, so a book's `lastUpdateId` only grows. Throws `E_TRADER_MALFORMED` for a frame it cannot read.
 */
export class CoinbaseParser {
  private readonly seqBySymbol = new Map<string, number>();
  /** Product id -> trader symbol. */
  private readonly symbols = new SymbolCache();

  private nextSeq(symbol: string): number {
    const n = (this.seqBySymbol.get(symbol) ?? 0) + 1;
    this.seqBySymbol.set(symbol, n);
    return n;
  }

  /** Parses one decoded envelope, appending its normalized events to `out`. */
  parse(msg: Record<string, unknown>, out: MarketEvent[]): void {
    const channel = msg.channel;
    if (channel !== 'l2_data' && channel !== 'market_trades') return;
    if (!Array.isArray(msg.events)) malformed(VENUE, 'events is not an array');
    const ts = typeof msg.timestamp === 'string' ? Date.parse(msg.timestamp) : Date.now();
    for (const e of msg.events) {
      const event = asObject(VENUE, e, 'event');
      if (channel === 'l2_data') this.parseBook(event, ts, out);
      else this.parseTrades(event, ts, out);
    }
  }

  private parseBook(event: Record<string, unknown>, ts: number, out: MarketEvent[]): void {
    if (typeof event.product_id !== 'string') malformed(VENUE, 'l2_data event without product_id');
    if (!Array.isArray(event.updates)) malformed(VENUE, 'updates is not an array');
    const bids: Level[] = [];
    const asks: Level[] = [];
    for (const u of event.updates) {
      const upd = asObject(VENUE, u, 'update');
      const level: Level = [
        toNum(VENUE, upd.price_level, 'price_level'),
        toNum(VENUE, upd.new_quantity, 'new_quantity'),
      ];
      if (upd.side === 'bid') bids.push(level);
      else if (upd.side === 'offer' || upd.side === 'ask') asks.push(level);
      else malformed(VENUE, `unknown side ${String(upd.side)}`);
    }
    const symbol = this.symbols.symbolOf(event.product_id);
    const seq = this.nextSeq(symbol);
    out.push({
      kind: 'book',
      venue: VENUE,
      symbol,
      snapshot: event.type === 'snapshot',
      bids,
      asks,
      firstSeq: seq,
      lastSeq: seq,
      exchTs: ts,
    });
  }

  private parseTrades(event: Record<string, unknown>, ts: number, out: MarketEvent[]): void {
    if (!Array.isArray(event.trades)) malformed(VENUE, 'trades is not an array');
    for (const t of event.trades) {
      const trade = asObject(VENUE, t, 'trade');
      if (typeof trade.product_id !== 'string') malformed(VENUE, 'trade without product_id');
      out.push({
        kind: 'trade',
        venue: VENUE,
        symbol: this.symbols.symbolOf(trade.product_id),
        price: toNum(VENUE, trade.price, 'price'),
        qty: toNum(VENUE, trade.size, 'size'),
        side: trade.side === 'SELL' ? 'sell' : 'buy',
        tradeId: String(trade.trade_id),
        exchTs: typeof trade.time === 'string' ? Date.parse(trade.time) : ts,
      });
    }
  }
}
