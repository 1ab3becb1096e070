import type { OrderBook } from '../model/order-book.js';

/** Number of features {@link computeFeatures} writes. */
export const FEATURE_COUNT = 5;

/**
 * Order-book features, written into `out` (no allocation):
 * 0 top-of-book imbalance, 1 depth-5 imbalance, 2 micro-price offset from mid in spreads,
 * 3 short-horizon momentum (mid change over the EWMA, in spreads), 4 spread in ticks-ish units (log).
 * Returns false when the book cannot produce features (a side empty).
 */
export function computeFeatures(book: OrderBook, momentum: number, out: Float64Array): boolean {
  const bb = book.bids.prices[0];
  const ba = book.asks.prices[0];
  const bq = book.bids.qtys[0];
  const aq = book.asks.qtys[0];
  if (bb === undefined || ba === undefined || bq === undefined || aq === undefined || ba <= bb) return false;
  const spread = ba - bb;
  const mid = (ba + bb) / 2;
  out[0] = (bq - aq) / (bq + aq);
  let b5 = 0;
  let a5 = 0;
  for (let i = 0; i < 5; i++) {
    b5 += book.bids.qtys[i] ?? 0;
    a5 += book.asks.qtys[i] ?? 0;
  }
  out[1] = (b5 - a5) / (b5 + a5);
  const micro = (bb * aq + ba * bq) / (bq + aq);
  out[2] = (micro - mid) / spread;
  out[3] = Math.max(-5, Math.min(5, momentum / spread));
  out[4] = Math.log1p((spread / mid) * 1e4);
  return true;
}
