// What market-data recording adds to the hot path. The shipped sample's events (77k diffs, trades and snapshots of
// two symbols) are fed to a live-configured engine (system clock, paper venue, journal with fsync never) through
// engine.sink (the baseline) and through the recorder's tap in front of it (recording on, flushing every 100 ms:
// JSON encoding on the main thread, gzip on zlib's thread pool, appends to a temp dir), alternating rounds, a fresh
// engine per round. Each event is stamped with performance.now() just before the sink call, as ws-manager stamps a
// frame's arrival, so the engine's own tick-to-decision recorder includes the tap. Events go in chunks of 200 with
// a macrotask between them, so the paper venue's latency timers and the recorder's flushes run between ticks as live.
// Third figure: the wall time of feeding a round, which also counts the flushes' main-thread work (JSON encoding);
// the drain after it (the last gzip members and appends) gives the recorder's sustained rate in `extra`.
// Run: npx tsx apps/trader/bench/recording.ts   (BENCH_ROUNDS: rounds per mode, default 4)
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setImmediate as macrotask } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { reportBench } from '@cryptoscalp/testkit';
import { loadConfig } from '../src/config/load-config.js';
import { TradingEngine } from '../src/engine/trading-engine.js';
import { Journal } from '../src/journal/journal.js';
import type { DataSink } from '../src/model/data-client.js';
import { MarketRecorder } from '../src/recording/market-recorder.js';
import { isSnapshotLine, type RecordedLine } from '../src/recording/recording-format.js';
import { replayRecording } from '../src/recording/recording-reader.js';

const SAMPLE = fileURLToPath(new URL('../test/fixtures/recordings/sim-seed42', import.meta.url));
const rounds = Number(process.env.BENCH_ROUNDS ?? 4);

interface Round {
  p50: number;
  p99: number;
  wallMs: number;
  drainMs: number;
  decisions: number;
}

async function round(lines: readonly RecordedLine[], record: boolean, dir: string): Promise<Round> {
  const config = loadConfig({ env: {}, overrides: { symbols: ['BTCUSDT', 'ETHUSDT'] } });
  const { journal } = Journal.open(join(dir, `journal-${record}-${performance.now()}.jsonl`), { fsync: 'never' });
  const engine = new TradingEngine({ config, journal });
  const recorder = record
    ? new MarketRecorder({ dir: join(dir, `rec-${performance.now()}`), symbols: config.symbols, flushIntervalMs: 100 })
    : undefined;
  recorder?.start();
  const sink: DataSink = recorder === undefined ? engine.sink : recorder.tap(engine.sink, 'binance');
  const t0 = performance.now();
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] as RecordedLine;
    if (isSnapshotLine(line)) sink.onSnapshot(line.symbol, line.snap, line.force);
    else sink.onEvent(line.ev, performance.now());
    if (i % 200 === 199) await macrotask();
  }
  const wallMs = performance.now() - t0;
  await recorder?.close();
  const drainMs = performance.now() - t0 - wallMs;
  const rec = engine.latency.tickToDecision;
  const p = rec.percentiles([50, 99]);
  const out = {
    p50: p.p50 ?? Number.NaN,
    p99: p.p99 ?? Number.NaN,
    wallMs,
    drainMs,
    decisions: engine.counters.decisions,
  };
  await engine.close();
  journal.close();
  return out;
}

async function main(): Promise<void> {
  const lines: RecordedLine[] = [];
  await replayRecording(SAMPLE, (l) => lines.push(l));
  const dir = mkdtempSync(join(tmpdir(), 'bench-recording-'));
  try {
    const results: Record<'off' | 'on', Round[]> = { off: [], on: [] };
    await round(lines, false, dir); // warm-up (JIT)
    for (let r = 0; r < rounds; r++) {
      results.off.push(await round(lines, false, dir));
      results.on.push(await round(lines, true, dir));
    }
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
    const fig = (k: keyof Round) => ({
      off: median(results.off.map((x) => x[k])),
      on: median(results.on.map((x) => x[k])),
    });
    const p50 = fig('p50');
    const p99 = fig('p99');
    const wall = fig('wallMs');
    const drain = fig('drainMs');
    const method = `${lines.length} recorded events x ${rounds} rounds per mode, alternating, median of rounds; decisions per round ${results.on[0]?.decisions}`;
    reportBench({
      package: '@cryptoscalp/trader',
      bench: 'recording',
      figures: [
        {
          name: 'tick-to-decision p50 with recording',
          value: p50.on,
          unit: 'ms',
          baseline: { name: 'recording off', value: p50.off },
          higherIsBetter: false,
          method,
        },
        {
          name: 'tick-to-decision p99 with recording',
          value: p99.on,
          unit: 'ms',
          baseline: { name: 'recording off', value: p99.off },
          higherIsBetter: false,
          method,
        },
        {
          name: 'feeding the events with recording (flushes on the main thread included, final drain not)',
          value: wall.on,
          unit: 'ms',
          baseline: { name: 'recording off', value: wall.off },
          higherIsBetter: false,
          method,
          extra: {
            drainMs: drain.on,
            recorderEventsPerSecond: Math.round(lines.length / ((wall.on + drain.on) / 1000)),
          },
        },
      ],
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
