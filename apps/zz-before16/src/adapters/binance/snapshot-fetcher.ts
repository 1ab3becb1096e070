import { TraderError } from '../../errors.js';
import type { BookSnapshot } from '../../model/types.js';
import { parseBinanceSnapshot } from './binance-parser.js';

/**
 * Fetches Binance REST depth snapshots (`GET <restUrl>/api/v3/depth?symbol=&limit=`), one request in flight per
 * symbol (concurrent callers share it), with a timeout.
 */
export class SnapshotFetcher {
  private readonly inflight = new Map<string, Promise<BookSnapshot>>();
  /** Snapshots fetched and failures. */
  readonly counters = { fetched: 0, failed: 0 };

  constructor(
    private readonly restUrl: string,
    private readonly limit = 1000,
    private readonly timeoutMs = 5000,
  ) {}

  fetch(symbol: string, signal?: AbortSignal): Promise<BookSnapshot> {
    const existing = this.inflight.get(symbol);
    if (existing) return existing;
    const p = this.doFetch(symbol, signal).finally(() => this.inflight.delete(symbol));
    this.inflight.set(symbol, p);
    return p;
  }

  private async doFetch(symbol: string, signal?: AbortSignal): Promise<BookSnapshot> {
    const url = `${this.restUrl}/api/v3/depth?symbol=${encodeURIComponent(symbol)}&limit=${this.limit}`;
    const timeout = AbortSignal.timeout(this.timeoutMs);
    try {
      const res = await fetch(url, { signal: signal ? AbortSignal.any([signal, timeout]) : timeout });
      if (!res.ok) throw new TraderError('E_TRADER_MALFORMED', `snapshot ${symbol}: HTTP ${res.status}`);
      const snap = parseBinanceSnapshot(await res.json());
      this.counters.fetched++;
      return snap;
    } catch (e) {
      this.counters.failed++;
      throw e;
    }
  }
}
