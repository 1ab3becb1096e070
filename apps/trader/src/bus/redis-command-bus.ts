import { randomBytes, randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { Redis } from 'ioredis';
import { TraderError } from '../errors.js';
import { CommandRunner } from './internal/command-runner.js';
import {
  checkOptions,
  checkSend,
  integerAtLeast,
  invalidOption,
  nonEmptyString,
  redisTarget,
} from './internal/options.js';
import {
  closeClient,
  entryField,
  type OwnedClient,
  openBlockingClient,
  openClient,
  TimeoutError,
  withSignal,
  withTimeout,
} from './internal/redis-connection.js';
import { Sleeper } from './internal/sleeper.js';
import type {
  BusHealth,
  Command,
  CommandBus,
  CommandHandler,
  CommandReply,
  RedisCommandBusOptions,
  SendOptions,
} from './types.js';

/**
 * The engine reads the commands stream through a consumer group, with NOACK. Why a group and not a plain XREAD from
 * the last id: the group keeps the read position in Redis, so a restarted engine resumes right after the last
 * command it was given, neither skipping the commands sent while it restarted (as XREAD from `$` would) nor running
 * old ones again (as XREAD from 0 would), and without a position key of our own to write after every command.
 * NOACK because application is at-most-once: a command handed to an engine that then crashed may have been
 * applied, so it must never be redelivered from the pending list; its gateway times out instead.
 */
const GROUP = 'engine';
const BLOCK_MS = 1_000;
const BLOCK_GRACE_MS = 4_000;
const BACKOFF_MIN_MS = 50;
const BACKOFF_MAX_MS = 1_000;
/** Commands read per XREADGROUP; they are still handled one at a time. */
const READ_COUNT = 100;
/** Reply streams are short-lived mailboxes: trimmed, and gone when their gateway has been away this long. */
const REPLY_MAXLEN = 1_000;
const REPLY_TTL_MS = 600_000;

interface PendingSend {
  resolve(reply: CommandReply): void;
  reject(error: Error): void;
  timer: NodeJS.Timeout;
}

/**
 * A {@link CommandBus} on Redis streams. Gateways XADD commands to `<key>:commands`; the engine reads them through
 * a consumer group (see above), applies them one at a time and XADDs each reply to `<key>:replies:<origin>`, which
 * the sending gateway follows with a blocking XREAD on a connection of its own. One instance can be both sides.
 */
export class RedisCommandBus implements CommandBus {
  /** Health indicator name. */
  readonly name: string;
  /** This instance's identity: its replies arrive on `<key>:replies:<origin>`. */
  readonly origin: string;
  private readonly target: RedisCommandBusOptions['redis'];
  private readonly conn: OwnedClient;
  private readonly prefix: string;
  private readonly commandsKey: string;
  private readonly replyKey: string;
  private readonly maxLength: number;
  private readonly maxPending: number;
  private readonly defaultTimeoutMs: number;
  private readonly runner: CommandRunner;
  private readonly pending = new Map<string, PendingSend>();
  private handler: CommandHandler | undefined;
  private starting: Promise<void> | undefined;
  private started = false;
  private closing: Promise<void> | undefined;
  private closed = false;
  private replyReady: Promise<void> | undefined;
  private replyClient: Redis | undefined;
  private replyLoop: Promise<void> | undefined;
  private replyFailing = false;
  private serveClient: Redis | undefined;
  private serveLoop: Promise<void> | undefined;
  private serveFailing = false;
  private readonly sleeper = new Sleeper();
  private readonly counts = {
    sent: 0,
    replied: 0,
    timeouts: 0,
    sendErrors: 0,
    lateReplies: 0,
    replyErrors: 0,
    malformed: 0,
    connectionErrors: 0,
    readErrors: 0,
    reconnects: 0,
  };

  /** @throws TraderError `E_TRADER_INVALID_OPTION` naming the field. */
  constructor(options: RedisCommandBusOptions) {
    checkOptions(
      options,
      {
        redis: redisTarget,
        key: nonEmptyString,
        maxLength: integerAtLeast(1),
        maxPending: integerAtLeast(1),
        name: nonEmptyString,
        origin: nonEmptyString,
        replyCacheSize: integerAtLeast(1),
        timeoutMs: integerAtLeast(1),
      },
      ['redis', 'key'],
    );
    this.name = options.name ?? 'command-bus';
    this.origin = options.origin ?? `gw-${randomBytes(6).toString('hex')}`;
    this.target = options.redis;
    this.prefix = options.key;
    this.commandsKey = `${options.key}:commands`;
    this.replyKey = this.replyKeyOf(this.origin);
    this.maxLength = options.maxLength ?? 100_000;
    this.maxPending = options.maxPending ?? 10_000;
    this.defaultTimeoutMs = options.timeoutMs ?? 5_000;
    this.runner = new CommandRunner(options.replyCacheSize ?? 10_000);
    this.conn = openClient(this.target, this.onConnectionError);
  }

  private readonly onConnectionError = () => {
    this.counts.connectionErrors++;
  };

  private replyKeyOf(origin: string): string {
    return `${this.prefix}:replies:${origin}`;
  }

  /** Connects (PING) and, if `serve()` was called already, starts serving. Idempotent. @throws `E_TRADER_BUS`. */
  start(): Promise<void> {
    this.starting ??= (async () => {
      try {
        await this.conn.client.ping();
      } catch (e) {
        this.starting = undefined;
        throw new TraderError('E_TRADER_BUS', `command bus could not start: ${(e as Error).message}`, { cause: e });
      }
      this.started = true;
      if (this.handler !== undefined) this.startServing();
    })();
    return this.starting;
  }

  /**
   * Sends a command and waits for its reply.
   * @throws TraderError `E_TRADER_COMMAND_TIMEOUT` after `timeoutMs`; `E_TRADER_BUS` when not started, closed, too
   * many sends are waiting, or the command could not be written.
   */
  send(type: string, payload: unknown, options: SendOptions = {}): Promise<CommandReply> {
    let timeoutMs: number;
    try {
      timeoutMs = checkSend(type, options, this.defaultTimeoutMs);
    } catch (e) {
      return Promise.reject(e);
    }
    if (!this.started) return Promise.reject(new TraderError('E_TRADER_BUS', 'send before start()'));
    if (this.closed || this.closing !== undefined)
      return Promise.reject(new TraderError('E_TRADER_BUS', 'command bus is closed'));
    if (this.pending.size >= this.maxPending)
      return Promise.reject(new TraderError('E_TRADER_BUS', `${this.pending.size} commands already waiting`));
    const id = options.id ?? randomUUID();
    if (this.pending.has(id))
      return Promise.reject(new TraderError('E_TRADER_BUS', `command ${id} is already waiting for its reply`));
    const command: Command = { id, type, payload, deadline: Date.now() + timeoutMs, origin: this.origin };
    let json: string;
    try {
      json = JSON.stringify(command);
    } catch (e) {
      return Promise.reject(new TraderError('E_TRADER_MALFORMED', 'payload is not JSON-serialisable', { cause: e }));
    }
    return new Promise<CommandReply>((resolve, reject) => {
      const entry: PendingSend = {
        resolve,
        reject,
        timer: setTimeout(() => {
          this.pending.delete(id);
          this.counts.timeouts++;
          reject(new TraderError('E_TRADER_COMMAND_TIMEOUT', `no reply to command ${type} (${id}) in ${timeoutMs} ms`));
        }, timeoutMs),
      };
      this.pending.set(id, entry);
      // The reply reader's position is fixed before the command goes out, so the reply cannot slip past it.
      this.ensureReplyReader()
        .then(() => this.conn.client.xadd(this.commandsKey, 'MAXLEN', '~', this.maxLength, '*', 'c', json))
        .then(
          () => {
            this.counts.sent++;
          },
          (e: unknown) => {
            this.counts.sendErrors++;
            if (this.pending.get(id) !== entry) return;
            this.pending.delete(id);
            clearTimeout(entry.timer);
            reject(
              new TraderError('E_TRADER_BUS', `command ${type} could not be sent: ${(e as Error).message}`, {
                cause: e,
              }),
            );
          },
        );
    });
  }

  private ensureReplyReader(): Promise<void> {
    this.replyReady ??= (async () => {
      try {
        const top = await this.conn.client.xrevrange(this.replyKey, '+', '-', 'COUNT', 1);
        const cursor = top[0]?.[0] ?? '0-0';
        this.replyClient = openBlockingClient(this.target, this.onConnectionError);
        this.replyLoop = this.readReplies(cursor);
      } catch (e) {
        this.replyReady = undefined;
        throw e;
      }
    })();
    return this.replyReady;
  }

  private async readReplies(from: string): Promise<void> {
    let cursor = from;
    let backoff = BACKOFF_MIN_MS;
    while (!this.closed) {
      try {
        const client = this.replyClient as Redis;
        const res = (await withTimeout(
          client.xread('COUNT', READ_COUNT, 'BLOCK', BLOCK_MS, 'STREAMS', this.replyKey, cursor),
          BLOCK_MS + BLOCK_GRACE_MS,
          'reply XREAD',
        )) as [string, [string, string[]][]][] | null;
        this.replyFailing = false;
        backoff = BACKOFF_MIN_MS;
        for (const [entryId, fields] of res?.[0]?.[1] ?? []) {
          cursor = entryId;
          const reply = parseJson(entryField(fields, 'r')) as CommandReply | undefined;
          if (reply === undefined || typeof reply.id !== 'string') {
            this.counts.malformed++;
            continue;
          }
          const waiting = this.pending.get(reply.id);
          if (waiting === undefined) {
            this.counts.lateReplies++; // its send timed out, or a duplicate's reply
            continue;
          }
          this.pending.delete(reply.id);
          clearTimeout(waiting.timer);
          this.counts.replied++;
          waiting.resolve(reply);
        }
      } catch (e) {
        if (this.closed) break;
        backoff = await this.recover(e, 'reply', backoff);
      }
    }
  }

  /**
   * Engine side: handles commands one at a time in arrival order (see {@link CommandBus.serve}).
   * @throws TraderError `E_TRADER_BUS` when already serving or closed.
   */
  serve(handler: CommandHandler): void {
    if (typeof handler !== 'function') invalidOption('handler', 'must be a function');
    if (this.closed || this.closing !== undefined) throw new TraderError('E_TRADER_BUS', 'command bus is closed');
    if (this.handler !== undefined) throw new TraderError('E_TRADER_BUS', 'serve() was called already');
    this.handler = handler;
    if (this.started) this.startServing();
  }

  private startServing(): void {
    if (this.serveLoop !== undefined) return;
    this.serveClient = openBlockingClient(this.target, this.onConnectionError);
    this.serveLoop = this.serveCommands(this.handler as CommandHandler);
  }

  private async serveCommands(handler: CommandHandler): Promise<void> {
    let groupReady = false;
    let backoff = BACKOFF_MIN_MS;
    while (!this.closed) {
      try {
        const client = this.serveClient as Redis;
        if (!groupReady) {
          await this.createGroup(client);
          groupReady = true;
        }
        const res = (await withTimeout(
          client.call(
            'XREADGROUP',
            'GROUP',
            GROUP,
            `engine-${this.origin}`,
            'COUNT',
            READ_COUNT,
            'BLOCK',
            BLOCK_MS,
            'NOACK',
            'STREAMS',
            this.commandsKey,
            '>',
          ),
          BLOCK_MS + BLOCK_GRACE_MS,
          'XREADGROUP',
        )) as [string, [string, string[]][]][] | null;
        this.serveFailing = false;
        backoff = BACKOFF_MIN_MS;
        for (const [, fields] of res?.[0]?.[1] ?? []) {
          const command = parseCommand(entryField(fields, 'c'));
          if (command === undefined) {
            this.counts.malformed++;
            continue;
          }
          const reply = this.closed
            ? // Read but not applied: tell the gateway now rather than let it wait for its timeout.
              ({
                id: command.id,
                ok: false,
                error: { code: 'E_TRADER_BUS', message: 'engine is shutting down; command not applied' },
              } as const)
            : await this.runner.run(command, handler);
          await this.writeReply(command.origin, reply);
        }
      } catch (e) {
        if (this.closed) break;
        // The group vanishes with the stream (Redis restarted without persistence): create it again.
        if (String((e as Error).message).includes('NOGROUP')) groupReady = false;
        backoff = await this.recover(e, 'serve', backoff);
      }
    }
  }

  /** Creates the group at the start of the stream (commands sent before the first engine ran are still seen). */
  private async createGroup(client: Redis): Promise<void> {
    try {
      await client.xgroup('CREATE', this.commandsKey, GROUP, '0', 'MKSTREAM');
    } catch (e) {
      if (!String((e as Error).message).includes('BUSYGROUP')) throw e;
    }
  }

  private async writeReply(origin: string, reply: CommandReply): Promise<void> {
    const key = this.replyKeyOf(origin);
    try {
      const json = JSON.stringify(reply);
      await this.conn.client
        .multi()
        .xadd(key, 'MAXLEN', '~', REPLY_MAXLEN, '*', 'r', json)
        .pexpire(key, REPLY_TTL_MS)
        .exec();
    } catch {
      // The gateway times out; the reply stays cached, so a resend of the same id gets it.
      this.counts.replyErrors++;
    }
  }

  /** After a failed read: count it, back off, and replace a connection that stopped answering. */
  private async recover(error: unknown, loop: 'reply' | 'serve', backoff: number): Promise<number> {
    this.counts.readErrors++;
    if (loop === 'reply') this.replyFailing = true;
    else this.serveFailing = true;
    if (error instanceof TimeoutError) {
      if (loop === 'reply') {
        this.replyClient?.disconnect();
        this.replyClient = openBlockingClient(this.target, this.onConnectionError);
      } else {
        this.serveClient?.disconnect();
        this.serveClient = openBlockingClient(this.target, this.onConnectionError);
      }
    }
    await this.sleeper.sleep(backoff);
    this.counts.reconnects++;
    return Math.min(backoff * 2, BACKOFF_MAX_MS);
  }

  /** `fail` when Redis does not answer PING, `warn` while a read loop is failing; observed value: PING ms. */
  async healthCheck(signal?: AbortSignal): Promise<BusHealth> {
    const details = this.stats();
    const t0 = performance.now();
    try {
      await withSignal(withTimeout(this.conn.client.ping(), 2_000, 'PING'), signal);
    } catch (e) {
      return {
        status: 'fail',
        observedValue: performance.now() - t0,
        observedUnit: 'ms',
        output: `redis unreachable: ${(e as Error).message}`,
        details,
      };
    }
    const base = { observedValue: performance.now() - t0, observedUnit: 'ms', details };
    if (this.serveFailing) return { status: 'warn', ...base, output: 'reading commands failed, retrying' };
    if (this.replyFailing) return { status: 'warn', ...base, output: 'reading replies failed, retrying' };
    return { status: 'pass', ...base };
  }

  /** Counters and gauges, all plain numbers. */
  stats(): Record<string, number> {
    return {
      ...this.counts,
      ...this.runner.counts,
      pending: this.pending.size,
      serving: this.serveLoop === undefined ? 0 : 1,
    };
  }

  /** Stops serving (after the command in hand), rejects waiting sends with `E_TRADER_BUS`, closes what it owns. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      this.closed = true;
      this.sleeper.wake();
      // Interrupts the blocking reads; a command being handled finishes and its reply is written first.
      this.replyClient?.disconnect();
      this.serveClient?.disconnect();
      await Promise.race([
        Promise.all([this.replyLoop, this.serveLoop]),
        new Promise((r) => setTimeout(r, 5_000).unref()),
      ]);
      for (const [id, waiting] of this.pending) {
        clearTimeout(waiting.timer);
        waiting.reject(new TraderError('E_TRADER_BUS', `command bus closed before the reply to ${id}`));
      }
      this.pending.clear();
      this.conn.detach();
      if (this.conn.owned) await closeClient(this.conn.client);
    })();
    return this.closing;
  }
}

function parseJson(json: string | undefined): unknown {
  if (json === undefined) return undefined;
  try {
    return JSON.parse(json);
  } catch {
    return undefined;
  }
}

function parseCommand(json: string | undefined): Command | undefined {
  const c = parseJson(json) as Record<string, unknown> | undefined;
  if (
    c === undefined ||
    c === null ||
    typeof c.id !== 'string' ||
    typeof c.type !== 'string' ||
    typeof c.deadline !== 'number' ||
    typeof c.origin !== 'string'
  )
    return undefined;
  return c as unknown as Command;
}
