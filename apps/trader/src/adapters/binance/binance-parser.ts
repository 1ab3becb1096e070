import { asObject, malformed, parseJson, toLevels, toNum } from '../../internal/parse.js';
import type { MarketEvent } from '../../model/types.js';
import type { DepthSnapshot } from './binance-book-sync.js';
import type { VenueAdapter } from '../venue-adapter.js';

const VENUE = 'binance' as const;

/**
 * Binance public market data: combined streams (`{"stream": "...", "data": {...}}`) or raw streams,
 * `depthUpdate` diffs (`U`, `u`, optional `pu`, `E`, `b`, `a`) and `trade` events (`m`: buyer is maker,
 * so the aggressor sold). Stateless: sequencing is {@link BinanceBookSync}'s job.
 */
export class BinanceAdapter implements VenueAdapter {
  readonly venue = VENUE;

  parse(raw: string): MarketEvent[] {
    const msg = asObject(VENUE, parseJson(VENUE, raw), 'frame');
    const data = msg.data !== undefined && typeof msg.stream === 'string' ? asObject(VENUE, msg.data, 'data') : msg;
    const ev = parseBinanceEvent(data);
    return ev === undefined ? [] : [ev];
  }

  reset(): void {}
}

/** One Binance event object (the `data` of a combined stream frame); `undefined` for control frames. */
export function parseBinanceEvent(data: Record<string, unknown>): MarketEvent | undefined {
  switch (data.e) {
    case 'depthUpdate': {
      if (typeof data.s !== 'string') malformed(VENUE, 'depthUpdate without s');
      const ev = {
        kind: 'book' as const,
        venue: VENUE,
        symbol: data.s,
        snapshot: false,
        bids: toLevels(VENUE, data.b, 'b'),
        asks: toLevels(VENUE, data.a, 'a'),
        firstSeq: toNum(VENUE, data.U, 'U'),
        lastSeq: toNum(VENUE, data.u, 'u'),
        exchTs: toNum(VENUE, data.E, 'E'),
      };
      return data.pu === undefined ? ev : { ...ev, prevSeq: toNum(VENUE, data.pu, 'pu') };
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
export function parseBinanceSnapshot(body: unknown): DepthSnapshot {
  const o = asObject(VENUE, body, 'snapshot');
  return {
    lastUpdateId: toNum(VENUE, o.lastUpdateId, 'lastUpdateId'),
    bids: toLevels(VENUE, o.bids, 'bids') as [number, number][],
    asks: toLevels(VENUE, o.asks, 'asks') as [number, number][],
  };
}
