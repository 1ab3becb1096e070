// Restart time against journal history: the engine's start (open the journal, build the engine, replay) on a journal
// of N entries, one file (journal.segmentBytes 0: the behaviour before segments, everything replayed) against
// segments (the default 64 MiB: a start replays from the last segment's snapshot entry). Method: each journal is
// written by a real TradingEngine (paper-like venue that acknowledges and fills every order at once: order.submitted,
// order.accepted, fill per order, two symbols, fsync never), then the start is timed RUNS times in this process
// (median, min). Same machine, same run, same entries.
// Run: npx tsx apps/trader/bench/journal-restart.ts   (BENCH_SIZES=100000,1000000  BENCH_RUNS=3  BENCH_SEGMENT_MB=64)
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../src/config/load-config.js';
import { TradingEngine } from '../src/engine/trading-engine.js';
import { Journal, listSegments } from '../src/journal/journal.js';
import type { ExecutionClient, ExecutionEvent } from '../src/model/execution-client.js';
import type { Order } from '../src/model/types.js';
import type { Strategy } from '../src/strategy/strategy.js';

const SIZES = (process.env.BENCH_SIZES ?? '100000,1000000').split(',').map(Number);
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const SEGMENT_BYTES = Number(process.env.BENCH_SEGMENT_MB ?? 64) * 1024 * 1024;

const config = loadConfig({
  env: {},
  overrides: {
    symbols: ['BTCUSDT', 'ETHUSDT'],
    instanceId: 'bench',
    risk: { maxOrdersPerSecond: 1e6, maxPositionNotional: 1e15, maxNotionalPerOrder: 1e15 },
  },
});
const idle: Strategy = { name: 'idle', onBook: () => undefined, stats: () => ({}) };

function instantVenue(): ExecutionClient {
  const listeners: ((e: ExecutionEvent) => void)[] = [];
  let n = 0;
  const emit = (e: ExecutionEvent) => {
    for (const l of listeners) l(e);
  };
  return {
    name: 'instant',
    venueStateSurvivesRestart: true,
    submit(o: Readonly<Order>) {
      n++;
      emit({ type: 'accepted', clientOrderId: o.clientOrderId, ts: Date.now() });
      emit({
        type: 'fill',
        fill: {
          fillId: `${o.clientOrderId}-1`,
          clientOrderId: o.clientOrderId,
          symbol: o.symbol,
          side: o.side,
          price: 100 + (n % 13) / 10,
          qty: o.qty,
          fee: 0.004,
          liquidity: 'maker',
          ts: Date.now(),
        },
      } as ExecutionEvent);
    },
    cancel() {},
    onEvent(l) {
      listeners.push(l);
    },
    reconcile() {},
    close: async () => {},
  };
}

/** Writes about `entries` entries through a real engine; returns the orders (each filled once). */
async function write(path: string, entries: number, segmentBytes: number): Promise<number> {
  const { journal } = Journal.open(path, { fsync: 'never', segmentBytes });
  const engine = new TradingEngine({ config, journal, strategy: idle, execution: instantVenue() });
  engine.replay([]);
  for (const s of config.symbols) engine.onSnapshot(s, { lastUpdateId: 1, bids: [[99, 1e9]], asks: [[101, 1e9]] });
  let orders = 0;
  for (let i = 0; journal.lastSeq < entries; i++) {
    orders++;
    engine.submit({
      symbol: i % 2 === 0 ? 'BTCUSDT' : 'ETHUSDT',
      side: i % 4 < 2 ? 'buy' : 'sell',
      type: 'limit',
      qty: 0.01 + (i % 5) / 100,
      price: 100,
      reason: 'p=0.612',
    });
  }
  await engine.close();
  journal.close();
  return orders;
}

/** One start: open, build, replay. Milliseconds and the entries replayed. */
async function start(path: string, segmentBytes: number): Promise<{ ms: number; replayed: number; fills: number }> {
  const t0 = performance.now();
  const { journal, recovery } = Journal.open(path, { fsync: 'never', segmentBytes });
  const engine = new TradingEngine({ config, journal, strategy: idle, execution: instantVenue() });
  const report = engine.replay(recovery.entries, { reconcile: false });
  const ms = performance.now() - t0;
  const fills = engine.portfolio.totals().fills;
  await engine.close();
  journal.close();
  return { ms, replayed: report.entries, fills };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
const mb = (path: string) => {
  let bytes = statSync(path).size;
  for (const s of listSegments(path)) bytes += statSync(s.path).size;
  return (bytes / 1024 / 1024).toFixed(0);
};

const root = mkdtempSync(join(tmpdir(), 'bench-journal-restart-'));
try {
  const rows: string[] = [];
  for (const size of SIZES) {
    const results: Record<string, { ms: number[]; replayed: number; fills: number }> = {};
    for (const [name, segmentBytes] of [
      ['one file', 0],
      ['segments', SEGMENT_BYTES],
    ] as const) {
      const path = join(root, `${size}-${segmentBytes}`, 'journal.jsonl');
      const tw = performance.now();
      const orders = await write(path, size, segmentBytes);
      console.log(
        `${name}: wrote ${orders} orders, ${Journal.read(path).length} entries (${mb(path)} MiB, ${listSegments(path).length} archived segments) in ${((performance.now() - tw) / 1000).toFixed(1)} s`,
      );
      const ms: number[] = [];
      let last = { replayed: 0, fills: 0 };
      for (let r = 0; r < RUNS; r++) {
        const s = await start(path, segmentBytes);
        ms.push(s.ms);
        last = s;
      }
      // The replayed state must hold every fill written, whichever way it was rebuilt.
      if (last.fills !== orders) throw new Error(`${name}: ${last.fills} fills after the start, ${orders} written`);
      results[name] = { ...last, ms };
    }
    const one = results['one file'] as { ms: number[]; replayed: number; fills: number };
    const seg = results.segments as { ms: number[]; replayed: number; fills: number };
    rows.push(
      `| ${size.toLocaleString('en')} | ${median(one.ms).toFixed(0)} ms (${one.replayed} replayed) | ${median(seg.ms).toFixed(0)} ms (${seg.replayed} replayed) | ${(median(seg.ms) / median(one.ms)).toFixed(2)}x |`,
    );
  }
  console.log(`\nEngine start (open + replay), median of ${RUNS}:`);
  console.log(`| entries | one file (before) | segments, ${SEGMENT_BYTES / 1024 / 1024} MiB (after) | after/before |`);
  console.log('|---|---|---|---|');
  for (const r of rows) console.log(r);
} finally {
  rmSync(root, { recursive: true, force: true });
}
