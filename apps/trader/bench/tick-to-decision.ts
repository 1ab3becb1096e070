// Tick-to-decision and tick-to-journaled latency of the trading core on the production market-data path: the
// simulator in a child process, @cryptoscalp/ws-manager, the Binance data client from createDataClient, delivering
// into engine.sink. Latency runs from ws-manager's arrival stamp of the frame (StreamMessage.receivedAtMono,
// performance.now(), µs resolution) to the decision / to the order journaled, as in production; the event-loop delay
// is measured beside it.
// Baseline, in the same run on the same frames: the bare cost per depth frame of Buffer -> string + JSON.parse +
// applying the levels to an OrderBook, which is the least any client must do per tick. The raw frames come from the
// manager itself: its exchange-level `codec` option is ws-manager's jsonCodec plus one array push of the frame's
// Buffer; the baseline work runs in a `message` listener registered after the data client's, i.e. after the engine
// has decided on that frame, so it is not inside the measured interval.
// Run: npx tsx apps/trader/bench/tick-to-decision.ts   (BENCH_MS: measured ms per configuration, default 12000)
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { reportBench } from '@cryptoscalp/testkit';
import { type Codec, jsonCodec, type StreamMessage, WebSocketManager } from '@cryptoscalp/ws-manager';
import { createDataClient } from '../src/adapters/index.js';
import { loadConfig } from '../src/config/load-config.js';
import { TradingEngine } from '../src/engine/trading-engine.js';
import { Journal } from '../src/journal/journal.js';
import type { DataClient } from '../src/model/data-client.js';
import {
  benchOverrides,
  DepthBaseline,
  type LatencyWindow,
  latencyFigure,
  measureWindow,
  type Pct,
  simulatorMethod,
  startBenchSimulator,
  windowExtra,
  windowMethod,
} from './latency-harness.js';
import type { SimulatorProcess } from './simulator-process.js';

/** The baseline on the manager's own frames: its codec keeps each raw frame for {@link drain}. */
class Baseline extends DepthBaseline {
  private readonly pending: Buffer[] = [];
  /** ws-manager's own codec, keeping a reference to each raw frame for {@link drain}. */
  readonly codec: Codec = {
    decode: (data, isBinary) => {
      this.pending.push(data);
      return jsonCodec.decode(data, isBinary);
    },
    encode: (message) => jsonCodec.encode(message),
  };

  drain(): void {
    for (const raw of this.pending) this.frame(raw);
    this.pending.length = 0;
  }
}

interface RunResult extends LatencyWindow {
  framesPerSec: number;
  withoutMonoStamp: number;
}

const framesIn = (manager: WebSocketManager) =>
  manager.connections.reduce((n, c) => n + Number((c.stats() as { framesIn?: number }).framesIn ?? 0), 0);

async function run(fsync: 'interval' | 'always'): Promise<RunResult> {
  let sim: SimulatorProcess | undefined;
  let manager: WebSocketManager | undefined;
  let feed: DataClient | undefined;
  let engine: TradingEngine | undefined;
  let journal: Journal | undefined;
  const dir = mkdtempSync(join(tmpdir(), 'trader-bench-'));
  try {
    sim = await startBenchSimulator();
    journal = Journal.open(join(dir, 'journal.jsonl'), { fsync, fsyncIntervalMs: 100 }).journal;
    const config = loadConfig({ env: {}, overrides: benchOverrides(sim, dir, fsync) });
    const baseline = new Baseline();
    // As MarketDataComponent builds it, plus the baseline's codec as the exchange's connection default.
    manager = new WebSocketManager({
      name: 'ws-manager',
      exchanges: {
        binance: {
          endpoints: [config.market.wsUrl],
          limits: { messagesPerSecond: 50, messageBurst: 50 },
          connection: { codec: baseline.codec },
        },
      },
    });
    const eng = new TradingEngine({ config, journal, requestSnapshot: (s) => feed?.requestSnapshot(s) });
    engine = eng;
    const client = createDataClient({
      venue: 'binance',
      manager,
      wsUrl: config.market.wsUrl,
      restUrl: config.market.restUrl,
      symbols: config.symbols,
      depthLimit: config.market.depthLimit,
      sink: eng.sink,
    });
    client.onDecode = (ms) => eng.latency.decode.record(ms);
    feed = client;
    const connection = manager.connections[0];
    if (connection === undefined) throw new Error('the data client opened no connection');
    let withoutMonoStamp = 0;
    // Registered after the data client's listener: runs once the engine has handled the frame.
    connection.on('message', (msg: StreamMessage) => {
      if (typeof msg.receivedAtMono !== 'number') withoutMonoStamp++;
      baseline.drain();
    });
    eng.start();
    await client.start();
    const m = manager;
    let frames0 = 0;
    const window = await measureWindow(eng, baseline, () => {
      frames0 = framesIn(m);
      withoutMonoStamp = 0;
    });
    return {
      ...window,
      framesPerSec: (framesIn(m) - frames0) / window.seconds,
      withoutMonoStamp,
    };
  } finally {
    await feed?.close().catch(() => {});
    await manager?.close().catch(() => {});
    await engine?.close().catch(() => {});
    journal?.close();
    await sim?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

const a = await run('interval');
const b = await run('always');
for (const r of [a, b]) {
  if (r.withoutMonoStamp > 0)
    console.warn(`${r.withoutMonoStamp} messages had no receivedAtMono (ms-resolution fallback)`);
}

const method = (r: RunResult, fsync: string) =>
  `production path: ${simulatorMethod()} -> WebSocketManager -> createDataClient('binance') -> engine.sink; ` +
  `${r.depthPerSec.toFixed(0)} depth diffs/s, ${r.framesPerSec.toFixed(0)} frames/s in (${r.eventsPerSec.toFixed(0)} market events/s into the engine); journal fsync ${fsync}; ` +
  `${windowMethod()}. Baseline on the same frames in the same run: Buffer->string + ` +
  'JSON.parse + levels applied to an OrderBook per depth frame, frames taken from the manager through its codec option ' +
  `(jsonCodec + one array push) and processed after the engine handled each; load average at start ${r.load} ` +
  '(shared 2-core machine)';
const extra = (r: RunResult): Record<string, number | string> => ({
  ...windowExtra(r),
  framesPerSec: Math.round(r.framesPerSec),
  loadAverage: r.load,
});
const figure = (name: string, value: number, p: keyof Pct, r: RunResult, fsync: string) =>
  latencyFigure(name, value, r, p, method(r, fsync), extra(r));
reportBench({
  package: '@cryptoscalp/trader',
  bench: 'tick-to-decision',
  figures: [
    figure('tick-to-decision p50', a.decision.p50, 'p50', a, 'interval 100 ms'),
    figure('tick-to-decision p99', a.decision.p99, 'p99', a, 'interval 100 ms'),
    figure('tick-to-decision p99.9', a.decision['p99.9'], 'p99.9', a, 'interval 100 ms'),
    figure('tick-to-journaled p50 (fsync interval 100 ms)', a.journaled.p50, 'p50', a, 'interval 100 ms'),
    figure('tick-to-journaled p99 (fsync interval 100 ms)', a.journaled.p99, 'p99', a, 'interval 100 ms'),
    figure('tick-to-journaled p99.9 (fsync interval 100 ms)', a.journaled['p99.9'], 'p99.9', a, 'interval 100 ms'),
    figure('tick-to-decision p99 (fsync always)', b.decision.p99, 'p99', b, 'always'),
    figure('tick-to-journaled p50 (fsync always)', b.journaled.p50, 'p50', b, 'always'),
    figure('tick-to-journaled p99 (fsync always)', b.journaled.p99, 'p99', b, 'always'),
    figure('tick-to-journaled p99.9 (fsync always)', b.journaled['p99.9'], 'p99.9', b, 'always'),
  ],
});
