import { Prng } from '../../internal/prng.js';
import { OrderBook } from '../../model/order-book.js';

/** Static description of a simulated instrument. */
export interface InstrumentSpec {
  symbol: string;
  /** Starting mid price. */
  price: number;
  tick: number;
  priceDecimals: number;
  qtyDecimals: number;
  /** Median size of a limit order, base units. */
  medianQty: number;
}

const KNOWN: Record<string, Omit<InstrumentSpec, 'symbol'>> = {
  BTCUSDT: { price: 60_000, tick: 0.1, priceDecimals: 1, qtyDecimals: 5, medianQty: 0.05 },
  ETHUSDT: { price: 3_000, tick: 0.01, priceDecimals: 2, qtyDecimals: 4, medianQty: 0.8 },
  SOLUSDT: { price: 150, tick: 0.01, priceDecimals: 2, qtyDecimals: 2, medianQty: 12 },
};

/** The instrument spec for a symbol (a generic one for symbols the table does not know). */
export function instrumentFor(symbol: string): InstrumentSpec {
  return { symbol, ...(KNOWN[symbol] ?? { price: 100, tick: 0.01, priceDecimals: 2, qtyDecimals: 3, medianQty: 5 }) };
}

/** A trade produced by the model. */
export interface ModelTrade {
  id: number;
  price: number;
  qty: number;
  /** True when the buyer was the maker (the aggressor sold), as Binance's `m`. */
  buyerIsMaker: boolean;
}

/** One flushed batch of level changes with Binance-style update ids. */
export interface ModelDiff {
  firstId: number;
  lastId: number;
  prevLastId: number;
  bids: [string, string][];
  asks: [string, string][];
}

const MAX_LEVELS = 200;
const MIN_LEVELS = 25;
/**
 * Longest stretch of simulated time one step covers. A stalled event loop (GC, a loaded machine) hands the model a
 * large `dtMs`; simulating it as one Poisson draw would sweep whole sides of the book in a single step.
 */
const MAX_STEP_MS = 100;

/**
 * The true book of one simulated instrument and its order flow: Poisson arrivals whose rate is modulated by a
 * calm/volatile regime and by self-excitation (bursts), limit adds (sometimes inside the spread, more so in the
 * wide-spread regime), cancels concentrated near the top, and market orders whose side follows a persistent
 * latent pressure plus the book imbalance (so imbalance and momentum carry a little information, as in real books).
 */
export class MarketModel {
  readonly spec: InstrumentSpec;
  readonly book: OrderBook;
  private readonly rng: Prng;
  private volatile = false;
  private wide = false;
  private excitation = 0;
  private pressure = 0;
  /** Last mid price in ticks while both sides had levels: where an emptied book is re-seeded. */
  private lastMidTicks: number;
  private updateId = 1_000_000;
  private lastSentId = 1_000_000;
  private tradeId = 1;
  private readonly changedBids = new Map<number, number>();
  private readonly changedAsks = new Map<number, number>();
  private readonly trades: ModelTrade[] = [];

  constructor(
    symbol: string,
    seed: number,
    private readonly eventsPerSecond: number,
  ) {
    this.spec = instrumentFor(symbol);
    this.rng = new Prng(seed);
    this.book = new OrderBook(symbol);
    const { tick, price } = this.spec;
    const mid = Math.round(price / tick);
    this.lastMidTicks = mid;
    for (let i = 0; i < 60; i++) {
      this.setLevel('bid', mid - 1 - i, this.rng.logNormal(this.spec.medianQty * (1 + i / 10), 0.7));
      this.setLevel('ask', mid + 1 + i, this.rng.logNormal(this.spec.medianQty * (1 + i / 10), 0.7));
    }
    this.changedBids.clear();
    this.changedAsks.clear();
    this.lastSentId = this.updateId;
    this.book.lastUpdateId = this.updateId;
  }

  /** Update id of the last diff handed out (the true book reflects exactly the diffs up to it). */
  get lastUpdateId(): number {
    return this.lastSentId;
  }

  /** Current regimes, for tests and the dashboard. */
  regime(): { volatile: boolean; wideSpread: boolean; excitation: number } {
    return { volatile: this.volatile, wideSpread: this.wide, excitation: this.excitation };
  }

  private px(ticks: number): number {
    return Number((ticks * this.spec.tick).toFixed(this.spec.priceDecimals));
  }

  private ticksOf(price: number): number {
    return Math.round(price / this.spec.tick);
  }

  private setLevel(side: 'bid' | 'ask', ticks: number, qty: number): void {
    const price = this.px(ticks);
    const q = Number(Math.max(0, qty).toFixed(this.spec.qtyDecimals));
    if (side === 'bid') {
      this.book.bids.set(price, q);
      this.changedBids.set(price, q);
    } else {
      this.book.asks.set(price, q);
      this.changedAsks.set(price, q);
    }
    this.updateId++;
  }

  private qtyAt(side: 'bid' | 'ask', price: number): number {
    const s = side === 'bid' ? this.book.bids : this.book.asks;
    const i = s.prices.indexOf(price);
    return i < 0 ? 0 : (s.qtys[i] as number);
  }

  /** Advances the model by `dtMs` of simulated time. */
  step(dtMs: number): void {
    for (let left = dtMs; left > 0; left -= MAX_STEP_MS) this.stepOnce(Math.min(left, MAX_STEP_MS));
  }

  private stepOnce(dtMs: number): void {
    const rng = this.rng;
    const dt = dtMs / 1000;
    if (rng.next() < dt / (this.volatile ? 3 : 12)) this.volatile = !this.volatile;
    if (rng.next() < dt / (this.wide ? 2 : 8)) this.wide = !this.wide;
    this.pressure = this.pressure * Math.exp(-dt / 2) + Math.sqrt(dt) * 0.6 * rng.normal();
    const rate = this.eventsPerSecond * (this.volatile ? 3 : 1) * (1 + this.excitation);
    const n = rng.poisson(rate * dt);
    this.excitation = Math.min(5, this.excitation * Math.exp(-dtMs / 150) + n * (this.volatile ? 0.03 : 0.01));
    for (let i = 0; i < n; i++) {
      const r = rng.next();
      if (r < 0.12) this.marketOrder();
      else if (r < 0.56) this.addLimit();
      else this.cancel();
    }
    this.replenish();
  }

  private imbalance(): number {
    let b = 0;
    let a = 0;
    for (let i = 0; i < 5; i++) {
      b += this.book.bids.qtys[i] ?? 0;
      a += this.book.asks.qtys[i] ?? 0;
    }
    return b + a === 0 ? 0 : (b - a) / (b + a);
  }

  private marketOrder(): void {
    const rng = this.rng;
    const pBuy = 1 / (1 + Math.exp(-(this.pressure + 1.5 * this.imbalance())));
    const buy = rng.next() < pBuy;
    let remaining = rng.logNormal(this.spec.medianQty * (this.volatile ? 3 : 1.5), 1);
    const side = buy ? this.book.asks : this.book.bids;
    while (remaining > 0 && side.prices.length > 0) {
      const price = side.prices[0] as number;
      const avail = side.qtys[0] as number;
      const take = Math.min(avail, remaining);
      const q = Number(take.toFixed(this.spec.qtyDecimals));
      if (q > 0) this.trades.push({ id: this.tradeId++, price, qty: q, buyerIsMaker: !buy });
      this.setLevel(buy ? 'ask' : 'bid', this.ticksOf(price), avail - take);
      remaining -= take;
      if (avail - take > 0) break;
    }
  }

  private addLimit(): void {
    const rng = this.rng;
    const pBid = 1 / (1 + Math.exp(-this.pressure));
    const bid = rng.next() < pBid;
    const bestBid = this.ticksOf(this.book.bestBid());
    const bestAsk = this.ticksOf(this.book.bestAsk());
    if (!Number.isFinite(bestBid) || !Number.isFinite(bestAsk)) return;
    const spread = bestAsk - bestBid;
    const qty = rng.logNormal(this.spec.medianQty, 0.8);
    let ticks: number;
    if (spread > 1 && rng.next() < (this.wide ? 0.15 : 0.45)) {
      ticks = bid ? bestBid + 1 : bestAsk - 1;
    } else {
      const k = Math.min(rng.geometric(0.25), 40);
      ticks = bid ? bestBid - k : bestAsk + k;
    }
    const side = bid ? 'bid' : 'ask';
    this.setLevel(side, ticks, this.qtyAt(side, this.px(ticks)) + qty);
  }

  private cancel(): void {
    const rng = this.rng;
    const bid = rng.next() < 0.5;
    const s = bid ? this.book.bids : this.book.asks;
    if (s.prices.length <= MIN_LEVELS) return;
    const i = Math.min(rng.geometric(this.wide ? 0.5 : 0.2), s.prices.length - 1);
    const price = s.prices[i] as number;
    const qty = s.qtys[i] as number;
    const full = this.wide && i === 0 ? rng.next() < 0.7 : rng.next() < 0.35;
    this.setLevel(bid ? 'bid' : 'ask', this.ticksOf(price), full ? 0 : qty * (1 - rng.next() * 0.7));
  }

  private replenish(): void {
    const rng = this.rng;
    const bids = this.book.bids;
    const asks = this.book.asks;
    if (bids.prices.length > 0 && asks.prices.length > 0) {
      this.lastMidTicks = Math.round((this.ticksOf(this.book.bestBid()) + this.ticksOf(this.book.bestAsk())) / 2);
    } else if (bids.prices.length === 0 && asks.prices.length === 0) {
      // Both sides swept: re-seed around the last mid rather than from a side that no longer exists.
      this.setLevel('bid', this.lastMidTicks - 1, this.lot(this.spec.medianQty * 3));
      this.setLevel('ask', this.lastMidTicks + 1, this.lot(this.spec.medianQty * 3));
    }
    if (bids.prices.length === 0 && asks.prices.length > 0) {
      this.setLevel('bid', this.ticksOf(this.book.bestAsk()) - 1, this.lot(this.spec.medianQty));
    }
    if (asks.prices.length === 0 && bids.prices.length > 0) {
      this.setLevel('ask', this.ticksOf(this.book.bestBid()) + 1, this.lot(this.spec.medianQty));
    }
    // Each pass adds one level strictly beyond the worst with at least one lot, so these loops end.
    while (bids.prices.length < MIN_LEVELS) {
      const worst = this.ticksOf(bids.prices[bids.prices.length - 1] as number);
      this.setLevel('bid', worst - 1 - rng.geometric(0.5), this.lot(this.spec.medianQty * 3));
    }
    while (asks.prices.length < MIN_LEVELS) {
      const worst = this.ticksOf(asks.prices[asks.prices.length - 1] as number);
      this.setLevel('ask', worst + 1 + rng.geometric(0.5), this.lot(this.spec.medianQty * 3));
    }
    // Bound memory: far levels leave the book (and the diff), as on a venue that publishes limited depth. The worst
    // level is popped directly, not looked up by a price recomputed from ticks, so the loop always ends.
    while (bids.prices.length > MAX_LEVELS) this.removeWorst('bid');
    while (asks.prices.length > MAX_LEVELS) this.removeWorst('ask');
  }

  private removeWorst(side: 'bid' | 'ask'): void {
    const s = side === 'bid' ? this.book.bids : this.book.asks;
    const price = s.prices.pop() as number;
    s.qtys.pop();
    (side === 'bid' ? this.changedBids : this.changedAsks).set(price, 0);
    this.updateId++;
  }

  /** A limit order's size: log-normal around `median`, never below one lot, never non-finite. */
  private lot(median: number): number {
    const q = this.rng.logNormal(median, 0.5);
    const min = 10 ** -this.spec.qtyDecimals;
    return Number.isFinite(q) ? Math.max(q, min) : median;
  }

  /** Takes the trades generated since the last call. */
  takeTrades(): ModelTrade[] {
    return this.trades.splice(0, this.trades.length);
  }

  /** Takes the level changes since the last call as one diff (undefined when nothing changed). */
  takeDiff(): ModelDiff | undefined {
    if (this.changedBids.size === 0 && this.changedAsks.size === 0) return undefined;
    const pd = this.spec.priceDecimals;
    const qd = this.spec.qtyDecimals;
    const bids: [string, string][] = [];
    const asks: [string, string][] = [];
    for (const [p, q] of this.changedBids) bids.push([p.toFixed(pd), q.toFixed(qd)]);
    for (const [p, q] of this.changedAsks) asks.push([p.toFixed(pd), q.toFixed(qd)]);
    this.changedBids.clear();
    this.changedAsks.clear();
    const prevLastId = this.lastSentId;
    const diff = { firstId: prevLastId + 1, lastId: this.updateId, prevLastId, bids, asks };
    this.lastSentId = this.updateId;
    this.book.lastUpdateId = this.updateId;
    return diff;
  }

  /** A REST depth snapshot of the true book as Binance returns it. */
  snapshot(limit: number): { lastUpdateId: number; bids: [string, string][]; asks: [string, string][] } {
    const pd = this.spec.priceDecimals;
    const qd = this.spec.qtyDecimals;
    const top = this.book.top(limit);
    return {
      lastUpdateId: this.lastSentId,
      bids: top.bids.map(([p, q]) => [p.toFixed(pd), q.toFixed(qd)]),
      asks: top.asks.map(([p, q]) => [p.toFixed(pd), q.toFixed(qd)]),
    };
  }
}
