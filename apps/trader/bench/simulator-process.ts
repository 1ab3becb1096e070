// The exchange simulator in its own process for the benchmarks, so its generation work does not share the trader's
// event loop. Run directly (`node --import tsx bench/simulator-process.ts`) it prints one JSON line with the URLs and
// runs until killed, or until its parent is gone. The benches start it with `startSimulatorProcess()`.
import { type ChildProcess, spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { ExchangeSimulator } from '../src/adapters/sim/exchange-simulator.js';
import { watchParent } from '../src/internal/parent-watch.js';

/** A simulator running in a child process. */
export interface SimulatorProcess {
  /** The child's pid. */
  pid: number;
  /** Binance combined-stream URL (`.../stream`). */
  wsUrl: string;
  /** REST base URL (depth snapshots). */
  restUrl: string;
  /** Ends the child by its pid: SIGTERM, then SIGKILL after `graceMs`. Idempotent. */
  stop(graceMs?: number): Promise<void>;
}

/** Options of {@link startSimulatorProcess}. */
export interface SimulatorProcessOptions {
  symbols: readonly string[];
  /** Mean order-flow events per second per symbol (calm regime). */
  eventsPerSecond: number;
  /** Generator tick: one depth diff per symbol every `tickMs`. */
  tickMs: number;
  /** @default 1 */
  seed?: number;
}

/** Spawns this file with tsx and resolves once the child printed its URLs. */
export async function startSimulatorProcess(options: SimulatorProcessOptions): Promise<SimulatorProcess> {
  const script = fileURLToPath(import.meta.url);
  const child = spawn(process.execPath, ['--import', 'tsx', script], {
    env: {
      ...process.env,
      SIM_SYMBOLS: options.symbols.join(','),
      SIM_EVENTS_PER_SECOND: String(options.eventsPerSecond),
      SIM_TICK_MS: String(options.tickMs),
      SIM_SEED: String(options.seed ?? 1),
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const pid = child.pid;
  if (pid === undefined) throw new Error('simulator process did not start');
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  let line: string;
  try {
    line = await new Promise<string>((resolveLine, reject) => {
      const rl = createInterface({ input: child.stdout as NonNullable<ChildProcess['stdout']> });
      rl.once('line', (l) => {
        rl.close();
        resolveLine(l);
      });
      child.once('exit', (code, signal) => reject(new Error(`simulator exited (${code ?? signal}) before its URLs`)));
      setTimeout(() => reject(new Error('simulator did not print its URLs within 30 s')), 30_000).unref();
    });
  } catch (e) {
    killPid(pid, 'SIGKILL');
    throw e;
  }
  const urls = JSON.parse(line) as { wsUrl: string; restUrl: string };
  let stopping: Promise<void> | undefined;
  return {
    pid,
    ...urls,
    stop(graceMs = 2_000) {
      stopping ??= (async () => {
        if (child.exitCode !== null || child.signalCode !== null) return;
        killPid(pid, 'SIGTERM');
        const timer = setTimeout(() => killPid(pid, 'SIGKILL'), graceMs);
        await exited;
        clearTimeout(timer);
      })();
      return stopping;
    },
  };
}

function killPid(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // already gone
  }
}

async function main(): Promise<void> {
  const eventsPerSecond = Number(process.env.SIM_EVENTS_PER_SECOND ?? 1500);
  const tickMs = Number(process.env.SIM_TICK_MS ?? 5);
  const seed = Number(process.env.SIM_SEED ?? 1);
  const symbols = (process.env.SIM_SYMBOLS ?? 'BTCUSDT,ETHUSDT,SOLUSDT').split(',');
  const sim = new ExchangeSimulator({ symbols, eventsPerSecond, tickMs, seed });
  const urls = await sim.start();
  console.log(JSON.stringify(urls));
  const stop = () => {
    setTimeout(() => process.exit(0), 500).unref();
    void sim.close().then(() => process.exit(0));
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  // A bench killed outright cannot stop its simulator: do not run on as an orphan.
  watchParent({ onGone: stop });
  setInterval(() => {
    if (process.env.SIM_STATS) console.error(JSON.stringify(sim.stats()));
  }, 5000).unref();
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) await main();
