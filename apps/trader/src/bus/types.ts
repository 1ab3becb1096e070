import type { Redis } from 'ioredis';
import type { TraderError } from '../errors.js';

/** One record of the log: a gapless, increasing integer offset assigned by the writer, and its data. */
export interface LogRecord<T> {
  /** 1, 2, 3, ... assigned by the writer; the Redis stream entry id is `<offset>-0`. */
  readonly offset: number;
  /** Epoch ms at which the writer appended the record. */
  readonly ts: number;
  readonly data: T;
}

/** What `healthCheck()` of the bus resolves to: the suite's `HealthIndicator` result shape. */
export interface BusHealth {
  status: 'pass' | 'warn' | 'fail';
  observedValue?: number;
  observedUnit?: string;
  output?: string;
  details?: Record<string, unknown>;
}

/** A handle on a running {@link EventLog.tail}. */
export interface TailHandle {
  /** Stops following the log; resolves once no further batch will be delivered. Idempotent. */
  stop(): Promise<void>;
}

/**
 * A durable, replayable, single-writer log of events: the engine appends, gateways tail.
 * One instance can be the writer, a reader, or both.
 */
export interface EventLog<T> {
  /**
   * Identifies this log's offset space: stays the same while the log exists; a log recreated from scratch gets a
   * new one (stored in Redis with SET NX). Valid after start().
   */
  readonly epoch: string;
  /** Connects; the writer side learns the last offset (so a restarted writer continues at last+1). */
  start(): Promise<void>;
  /**
   * Writer: assigns the next offset synchronously and returns it; the write is pipelined (no await on the hot
   * path). Errors are counted and surface in healthCheck()/stats() and through flush(); records that failed to
   * write are retried in order (never reordered, never silently dropped). The buffer is bounded: when full,
   * `append` throws TraderError `E_TRADER_BUS`.
   */
  append(data: T): number;
  /** Resolves when every record appended so far is durable in the log (rejects with `E_TRADER_BUS` if it cannot be). */
  flush(): Promise<void>;
  /** Highest offset in the log (0 when empty). */
  lastOffset(): Promise<number>;
  /** Records with offset > afterOffset, at most `limit`, in order. */
  read(afterOffset: number, limit: number): Promise<LogRecord<T>[]>;
  /**
   * Reader: delivers every record with offset > afterOffset, in order, batch by batch, then follows the log live.
   * Survives the server going away: reconnects with backoff and resumes after the last delivered offset, no record
   * lost or delivered twice. Batches are delivered asynchronously, never inside `append`. After a reconnection the
   * tail reads its last delivered records again and checks they are still there, identical (a writer re-appends
   * what a failed-over Redis lost); when they are not, it stops for good and calls `onDiverged` (the log's health
   * fails too): going on would hand the reader a different history under offsets it already has.
   */
  tail(
    afterOffset: number,
    onRecords: (records: LogRecord<T>[]) => void,
    onDiverged?: (error: TraderError) => void,
  ): TailHandle;
  /** Stores a state snapshot beside the log, taken at `offset`, so a new reader need not replay from 0. */
  saveSnapshot(offset: number, json: string): Promise<void>;
  /** The last snapshot of this epoch, or undefined. */
  loadSnapshot(): Promise<{ offset: number; json: string } | undefined>;
  /** Health indicator name. */
  readonly name: string;
  /** HealthIndicator check: `fail` when fenced by another writer or unreachable, `warn` while retrying or after a gap. */
  healthCheck(signal?: AbortSignal): Promise<BusHealth>;
  /** Plain numbers: appended, written, writeErrors, pending, delivered, reconnects, lastOffset, lagMs, ... */
  stats(): Record<string, unknown>;
  /**
   * Idempotent; flushes pending writes (bounded wait), stops tails, closes connections it owns. Rejects with
   * `E_TRADER_BUS` (after closing) when records could not be written in that time.
   */
  close(): Promise<void>;
}

/** A command from a gateway to the engine. `id` is unique (uuid); `deadline` is epoch ms. */
export interface Command {
  readonly id: string;
  readonly type: string;
  readonly payload: unknown;
  readonly deadline: number;
  readonly origin: string;
}

/** The engine's answer to one {@link Command}. */
export type CommandReply =
  | { readonly id: string; readonly ok: true; readonly result: unknown }
  | { readonly id: string; readonly ok: false; readonly error: { code: string; message: string; field?: string } };

/** Options of one {@link CommandBus.send}. */
export interface SendOptions {
  /** How long to wait for the reply; also sets the command's deadline (now + timeoutMs). @default 5000 */
  timeoutMs?: number;
  /** Command id, to resend a command idempotently after an error. @default a new uuid */
  id?: string;
}

/** Handles one command on the engine side; its return value is the reply's `result`. */
export type CommandHandler = (command: Command) => Promise<unknown> | unknown;

/** Commands from gateways to the engine, and the engine's replies. */
export interface CommandBus {
  /** Health indicator name. */
  readonly name: string;
  /** Connects (and starts the reply reader of the gateway side). */
  start(): Promise<void>;
  /**
   * Gateway side: sends and waits for the engine's reply; rejects with TraderError `E_TRADER_COMMAND_TIMEOUT`
   * after timeoutMs (the command's deadline is now+timeoutMs, so an engine that sees it later drops it unapplied).
   */
  send(type: string, payload: unknown, options?: SendOptions): Promise<CommandReply>;
  /**
   * Engine side: handles commands one at a time in arrival order. Commands past their deadline are not handled
   * (reply `E_TRADER_COMMAND_EXPIRED`). A command id seen before gets the stored reply again without running the
   * handler twice (at-most-once application). A handler that throws produces ok:false with its code/message/field.
   */
  serve(handler: CommandHandler): void;
  /** HealthIndicator check. */
  healthCheck(signal?: AbortSignal): Promise<BusHealth>;
  /** Plain numbers: sent, replied, timeouts, handled, expired, duplicates, handlerErrors, ... */
  stats(): Record<string, unknown>;
  /** Idempotent; stops serving, rejects sends still waiting with `E_TRADER_BUS`, closes connections it owns. */
  close(): Promise<void>;
}

/** Where the Redis implementations connect: a URL (the bus owns its connections) or a caller's ioredis client. */
export type RedisTarget = string | Redis;

/** Options of {@link RedisEventLog}. */
export interface RedisEventLogOptions {
  /** A `redis://` URL, or an ioredis client (not closed by the log; blocking reads use `.duplicate()`). */
  redis: RedisTarget;
  /** Key prefix: the stream is `<key>:log`, the epoch `<key>:epoch`, the snapshot `<key>:snapshot`. */
  key: string;
  /** Approximate MAXLEN trim of the stream. @default 100000 */
  maxLength?: number;
  /** Records appended but not yet written beyond which `append` throws `E_TRADER_BUS`. @default 100000 */
  maxPending?: number;
  /** Health indicator name. @default 'event-log' */
  name?: string;
  /** Records per write (one Lua call) and per read. @default 1000 */
  batchSize?: number;
  /** How long `flush()` (and `close()`) wait for pending records to become durable. @default 5000 */
  flushTimeoutMs?: number;
  /**
   * Fencing token of the engine that writes (active/standby): every write is refused unless `<key>:fence` holds this
   * epoch (see `raiseEventLogFence`); the log then stops writing, like when another writer appended. @default unfenced
   */
  fenceEpoch?: number;
  /**
   * Replicas that must hold a batch before it counts as durable (Redis `WAIT`): with a Sentinel-managed primary, an
   * acknowledged record then survives the primary's loss. A batch not replicated within `waitTimeoutMs` is not
   * acknowledged and is written again (the append skips what the stream already holds) until it is. @default 0
   */
  waitReplicas?: number;
  /** How long one `WAIT` for `waitReplicas` may take. @default 1000 */
  waitTimeoutMs?: number;
  /**
   * Acknowledged records the writer keeps in memory: when Redis comes back without the last of them (a primary
   * restarted from its AOF, a replica promoted before it held them), they are re-appended, same offsets and content,
   * before anything new; a loss reaching further back stops the writer (`fail`) instead of writing past a gap.
   * 0 keeps none. @default 10000
   */
  repairWindow?: number;
  /** Told of a lost stream tail and its repair (warn level). @default silent */
  log?: (line: string) => void;
}

/** Options of {@link MemoryEventLog}. */
export interface MemoryEventLogOptions {
  /** Records kept; older ones are dropped (a reader behind them sees a gap, as with the Redis trim). @default 100000 */
  maxLength?: number;
  /** Health indicator name. @default 'event-log' */
  name?: string;
  /** Records per delivered batch. @default 1000 */
  batchSize?: number;
}

/** Options of {@link RedisCommandBus}. */
export interface RedisCommandBusOptions {
  /** A `redis://` URL, or an ioredis client (not closed by the bus; blocking reads use `.duplicate()`). */
  redis: RedisTarget;
  /** Key prefix: commands on `<key>:commands`, replies on `<key>:replies:<origin>`. */
  key: string;
  /** Approximate MAXLEN trim of the commands stream. @default 100000 */
  maxLength?: number;
  /** Sends waiting for a reply beyond which `send` rejects with `E_TRADER_BUS`. @default 10000 */
  maxPending?: number;
  /** Health indicator name. @default 'command-bus' */
  name?: string;
  /** This gateway's identity: its replies come back on `<key>:replies:<origin>`. @default `gw-<random>` */
  origin?: string;
  /** Replies remembered for at-most-once application of a repeated command id. @default 10000 */
  replyCacheSize?: number;
  /** Default `timeoutMs` of `send`. @default 5000 */
  timeoutMs?: number;
}

/** Options of {@link MemoryCommandBus}. */
export interface MemoryCommandBusOptions {
  /** Sends waiting for a reply beyond which `send` rejects with `E_TRADER_BUS`. @default 10000 */
  maxPending?: number;
  /** Health indicator name. @default 'command-bus' */
  name?: string;
  /** Origin stamped on commands. @default 'local' */
  origin?: string;
  /** Replies remembered for at-most-once application of a repeated command id. @default 10000 */
  replyCacheSize?: number;
  /** Default `timeoutMs` of `send`. @default 5000 */
  timeoutMs?: number;
}
