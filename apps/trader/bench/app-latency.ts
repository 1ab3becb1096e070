// Tick-to-decision and tick-to-journaled latency of the COMPOSED trader (createTrader, role all: journal, PostgreSQL
// writer, cache, event stream, monitoring, health, HTTP, market data, trading) on the local PostgreSQL, with the
// simulator in a child process as its market (`market.wsUrl`/`market.restUrl`, `simulator.enabled: false`).
// Latency runs from ws-manager's arrival stamp of the frame (StreamMessage.receivedAtMono, performance.now(), µs
// resolution) to the decision / to the order journaled, read from trader.engine().latency after a warm-up reset; the
// event-loop delay is measured beside it. The target: tick-to-decision p99 at most 1 ms.
// Baseline, in the same run and process: the bare cost per depth frame of Buffer -> string + JSON.parse + applying the
// levels to an OrderBook, on a second, plain `ws` connection to the same simulator subscribed to the same depth
// streams (the composed trader's ws-manager is internal to its market-data component, so its raw frames cannot be
// tapped; the simulator sends every subscriber the same frame text).
// Run: npx tsx apps/trader/bench/app-latency.ts   (BENCH_MS: measured ms, default 12000; DATABASE_URL: the
// PostgreSQL, default postgres://postgres@127.0.0.1:5432/test; BENCH_PGLITE=1 adds a run on the embedded PGlite)
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PoolManager } from '@cryptoscalp/db-pool';
import { reportBench, serviceUrls, uniqueName } from '@cryptoscalp/testkit';
import WebSocket from 'ws';
import type { JournalComponent } from '../src/app/components/journal-component.js';
import type { PersistenceComponent } from '../src/app/components/persistence-component.js';
import { createTrader, type Trader } from '../src/app/trader.js';
import { loadConfig } from '../src/config/load-config.js';
import {
  benchOverrides,
  DepthBaseline,
  type LatencyWindow,
  latencyFigure,
  measureWindow,
  simulatorMethod,
  startBenchSimulator,
  symbols,
  windowExtra,
  windowMethod,
} from './latency-harness.js';
import type { SimulatorProcess } from './simulator-process.js';

const DATABASE_URL = process.env.DATABASE_URL ?? serviceUrls.postgres;
const WITH_PGLITE = process.env.BENCH_PGLITE === '1';
const TARGET_DECISION_P99_MS = 1;

/** The baseline on a plain `ws` connection to the simulator's depth streams. */
class Baseline extends DepthBaseline {
  private ws: WebSocket | undefined;

  async open(wsUrl: string): Promise<void> {
    const streams = symbols.map((s) => `${s.toLowerCase()}@depth@100ms`).join('/');
    const ws = new WebSocket(`${wsUrl}?streams=${streams}`);
    this.ws = ws;
    ws.on('message', (raw: Buffer) => this.frame(raw));
    ws.on('error', () => {});
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
  }

  close(): void {
    this.ws?.terminate();
  }
}

interface Result extends LatencyWindow {
  label: string;
  database: string;
  /** Journal entries not yet in the database at the end of the window. */
  persistLag: number;
}

async function runTrader(label: string, sim: SimulatorProcess, database: Record<string, unknown>): Promise<Result> {
  const dataDir = mkdtempSync(join(tmpdir(), 'trader-bench-app-'));
  const lines: string[] = [];
  let trader: Trader | undefined;
  const baseline = new Baseline();
  try {
    const config = loadConfig({
      env: {},
      overrides: { ...benchOverrides(sim, dataDir), http: { port: 0, shutdownDelayMs: 0 }, database },
    });
    trader = createTrader({ config, log: (l) => lines.push(l), jwtSecret: randomBytes(32).toString('hex') });
    const endpoints = await trader.start();
    await baseline.open(sim.wsUrl);
    const engine = trader.engine();
    const window = await measureWindow(engine, baseline);
    const persistence = trader.component<PersistenceComponent>('persistence');
    const journal = trader.component<JournalComponent>('journal');
    return {
      ...window,
      label,
      database: endpoints.database ?? '',
      persistLag: journal.journal().lastSeq - persistence.persistedSeq(),
    };
  } catch (e) {
    console.error(lines.slice(-30).join('\n'));
    throw e;
  } finally {
    baseline.close();
    await trader?.stop('bench').catch((e) => console.error(`trader stop: ${String(e)}`));
    rmSync(dataDir, { recursive: true, force: true });
  }
}

const schema = uniqueName('trader_bench');
const results: Result[] = [];
let sim: SimulatorProcess | undefined;
try {
  sim = await startBenchSimulator();
  results.push(await runTrader('local PostgreSQL', sim, { url: DATABASE_URL, schema }));
  if (WITH_PGLITE) results.push(await runTrader('embedded PGlite', sim, { embedded: 'memory' }));
} finally {
  await sim?.stop();
  const admin = new PoolManager({ primary: { connectionString: DATABASE_URL } });
  try {
    await admin.query(`drop schema if exists "${schema}" cascade`);
  } catch (e) {
    console.error(`could not drop schema ${schema}: ${String(e)}`);
  } finally {
    await admin.close();
  }
}

const method = (r: Result) =>
  `composed trader (createTrader, role all, ${r.database}, journal fsync every 100 ms, in-process cache and event ` +
  `stream, monitoring, HTTP on port 0); ${simulatorMethod()} as market.wsUrl/restUrl; ${r.eventsPerSec.toFixed(0)} ` +
  `market events/s into the engine (${r.depthPerSec.toFixed(0)} depth diffs/s); ${windowMethod()}. ` +
  'Baseline in the same run and process: Buffer->string + JSON.parse + levels applied to an OrderBook per depth frame, ' +
  'on a second plain ws connection to the same simulator and depth streams (the trader keeps its ws-manager ' +
  `internal); load average at start ${r.load} (shared 2-core machine)`;
const extra = (r: Result): Record<string, number | string> => ({
  ...windowExtra(r),
  journalEntriesNotYetInDatabase: r.persistLag,
  decisionP99TargetMs: TARGET_DECISION_P99_MS,
  decisionP99TargetMet: r.decision.p99 <= TARGET_DECISION_P99_MS ? 'yes' : 'no',
  loadAverage: r.load,
});
const figures = results.flatMap((r) =>
  (['p50', 'p99', 'p99.9'] as const).flatMap((p) =>
    (
      [
        ['tick-to-decision', r.decision],
        ['tick-to-journaled', r.journaled],
      ] as const
    ).map(([stage, v]) => latencyFigure(`composed trader, ${r.label}: ${stage} ${p}`, v[p], r, p, method(r), extra(r))),
  ),
);
reportBench({ package: '@cryptoscalp/trader', bench: 'app-latency', figures });
