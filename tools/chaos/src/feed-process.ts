// The exchange simulator (Binance format) in its own process on a fixed port, so the chaos suite can SIGKILL or
// SIGSTOP the venue and start it again at the same address (a venue restart: its update ids start over), and jump
// the venue's clock (a JSON line on the child's stdin, answered with the new offset on its stdout).
import { type ChildProcess, spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { exited } from '@cryptoscalp/testkit';
import { ExchangeSimulator } from '../../../apps/trader/src/adapters/sim/exchange-simulator.js';
import { watchParent } from '../../../apps/trader/src/internal/parent-watch.js';

/** Options of {@link FeedProcess}. */
export interface FeedOptions {
  readonly port: number;
  readonly symbols: readonly string[];
  /** Mean order-flow events per second per symbol. @default 200 */
  readonly eventsPerSecond?: number;
  /** PRNG seed of the market. */
  readonly seed: number;
}

/** The simulator as a child process that can be killed, paused and started again on the same port. */
export class FeedProcess {
  #child: ChildProcess | undefined;
  #starts = 0;
  /** Waiting for the child's answer to a clock jump (one at a time). */
  #answer: ((line: string) => void) | undefined;

  constructor(private readonly options: FeedOptions) {}

  /** Binance combined-stream URL. */
  get wsUrl(): string {
    return `ws://127.0.0.1:${this.options.port}/stream`;
  }

  /** REST base URL (depth snapshots). */
  get restUrl(): string {
    return `http://127.0.0.1:${this.options.port}`;
  }

  /** The child's pid, or undefined while it is not running. */
  get pid(): number | undefined {
    return this.#child?.pid;
  }

  /** Starts the child and resolves once it listens. Each start after the first uses another seed. */
  async start(): Promise<void> {
    if (this.#child !== undefined) return;
    const script = fileURLToPath(import.meta.url);
    const child = spawn(process.execPath, ['--import', 'tsx', script], {
      env: {
        ...process.env,
        CHAOS_FEED_PORT: String(this.options.port),
        CHAOS_FEED_SYMBOLS: this.options.symbols.join(','),
        CHAOS_FEED_EPS: String(this.options.eventsPerSecond ?? 200),
        CHAOS_FEED_SEED: String(this.options.seed + this.#starts++),
      },
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    this.#child = child;
    try {
      await new Promise<void>((resolveLine, reject) => {
        // The first line says it listens; later ones answer clock jumps.
        const rl = createInterface({ input: child.stdout as NonNullable<ChildProcess['stdout']> });
        let first = true;
        rl.on('line', (line) => {
          if (first) {
            first = false;
            resolveLine();
            return;
          }
          const answer = this.#answer;
          this.#answer = undefined;
          answer?.(line);
        });
        // A child gone mid-write (SIGKILL) must not throw here: the fault's own checks report it.
        child.stdin?.on('error', () => {});
        child.once('exit', (code, signal) => reject(new Error(`feed exited (${code ?? signal}) before listening`)));
        // tsx compiles the simulator at each start: at load average 30 that alone took over 30 s once.
        setTimeout(() => reject(new Error('feed did not listen within 120 s')), 120_000).unref();
      });
    } catch (e) {
      await this.kill();
      throw e;
    }
  }

  /** SIGKILL by pid; waits until it is gone. */
  async kill(): Promise<void> {
    const child = this.#child;
    this.#child = undefined;
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGCONT');
    child.kill('SIGKILL');
    await exited(child);
  }

  /**
   * The venue's clock jumps by `ms` (negative: backwards): every time it sends from now on is off by the sum of the
   * jumps since it started. Resolves with that sum once the child has applied it.
   * @throws Error when the feed is not running or does not answer within 10 s.
   */
  async jumpClock(ms: number): Promise<number> {
    const child = this.#child;
    if (child?.stdin == null || child.exitCode !== null) throw new Error('jumpClock: the feed is not running');
    if (this.#answer !== undefined) throw new Error('jumpClock: a jump is already waiting for its answer');
    const line = await new Promise<string>((resolveAnswer, reject) => {
      const timer = setTimeout(() => {
        this.#answer = undefined;
        reject(new Error('jumpClock: the feed did not answer within 10 s'));
      }, 10_000);
      this.#answer = (l) => {
        clearTimeout(timer);
        resolveAnswer(l);
      };
      child.stdin?.write(`${JSON.stringify({ jumpClockMs: ms })}\n`);
    });
    const offset = (JSON.parse(line) as { clockOffsetMs?: unknown }).clockOffsetMs;
    if (typeof offset !== 'number') throw new Error(`jumpClock: unexpected answer ${line}`);
    return offset;
  }

  /** SIGSTOP: connections stay open, nothing is sent. */
  pause(): void {
    this.#child?.kill('SIGSTOP');
  }

  /** SIGCONT. */
  resume(): void {
    this.#child?.kill('SIGCONT');
  }
}

async function main(): Promise<void> {
  const sim = new ExchangeSimulator({
    symbols: (process.env.CHAOS_FEED_SYMBOLS ?? 'BTCUSDT').split(','),
    eventsPerSecond: Number(process.env.CHAOS_FEED_EPS ?? 200),
    seed: Number(process.env.CHAOS_FEED_SEED ?? 1),
    port: Number(process.env.CHAOS_FEED_PORT),
  });
  const urls = await sim.start();
  console.log(JSON.stringify(urls));
  // Clock jumps from the harness: `{"jumpClockMs": n}` a line; answered with the venue's offset after it.
  const commands = createInterface({ input: process.stdin });
  commands.on('line', (line) => {
    let ms: unknown;
    try {
      ms = (JSON.parse(line) as { jumpClockMs?: unknown }).jumpClockMs;
    } catch {
      ms = undefined;
    }
    if (typeof ms === 'number' && Number.isFinite(ms)) sim.jumpClock(ms);
    else console.error(`feed: ignored command ${line}`);
    console.log(JSON.stringify({ clockOffsetMs: sim.stats().clockOffsetMs }));
  });
  const stop = () => {
    setTimeout(() => process.exit(0), 500).unref();
    void sim.close().then(() => process.exit(0));
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  // A harness killed outright cannot stop its feed: do not run on as an orphan.
  watchParent({ onGone: stop });
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) await main();
