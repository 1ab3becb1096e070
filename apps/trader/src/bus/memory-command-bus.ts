import { randomUUID } from 'node:crypto';
import { TraderError } from '../errors.js';
import { CommandRunner } from './internal/command-runner.js';
import { checkOptions, checkSend, integerAtLeast, invalidOption, nonEmptyString } from './internal/options.js';
import type {
  BusHealth,
  Command,
  CommandBus,
  CommandHandler,
  CommandReply,
  MemoryCommandBusOptions,
  SendOptions,
} from './types.js';

interface PendingSend {
  resolve(reply: CommandReply): void;
  reject(error: Error): void;
  timer: NodeJS.Timeout;
}

/**
 * An in-process {@link CommandBus} for the single-process role and for unit tests: one instance is both the gateway
 * side (`send`) and the engine side (`serve`), with the Redis bus's rules (arrival order, one at a time, deadlines,
 * at-most-once per id, bounded reply cache). Commands sent before `serve()` wait in a queue, as they would in the
 * Redis stream, and are then handled or refused as expired.
 */
export class MemoryCommandBus implements CommandBus {
  /** Health indicator name. */
  readonly name: string;
  /** Origin stamped on the commands this instance sends. */
  readonly origin: string;
  private readonly maxPending: number;
  private readonly defaultTimeoutMs: number;
  private readonly runner: CommandRunner;
  private readonly queue: Command[] = [];
  private readonly pending = new Map<string, PendingSend>();
  private handler: CommandHandler | undefined;
  private draining = false;
  private closed = false;
  private readonly counts = { sent: 0, replied: 0, timeouts: 0, lateReplies: 0 };

  /** @throws TraderError `E_TRADER_INVALID_OPTION` naming the field. */
  constructor(options: MemoryCommandBusOptions = {}) {
    checkOptions(options, {
      maxPending: integerAtLeast(1),
      name: nonEmptyString,
      origin: nonEmptyString,
      replyCacheSize: integerAtLeast(1),
      timeoutMs: integerAtLeast(1),
    });
    this.name = options.name ?? 'command-bus';
    this.origin = options.origin ?? 'local';
    this.maxPending = options.maxPending ?? 10_000;
    this.defaultTimeoutMs = options.timeoutMs ?? 5_000;
    this.runner = new CommandRunner(options.replyCacheSize ?? 10_000);
  }

  /** Nothing to connect; present for the common lifecycle. */
  async start(): Promise<void> {}

  /**
   * Queues a command for the handler and waits for its reply.
   * @throws TraderError `E_TRADER_COMMAND_TIMEOUT` after `timeoutMs`; `E_TRADER_BUS` when closed or too many sends
   * (or queued commands) are waiting.
   */
  send(type: string, payload: unknown, options: SendOptions = {}): Promise<CommandReply> {
    let timeoutMs: number;
    try {
      timeoutMs = checkSend(type, options, this.defaultTimeoutMs);
    } catch (e) {
      return Promise.reject(e);
    }
    if (this.closed) return Promise.reject(new TraderError('E_TRADER_BUS', 'command bus is closed'));
    // Bounds both the waiters and the queue (which, like the Redis stream, also holds commands whose sender gave up).
    if (this.pending.size >= this.maxPending || this.queue.length >= this.maxPending)
      return Promise.reject(new TraderError('E_TRADER_BUS', `${this.pending.size} commands already waiting`));
    const id = options.id ?? randomUUID();
    if (this.pending.has(id))
      return Promise.reject(new TraderError('E_TRADER_BUS', `command ${id} is already waiting for its reply`));
    const command: Command = { id, type, payload, deadline: Date.now() + timeoutMs, origin: this.origin };
    return new Promise<CommandReply>((resolve, reject) => {
      this.pending.set(id, {
        resolve,
        reject,
        timer: setTimeout(() => {
          this.pending.delete(id);
          this.counts.timeouts++;
          reject(new TraderError('E_TRADER_COMMAND_TIMEOUT', `no reply to command ${type} (${id}) in ${timeoutMs} ms`));
        }, timeoutMs),
      });
      this.queue.push(command);
      this.counts.sent++;
      this.drain();
    });
  }

  /**
   * Engine side: handles queued and future commands one at a time in arrival order.
   * @throws TraderError `E_TRADER_BUS` when already serving or closed.
   */
  serve(handler: CommandHandler): void {
    if (typeof handler !== 'function') invalidOption('handler', 'must be a function');
    if (this.closed) throw new TraderError('E_TRADER_BUS', 'command bus is closed');
    if (this.handler !== undefined) throw new TraderError('E_TRADER_BUS', 'serve() was called already');
    this.handler = handler;
    this.drain();
  }

  /** Runs the queue on a later turn (never inside `send`), one command at a time. */
  private drain(): void {
    if (this.draining || this.handler === undefined || this.queue.length === 0) return;
    this.draining = true;
    setImmediate(() => void this.runQueue(this.handler as CommandHandler));
  }

  private async runQueue(handler: CommandHandler): Promise<void> {
    try {
      for (let command = this.queue.shift(); command !== undefined; command = this.queue.shift()) {
        if (this.closed) break;
        const reply = await this.runner.run(command, handler);
        const waiting = this.pending.get(reply.id);
        if (waiting === undefined) {
          this.counts.lateReplies++;
          continue;
        }
        this.pending.delete(reply.id);
        clearTimeout(waiting.timer);
        this.counts.replied++;
        waiting.resolve(reply);
      }
    } finally {
      this.draining = false;
    }
    this.drain();
  }

  /** `pass` while open; observed value: commands waiting for the handler. */
  async healthCheck(_signal?: AbortSignal): Promise<BusHealth> {
    const base = { observedValue: this.queue.length, observedUnit: 'commands', details: this.stats() };
    if (this.closed) return { status: 'fail', ...base, output: 'command bus is closed' };
    return { status: 'pass', ...base };
  }

  /** Counters and gauges, all plain numbers (same names as the Redis bus where they apply). */
  stats(): Record<string, number> {
    return {
      ...this.counts,
      ...this.runner.counts,
      pending: this.pending.size,
      queued: this.queue.length,
      serving: this.handler === undefined ? 0 : 1,
    };
  }

  /** Rejects waiting sends with `E_TRADER_BUS` and drops queued commands unapplied. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.queue.length = 0;
    for (const [id, waiting] of this.pending) {
      clearTimeout(waiting.timer);
      waiting.reject(new TraderError('E_TRADER_BUS', `command bus closed before the reply to ${id}`));
    }
    this.pending.clear();
  }
}
