import { TraderError } from '../errors.js';
import { CommandRunner } from './internal/command-runner.js';
import { COMMAND_BUS_DEFAULTS } from './internal/defaults.js';
import { COMMAND_BUS_CHECKS } from './internal/option-checks.js';
import { checkOptions, checkSend, invalidOption } from './internal/options.js';
import { PendingReplies } from './internal/pending-replies.js';
import type {
  BusHealth,
  Command,
  CommandBus,
  CommandHandler,
  CommandReply,
  MemoryCommandBusOptions,
  SendOptions,
} from './types.js';

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
  private readonly defaultTimeoutMs: number;
  private readonly runner: CommandRunner;
  private readonly queue: Command[] = [];
  private readonly pending: PendingReplies;
  private handler: CommandHandler | undefined;
  private draining = false;
  private closed = false;
  private readonly counts = { sent: 0 };

  /** @throws TraderError `E_TRADER_INVALID_OPTION` naming the field. */
  constructor(options: MemoryCommandBusOptions = {}) {
    checkOptions(options, COMMAND_BUS_CHECKS);
    this.name = options.name ?? COMMAND_BUS_DEFAULTS.name;
    this.origin = options.origin ?? 'local';
    this.pending = new PendingReplies(options.maxPending ?? COMMAND_BUS_DEFAULTS.maxPending);
    this.defaultTimeoutMs = options.timeoutMs ?? COMMAND_BUS_DEFAULTS.timeoutMs;
    this.runner = new CommandRunner(options.replyCacheSize ?? COMMAND_BUS_DEFAULTS.replyCacheSize);
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
    let id: string;
    try {
      timeoutMs = checkSend(type, options, this.defaultTimeoutMs);
      if (this.closed) throw new TraderError('E_TRADER_BUS', 'command bus is closed');
      // The queue counts against the bound too: like the Redis stream, it also holds commands whose sender gave up.
      id = this.pending.admit(options.id, this.queue.length);
    } catch (e) {
      return Promise.reject(e);
    }
    const command: Command = { id, type, payload, deadline: Date.now() + timeoutMs, origin: this.origin };
    const { reply } = this.pending.wait(id, type, timeoutMs);
    this.queue.push(command);
    this.counts.sent++;
    this.drain();
    return reply;
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
        this.pending.settle(await this.runner.run(command, handler));
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
      ...this.pending.stats(),
      ...this.runner.counts,
      queued: this.queue.length,
      serving: this.handler === undefined ? 0 : 1,
    };
  }

  /** Rejects waiting sends with `E_TRADER_BUS` and drops queued commands unapplied. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.queue.length = 0;
    this.pending.rejectAll();
  }
}
