import { MarketModel } from '../adapters/sim/market-model.js';
import { TraderError } from '../errors.js';
import type { Level } from '../model/types.js';
import { MarketRecorder, type MarketRecorderStats } from './market-recorder.js';
import type { RecordingFormat } from './recording-format.js';

/** Options of {@link recordSimulatedMarket}. */
export interface SimulatedRecordingOptions {
  /** Where the recording goes (`<dir>/binance/<symbol>/<day>.csrb`, or `.jsonl.gz` with `format: 'jsonl'`). */
  dir: string;
  /** The file format. @default 'binary' */
  format?: RecordingFormat;
  symbols: readonly string[];
  /** Simulated minutes to record. */
  minutes: number;
  /** PRNG seed of the market models (each symbol's model is seeded as the exchange simulator seeds it). */
  seed: number;
  /** Simulated start, epoch ms. @default 2026-01-05T00:00:00Z */
  start?: number;
  /** Generation tick (one depth diff per symbol per tick at most), as `simulator.tickMs`. @default 10 */
  tickMs?: number;
  /** Mean order-flow events per symbol per second (calm regime), as `simulator.eventsPerSecond`. @default 200 */
  eventsPerSecond?: number;
  /** Levels per side of the opening snapshot. @default 1000 */
  depthLimit?: number;
  /** Simulated one-way network latency added to the venue time to give the receive time. @default 0.25 */
  networkMs?: number;
}

const levels = (side: [string, string][]): Level[] => side.map(([p, q]) => [Number(p), Number(q)] as const);

/**
 * Records the built-in simulator's market (the same {@link MarketModel}s and seeds as `ExchangeSimulator`) in
 * simulated time, as fast as the CPU allows: an opening snapshot per symbol, then every tick's trades and depth
 * diff as the Binance data client would normalize them. The same seed gives the same files.
 */
export async function recordSimulatedMarket(options: SimulatedRecordingOptions): Promise<MarketRecorderStats> {
  const tickMs = options.tickMs ?? 10;
  const start = options.start ?? Date.parse('2026-01-05T00:00:00Z');
  const net = options.networkMs ?? 0.25;
  if (!(options.minutes > 0)) {
    throw new TraderError('E_TRADER_INVALID_OPTION', 'minutes must be > 0', { field: 'minutes' });
  }
  const models = options.symbols.map(
    (s, i) => new MarketModel(s, options.seed + i * 7919, options.eventsPerSecond ?? 200),
  );
  const recorder = new MarketRecorder({
    dir: options.dir,
    symbols: options.symbols,
    format: options.format ?? 'binary',
  });
  for (const m of models) {
    const snap = m.snapshot(options.depthLimit ?? 1000);
    recorder.push({
      t: start + net,
      venue: 'binance',
      symbol: m.spec.symbol,
      snap: { lastUpdateId: snap.lastUpdateId, bids: levels(snap.bids), asks: levels(snap.asks) },
      force: false,
    });
  }
  const ticks = Math.round((options.minutes * 60_000) / tickMs);
  for (let k = 1; k <= ticks; k++) {
    const exchTs = start + k * tickMs;
    const t = exchTs + net;
    for (const m of models) {
      m.step(tickMs);
      const symbol = m.spec.symbol;
      for (const tr of m.takeTrades()) {
        const ev = {
          kind: 'trade',
          venue: 'binance',
          symbol,
          price: Number(tr.price.toFixed(m.spec.priceDecimals)),
          qty: Number(tr.qty.toFixed(m.spec.qtyDecimals)),
          side: tr.buyerIsMaker ? 'sell' : 'buy',
          tradeId: String(tr.id),
          exchTs,
        } as const;
        recorder.push({ t, x: exchTs, ev });
      }
      const d = m.takeDiff();
      if (d === undefined) continue;
      recorder.push({
        t,
        x: exchTs,
        ev: {
          kind: 'book',
          venue: 'binance',
          symbol,
          snapshot: false,
          bids: levels(d.bids),
          asks: levels(d.asks),
          firstSeq: d.firstId,
          lastSeq: d.lastId,
          prevSeq: d.prevLastId,
          exchTs,
        },
      });
    }
    // One gzip member per simulated 10 s keeps memory flat and the files like a live recorder's.
    if (k % Math.max(1, Math.round(10_000 / tickMs)) === 0) await recorder.flush();
  }
  await recorder.close();
  return recorder.stats();
}
