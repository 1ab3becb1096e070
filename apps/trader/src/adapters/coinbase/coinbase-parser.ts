import { asObject, malformed, parseJson, toNum } from '../../internal/parse.js';
import type { Level, MarketEvent, Side } from '../../model/types.js';
import { normalizeSymbol, type VenueAdapter } from '../venue-adapter.js';

const VENUE = 'coinbase' as const;

/**
 * Coinbase public market data in both documented formats:
 * - Advanced Trade WebSocket: envelopes `{channel, timestamp, sequence_num, events}` on the `l2_data`
 *   (snapshot/update with `side: bid|offer`, `price_level`, `new_quantity`) and `market_trades` channels.
 *   `sequence_num` is per connection; a jump is a gap for every book of the connection.
 * - Exchange feed `level2`: `snapshot` and `l2update` (`changes: [side, price, size]`), and `match` trades
 *   (whose `side` is the maker's, so the aggressor is the other side); `match` carries `sequence`.
 */
export class CoinbaseAdapter implements VenueAdapter {
  readonly venue = VENUE;
  private lastSequenceNum: number | undefined;
  private readonly seqBySymbol = new Map<string, number>();

  reset(): void {
    this.lastSequenceNum = undefined;
    this.seqBySymbol.clear();
  }

  private nextSeq(symbol: string): number {
    const n = (this.seqBySymbol.get(symbol) ?? 0) + 1;
    this.seqBySymbol.set(symbol, n);
    return n;
  }

  parse(raw: string): MarketEvent[] {
    const msg = asObject(VENUE, parseJson(VENUE, raw), 'frame');
    if (typeof msg.channel === 'string') return this.parseAdvanced(msg);
    return this.parseExchange(msg);
  }

  private parseAdvanced(msg: Record<string, unknown>): MarketEvent[] {
    const out: MarketEvent[] = [];
    if (msg.sequence_num !== undefined) {
      const seq = toNum(VENUE, msg.sequence_num, 'sequence_num');
      if (this.lastSequenceNum !== undefined && seq !== this.lastSequenceNum + 1) {
        if (seq <= this.lastSequenceNum) return out; // duplicate or replay: already seen
        out.push({ kind: 'gap', venue: VENUE, reason: `sequence_num ${this.lastSequenceNum} -> ${seq}` });
      }
      this.lastSequenceNum = seq;
    }
    const ts = typeof msg.timestamp === 'string' ? Date.parse(msg.timestamp) : Date.now();
    if (msg.channel !== 'l2_data' && msg.channel !== 'market_trades') return out; // heartbeats, subscriptions
    if (!Array.isArray(msg.events)) malformed(VENUE, 'events is not an array');
    for (const e of msg.events) {
      const event = asObject(VENUE, e, 'event');
      if (msg.channel === 'l2_data') {
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
        const symbol = normalizeSymbol(event.product_id);
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
      } else {
        if (!Array.isArray(event.trades)) malformed(VENUE, 'trades is not an array');
        for (const t of event.trades) {
          const trade = asObject(VENUE, t, 'trade');
          if (typeof trade.product_id !== 'string') malformed(VENUE, 'trade without product_id');
          out.push({
            kind: 'trade',
            venue: VENUE,
            symbol: normalizeSymbol(trade.product_id),
            price: toNum(VENUE, trade.price, 'price'),
            qty: toNum(VENUE, trade.size, 'size'),
            side: trade.side === 'SELL' ? 'sell' : 'buy',
            tradeId: String(trade.trade_id),
            exchTs: typeof trade.time === 'string' ? Date.parse(trade.time) : ts,
          });
        }
      }
    }
    return out;
  }

  private parseExchange(msg: Record<string, unknown>): MarketEvent[] {
    switch (msg.type) {
      case 'snapshot':
      case 'l2update': {
        if (typeof msg.product_id !== 'string') malformed(VENUE, `${msg.type} without product_id`);
        const symbol = normalizeSymbol(msg.product_id);
        let bids: Level[] = [];
        let asks: Level[] = [];
        if (msg.type === 'snapshot') {
          bids = levels(msg.bids, 'bids');
          asks = levels(msg.asks, 'asks');
        } else {
          if (!Array.isArray(msg.changes)) malformed(VENUE, 'changes is not an array');
          for (const c of msg.changes) {
            if (!Array.isArray(c) || c.length < 3) malformed(VENUE, 'change is not [side, price, size]');
            const level: Level = [toNum(VENUE, c[1], 'price'), toNum(VENUE, c[2], 'size')];
            if (c[0] === 'buy') bids.push(level);
            else if (c[0] === 'sell') asks.push(level);
            else malformed(VENUE, `unknown side ${String(c[0])}`);
          }
        }
        const seq = this.nextSeq(symbol);
        return [
          {
            kind: 'book',
            venue: VENUE,
            symbol,
            snapshot: msg.type === 'snapshot',
            bids,
            asks,
            firstSeq: seq,
            lastSeq: seq,
            exchTs: typeof msg.time === 'string' ? Date.parse(msg.time) : Date.now(),
          },
        ];
      }
      case 'match':
      case 'last_match': {
        if (typeof msg.product_id !== 'string') malformed(VENUE, 'match without product_id');
        const makerSide = msg.side as Side;
        return [
          {
            kind: 'trade',
            venue: VENUE,
            symbol: normalizeSymbol(msg.product_id),
            price: toNum(VENUE, msg.price, 'price'),
            qty: toNum(VENUE, msg.size, 'size'),
            side: makerSide === 'buy' ? 'sell' : 'buy',
            tradeId: String(msg.trade_id),
            exchTs: typeof msg.time === 'string' ? Date.parse(msg.time) : Date.now(),
          },
        ];
      }
      case 'subscriptions':
      case 'heartbeat':
        return [];
      case 'error':
        return malformed(VENUE, `error frame: ${String(msg.message)}`);
      default:
        return malformed(VENUE, `unknown type ${String(msg.type)}`);
    }
  }
}

function levels(v: unknown, what: string): Level[] {
  if (!Array.isArray(v)) malformed(VENUE, `${what} is not an array`);
  return v.map((l, i) => {
    if (!Array.isArray(l) || l.length < 2) malformed(VENUE, `${what}[${i}] is not a level`);
    return [toNum(VENUE, l[0], 'price'), toNum(VENUE, l[1], 'size')] as Level;
  });
}
