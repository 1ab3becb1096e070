import type { CacheManager } from '@cryptoscalp/cache';
import type { TradingEngine } from '../engine/trading-engine.js';

/**
 * Publishes the latest state to the cache every `intervalMs` (never on the market-data path): per symbol
 * `book:<SYMBOL>` (top 10) and `price:<SYMBOL>`, and `positions`, `pnl`, `risk`. Failures are counted, never thrown.
 */
export class StatePublisher {
  private timer: NodeJS.Timeout | undefined;
  private inFlight = false;
  readonly counters = { publishes: 0, failures: 0 };
  lastError: string | undefined;

  constructor(
    private readonly cache: CacheManager,
    private readonly engine: TradingEngine,
    private readonly intervalMs = 250,
  ) {}

  start(): void {
    this.timer = setInterval(() => void this.publish(), this.intervalMs);
    this.timer.unref();
  }

  /** Writes one snapshot of the state. */
  async publish(): Promise<void> {
    if (this.inFlight) return;
    this.inFlight = true;
    const ttl = Math.max(1000, this.intervalMs * 8);
    try {
      const entries: { key: string; value: unknown; ttl: number }[] = [];
      for (const [symbol, sync] of this.engine.books) {
        if (!sync.isSynced()) continue;
        const book = sync.book;
        const top = book.top(10);
        entries.push({
          key: `book:${symbol}`,
          value: { ...top, lastUpdateId: book.lastUpdateId, ts: Date.now() },
          ttl,
        });
        entries.push({
          key: `price:${symbol}`,
          value: { bid: book.bestBid(), ask: book.bestAsk(), mid: book.mid(), ts: Date.now() },
          ttl,
        });
      }
      entries.push({ key: 'positions', value: this.engine.portfolio.snapshots(), ttl });
      entries.push({ key: 'pnl', value: { ...this.engine.portfolio.totals(), ts: Date.now() }, ttl });
      entries.push({ key: 'risk', value: { state: this.engine.state, reason: this.engine.killSwitch.reason }, ttl });
      await this.cache.mset(entries);
      this.counters.publishes++;
      this.lastError = undefined;
    } catch (e) {
      this.counters.failures++;
      this.lastError = (e as Error).message;
    } finally {
      this.inFlight = false;
    }
  }

  /** Stops publishing; idempotent. */
  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}
