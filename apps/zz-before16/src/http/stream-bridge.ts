import type { LiveHub } from './streams.js';
import type { TraderEvent, TraderPort } from './trader-port.js';

/**
 * Routes the trader's live events to stream topics: `prices.<sym>`, `book.<sym>` (top `bookDepth` levels),
 * `fills`, `positions`, `pnl`, `alerts`. An event's `offset` (its position in the trader's durable log, when the
 * gateway received it from there) is passed to the hub. Returns the unsubscribe function. A failing publish is
 * counted, never thrown back into the trader.
 */
export function bridgeTraderEvents(
  trader: TraderPort,
  hub: LiveHub,
  bookDepth: number,
): { stop(): void; errors(): number } {
  let errors = 0;
  const listener = (e: TraderEvent): void => {
    const options = e.offset === undefined ? undefined : { offset: e.offset };
    try {
      switch (e.type) {
        case 'price':
          hub.publish(`prices.${e.symbol}`, e, options);
          break;
        case 'book':
          hub.publish(
            `book.${e.symbol}`,
            {
              type: 'book',
              symbol: e.symbol,
              bids: e.bids.length > bookDepth ? e.bids.slice(0, bookDepth) : e.bids,
              asks: e.asks.length > bookDepth ? e.asks.slice(0, bookDepth) : e.asks,
              ts: e.ts,
            },
            options,
          );
          break;
        case 'fill':
          hub.publish('fills', e.fill, options);
          break;
        case 'position':
          hub.publish('positions', e.position, options);
          break;
        case 'pnl':
          hub.publish('pnl', e.pnl, options);
          break;
        case 'alert':
          hub.publish('alerts', e.alert, options);
          break;
      }
    } catch {
      errors++;
    }
  };
  const unsubscribe = trader.subscribe(listener);
  return { stop: unsubscribe, errors: () => errors };
}
