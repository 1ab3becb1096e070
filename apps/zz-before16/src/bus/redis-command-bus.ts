import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { TraderError } from '../errors.js';
import { BlockingReadLoop, countingHooks, type ReadLoopHooks } from './internal/blocking-read-loop.js';
import { CommandRunner } from './internal/command-runner.js';
import { COMMAND_BUS_DEFAULTS } from './internal/defaults.js';
import { COMMAND_BUS_CHECKS, REDIS_TARGET_CHECKS } from './internal/option-checks.js';
import { checkOptions, checkSend, integerAtLeast, invalidOption } from './internal/options.js';
import { PendingReplies } from './internal/pending-replies.js';
import { closeClient, entryField, type OwnedClient, openClient, pingRoundTrip } from './internal/redis-connection.js';
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
/** Commands read per XREADGROUP; they are still handled one at a time. */
const READ_COUNT = 100;
/** Reply streams are short-lived mailboxes: trimmed, and gone when their gateway has been away this long. */
const REPLY_MAXLEN = 1_000;
const REPLY_TTL_MS = 600_000;

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
  private readonly defaultTimeoutMs: number;
  private readonly runner: CommandRunner;
  private readonly pending: PendingReplies;
  private handler: CommandHandler | undefined;
  private starting: Promise<void> | undefined;
  private started = false;
  private closing: Promise<void> | undefined;
  private closed = false;
  private replyReady: Promise<void> | undefined;
  private replyReader: BlockingReadLoop | undefined;
  private replyLoop: Promise<void> | undefined;
  private serveReader: BlockingReadLoop | undefined;
  private serveLoop: Promise<void> | undefined;
  private readonly counts = {
    sent: 0,
    sendErrors: 0,
    replyErrors: 0,
    malformed: 0,
    connectionErrors: 0,
    readErrors: 0,
    reconnects: 0,
  };

  /** @throws TraderError `E_TRADER_INVALID_OPTION` naming the field. */
  constructor(options: RedisCommandBusOptions) {
    checkOptions(options, { ...REDIS_TARGET_CHECKS, maxLength: integerAtLeast(1), ...COMMAND_BUS_CHECKS }, [
      'redis',
      'key',
    ]);
    this.name = options.name ?? COMMAND_BUS_DEFAULTS.name;
    this.origin = options.origin ?? `gw-${randomBytes(6).toString('hex')}`;
    this.target = options.redis;
    this.prefix = options.key;
    this.commandsKey = `${options.key}:commands`;
    this.replyKey = this.replyKeyOf(this.origin);
    this.maxLength = options.maxLength ?? COMMAND_BUS_DEFAULTS.maxLength;
    this.pending = new PendingReplies(options.maxPending ?? COMMAND_BUS_DEFAULTS.maxPending);
    this.defaultTimeoutMs = options.timeoutMs ?? COMMAND_BUS_DEFAULTS.timeoutMs;
    this.runner = new CommandRunner(options.replyCacheSize ?? COMMAND_BUS_DEFAULTS.replyCacheSize);
    this.conn = openClient(this.target, this.readHooks.onConnectionError);
  }

  /** The counters the main connection and both read loops feed. */
  private readonly readHooks: ReadLoopHooks = countingHooks(this.counts);

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
    let id: string;
    try {
      timeoutMs = checkSend(type, options, this.defaultTimeoutMs);
      if (!this.started) throw new TraderError('E_TRADER_BUS', 'send before start()');
      if (this.closed || this.closing !== undefined) throw new TraderError('E_TRADER_BUS', 'command bus is closed');
      id = this.pending.admit(options.id);
    } catch (e) {
      return Promise.reject(e);
    }
    const command: Command = { id, type, payload, deadline: Date.now() + timeoutMs, origin: this.origin };
    let json: string;
    try {
      json = JSON.stringify(command);
    } catch (e) {
      return Promise.reject(new TraderError('E_TRADER_MALFORMED', 'payload is not JSON-serialisable', { cause: e }));
    }
    const wait = this.pending.wait(id, type, timeoutMs);
    // The reply reader's position is fixed before the command goes out, so the reply cannot slip past it.
    this.ensureReplyReader()
      .then(() => this.conn.client.xadd(this.commandsKey, 'MAXLEN', '~', this.maxLength, '*', 'c', json))
      .then(
        () => {
          this.counts.sent++;
        },
        (e: unknown) => {
          this.counts.sendErrors++;
          wait.fail(
            new TraderError('E_TRADER_BUS', `command ${type} could not be sent: ${(e as Error).message}`, { cause: e }),
          );
        },
      );
    return wait.reply;
  }

  private ensureReplyReader(): Promise<void> {
    this.replyReady ??= (async () => {
      try {
        const top = await this.conn.client.xrevrange(this.replyKey, '+', '-', 'COUNT', 1);
        let cursor = top[0]?.[0] ?? '0-0';
        const reader = new BlockingReadLoop(this.target, this.readHooks);
        this.replyReader = reader;
        this.replyLoop = reader.run(async () => {
          cursor = await this.readReplies(reader, cursor);
        });
        // Closed while the position was being read: close() did not see this reader, so stop it here.
        if (this.closed) reader.stop();
      } catch (e) {
        this.replyReady = undefined;
        throw e;
      }
    })();
    return this.replyReady;
  }

  /** One read of this gateway's replies after `cursor`, each handed to its waiting send; returns the new cursor. */
  private async readReplies(reader: BlockingReadLoop, cursor: string): Promise<string> {
    const res = (await reader.read(
      (client, blockMs) => client.xread('COUNT', READ_COUNT, 'BLOCK', blockMs, 'STREAMS', this.replyKey, cursor),
      'reply XREAD',
    )) as [string, [string, string[]][]][] | null;
    let next = cursor;
    for (const [entryId, fields] of res?.[0]?.[1] ?? []) {
      next = entryId;
      const reply = parseJson(entryField(fields, 'r')) as CommandReply | undefined;
      if (reply === undefined || typeof reply.id !== 'string') {
        this.counts.malformed++;
        continue;
      }
      this.pending.settle(reply);
    }
    return next;
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
    // Closed: a loop started now would never be stopped.
    if (this.serveLoop !== undefined || this.closed) return;
    const handler = this.handler as CommandHandler;
    const reader = new BlockingReadLoop(this.target, this.readHooks);
    let groupReady = false;
    this.serveReader = reader;
    this.serveLoop = reader.run(
      async () => {
        if (!groupReady) {
          await this.createGroup(reader.client);
          groupReady = true;
        }
        await this.serveCommands(reader, handler);
      },
      (e) => {
        // The group vanishes with the stream (Redis restarted without persistence): create it again.
        if (String((e as Error).message).includes('NOGROUP')) groupReady = false;
      },
    );
  }

  /** One read of new commands, each applied (or refused) and answered before the next. */
  private async serveCommands(reader: BlockingReadLoop, handler: CommandHandler): Promise<void> {
    const res = (await reader.read(
      (client, blockMs) =>
        client.call(
          'XREADGROUP',
          'GROUP',
          GROUP,
          `engine-${this.origin}`,
          'COUNT',
          READ_COUNT,
          'BLOCK',
          blockMs,
          'NOACK',
          'STREAMS',
          this.commandsKey,
          '>',
        ),
      'XREADGROUP',
    )) as [string, [string, string[]][]][] | null;
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

  /** `fail` when Redis does not answer PING, `warn` while a read loop is failing; observed value: PING ms. */
  async healthCheck(signal?: AbortSignal): Promise<BusHealth> {
    const details = this.stats();
    const { rttMs, error } = await pingRoundTrip(this.conn.client, signal);
    const base = { observedValue: rttMs, observedUnit: 'ms', details };
    if (error !== undefined) return { status: 'fail', ...base, output: `redis unreachable: ${error.message}` };
    if (this.serveReader?.failing) return { status: 'warn', ...base, output: 'reading commands failed, retrying' };
    if (this.replyReader?.failing) return { status: 'warn', ...base, output: 'reading replies failed, retrying' };
    return { status: 'pass', ...base };
  }

  /** Counters and gauges, all plain numbers. */
  stats(): Record<string, number> {
    return {
      ...this.counts,
      ...this.pending.stats(),
      ...this.runner.counts,
      serving: this.serveLoop === undefined ? 0 : 1,
    };
  }

  /** Stops serving (after the command in hand), rejects waiting sends with `E_TRADER_BUS`, closes what it owns. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      this.closed = true;
      // Interrupts the blocking reads; a command being handled finishes and its reply is written first.
      this.replyReader?.stop();
      this.serveReader?.stop();
      await Promise.race([
        Promise.all([this.replyLoop, this.serveLoop]),
        new Promise((r) => setTimeout(r, 5_000).unref()),
      ]);
      this.pending.rejectAll();
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
