import { asObject, malformed, toLevels, toNum } from '../../internal/parse.js';
import type { BookSnapshot, MarketEvent } from '../../model/types.js';

const VENUE = 'binance' as const;

/**
 * One Binance event object (the `data` of a combined-stream frame): `depthUpdate` diffs (`U`, `u`, optional `pu`,
 * `E`, `b`, `a`) and `trade` events (`m`: the buyer is the maker, so the aggressor sold). `undefined` for control
 * frames and event types the trader does not use. Stateless: ordering and gaps are ws-manager's job, configured by
 * `BinanceDataClient`. Throws `E_TRADER_MALFORMED` for a frame it cannot read.
 */
export function parseBinanceEvent(data: Record<string, unknown>): MarketEvent | undefined {
  switch (data.e) {
    case 'depthUpdate': {
      if (typeof data.s !== 'string') malformed(VENUE, 'depthUpdate without s');
      const bids = toLevels(VENUE, data.b, 'b');
      const asks = toLevels(VENUE, data.a, 'a');
      const firstSeq = toNum(VENUE, data.U, 'U');
      const lastSeq = toNum(VENUE, data.u, 'u');
      const exchTs = toNum(VENUE, data.E, 'E');
      // Two literals rather than a spread: one allocation per diff, and `prevSeq` absent (not undefined) on spot.
      return data.pu === undefined
        ? { kind: 'book', venue: VENUE, symbol: data.s, snapshot: false, bids, asks, firstSeq, lastSeq, exchTs }
        : {
            kind: 'book',
            venue: VENUE,
            symbol: data.s,
            snapshot: false,
            bids,
            asks,
            firstSeq,
            lastSeq,
            prevSeq: toNum(VENUE, data.pu, 'pu'),
            exchTs,
          };
    }
    case 'trade':
    case 'aggTrade':
      if (typeof data.s !== 'string') malformed(VENUE, 'trade without s');
      return {
        kind: 'trade',
        venue: VENUE,
        symbol: data.s,
        price: toNum(VENUE, data.p, 'p'),
        qty: toNum(VENUE, data.q, 'q'),
        side: data.m === true ? 'sell' : 'buy',
        tradeId: String(data.t ?? data.a),
        exchTs: toNum(VENUE, data.T ?? data.E, 'T'),
      };
    default:
      // Subscription acks ({"result":null,"id":1}) and event types we do not use.
      if ('result' in data || 'id' in data || typeof data.e === 'string') return undefined;
      return malformed(VENUE, 'unknown frame');
  }
}

/** Parses a `GET /api/v3/depth` response body. */
export function parseBinanceSnapshot(body: unknown): BookSnapshot {
  const o = asObject(VENUE, body, 'snapshot');
  return {
    lastUpdateId: toNum(VENUE, o.lastUpdateId, 'lastUpdateId'),
    bids: toLevels(VENUE, o.bids, 'bids'),
    asks: toLevels(VENUE, o.asks, 'asks'),
  };
}
