import { startTraderRole, type TraderRole } from '../../../deploy/rehearsal/trader-process.js';

/**
 * A trader process kept running the way a supervisor does (compose `restart: always`, a Kubernetes pod): when it
 * exits, by a crash, a SIGKILL or a demotion (exit 75), it is started again on the same port and data dir after
 * `restartDelayMs`. Every process started is in `started`, so the caller's `finally` stops them by PID.
 */
export class Supervised {
  #current: TraderRole | undefined;
  #timer: NodeJS.Timeout | undefined;
  #restarting: Promise<void> | undefined;
  #stopped = false;
  restarts = 0;
  /** Exits seen, with the time and the exit (for the report). */
  readonly exits: { at: number; pid: number; reason: string }[] = [];

  constructor(
    readonly name: string,
    readonly role: 'engine' | 'gateway',
    readonly port: number,
    private readonly env: Record<string, string>,
    private readonly started: Set<TraderRole>,
    private readonly log: (line: string) => void,
    private readonly restartDelayMs = 500,
  ) {}

  /** `http://127.0.0.1:<port>` */
  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** The running process's pid, or undefined between an exit and the restart. */
  get pid(): number | undefined {
    return this.#current !== undefined && alive(this.#current.pid) ? this.#current.pid : undefined;
  }

  /** The output of the current (or last) process. */
  output(): string {
    return this.#current?.output() ?? '';
  }

  /** Starts the process, then watches it. */
  async start(): Promise<void> {
    this.#current = await startTraderRole(this.role, this.port, this.env, this.started);
    this.#timer = setInterval(() => this.check(), 100);
  }

  /** Sends `signal` to the running process. */
  signal(signal: NodeJS.Signals): void {
    const pid = this.pid;
    if (pid !== undefined) process.kill(pid, signal);
  }

  private check(): void {
    const current = this.#current;
    if (this.#stopped || this.#restarting !== undefined || current === undefined || alive(current.pid)) return;
    const reason = exitReason(current.output());
    this.exits.push({ at: Date.now(), pid: current.pid, reason });
    this.log(`${this.name}: pid ${current.pid} exited (${reason}); restarting`);
    this.#restarting = (async () => {
      for (let attempt = 0; !this.#stopped; attempt++) {
        await new Promise((r) => setTimeout(r, this.restartDelayMs * Math.min(2 ** attempt, 8)));
        if (this.#stopped) return;
        try {
          this.#current = await startTraderRole(this.role, this.port, this.env, this.started);
          this.restarts++;
          return;
        } catch (e) {
          this.log(`${this.name}: restart failed: ${(e as Error).message.slice(0, 2_000)}`);
        }
      }
    })().finally(() => {
      this.#restarting = undefined;
    });
  }

  /** Stops watching and stops the process (SIGTERM, SIGKILL after `graceMs`); resolves with its exit code. */
  async stop(graceMs?: number): Promise<number | null> {
    this.#stopped = true;
    clearInterval(this.#timer);
    await this.#restarting;
    if (this.#current === undefined) return null;
    const pid = this.#current.pid;
    if (alive(pid)) process.kill(pid, 'SIGCONT');
    return await this.#current.stop(graceMs);
  }
}

/**
 * Why a trader ended, from its own words: the line that says so (a demotion, a failed start, a stop request, an
 * uncaught error's first line); the summary's JSON (which repeats old errors such as `lastError`) is left out.
 */
export function exitReason(output: string): string {
  const lines = output.split('\n');
  const end = lines.findIndex((l) => l.startsWith('trader: summary'));
  const before = end < 0 ? lines : lines.slice(0, end);
  const why = before
    .filter((l) => /^trader: (demoted|failed|stopping)|^\w*Error\b|Uncaught|unhandled/i.test(l.trim()))
    .slice(-2)
    .join(' / ');
  return why === '' ? 'no reason printed (SIGKILL?)' : why.slice(0, 600);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
