import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { TraderError } from '../errors.js';
import { withTimeout } from '../internal/with-timeout.js';
import { BlockingReadLoop, countingHooks } from './internal/blocking-read-loop.js';
import { preciseNow } from './internal/clock.js';
import { EVENT_LOG_DEFAULTS } from './internal/defaults.js';
import { type EventLogKeys, eventLogKeys } from './internal/event-log-keys.js';
import { EVENT_LOG_CHECKS, REDIS_TARGET_CHECKS } from './internal/option-checks.js';
import {
  checkOffset,
  checkOptions,
  checkReadArgs,
  checkSnapshotArgs,
  integerAtLeast,
  invalidOption,
} from './internal/options.js';
import { closeClient, entryField, type OwnedClient, openClient, pingRoundTrip } from './internal/redis-connection.js';
import { entryDigest, ReplayCheck } from './internal/replay-check.js';
import { RetainedRecords, type WrittenRecord } from './internal/retained-records.js';
import { TailDelivery } from './internal/tail-delivery.js';
import { BACKOFF_MIN_MS, BLOCK_GRACE_MS, nextBackoff } from './internal/timing.js';
import type { BusHealth, EventLog, LogRecord, RedisEventLogOptions, TailHandle } from './types.js';

/** One write attempt (one Lua call) that has not answered in this time is treated as failed and retried. */
const WRITE_TIMEOUT_MS = 5_000;
/** A gap, lost records or an epoch change keep health at `warn` for this long. */
const RECENT_MS = 60_000;

/**
 * Appends one batch atomically. A Lua script rather than a plain pipeline of XADDs, because the outcome of a write
 * whose reply was lost (connection dropped after Redis applied it) is unknown to the writer, and its retry must
 * neither duplicate nor refuse our own records, while a second writer's records must stop us (fencing):
 *  - the stream's top offset `last` is compared with `prev` (the offset the writer knows is durable);
 *  - `last > prev`: the entries after `prev` carry a writer id `w`; if all are ours, they are the lost-reply write
 *    and are skipped, if any is not, another writer appended and nothing is written (`fenced`);
 *  - `last < prev`: Redis lost acknowledged records (a primary restarted from an AOF that lacked them, a replica
 *    promoted before it held them, a restart without persistence): nothing is written (`lost`), since writing on
 *    would leave a gap under offsets readers may already have seen; the writer re-appends what is missing first;
 *  - the XADDs use explicit ids `<offset>-0`, so Redis itself would refuse an out-of-order id as well;
 *  - with a leader epoch (engine active/standby), nothing is written unless the fence key `<key>:fence` holds exactly
 *    that epoch: a new leader raises it before its first write, so an old leader that resumes writes nothing, even
 *    before the new leader appended anything (which the writer-id check alone would miss).
 * KEYS[1] stream, KEYS[2] fence; ARGV: maxlen, '<prev+1>-0', prev, writer, epoch ('' = unfenced), then
 * (offset, ts, json) per record.
 */
const APPEND_LUA = `
local stream = KEYS[1]
local prev = tonumber(ARGV[3])
local writer = ARGV[4]
if ARGV[5] ~= '' then
  local current = redis.call('GET', KEYS[2])
  if current ~= ARGV[5] then return {'epoch', tonumber(current) or 0, 0} end
end
local n = (#ARGV - 5) / 3
local top = redis.call('XREVRANGE', stream, '+', '-', 'COUNT', 1)
local last = 0
if top[1] then last = tonumber(string.match(top[1][1], '^%d+')) end
if last < prev then return {'lost', last, 0} end
local skip = 0
if last > prev then
  local rows = redis.call('XRANGE', stream, ARGV[2], '+', 'COUNT', n)
  for _, row in ipairs(rows) do
    local fields = row[2]
    local owner = nil
    for i = 1, #fields - 1, 2 do
      if fields[i] == 'w' then owner = fields[i + 1] end
    end
    if owner ~= writer then return {'fenced', tonumber(string.match(row[1], '^%d+')), last} end
  end
  skip = math.min(last - prev, n)
end
for i = skip + 1, n do
  local b = 5 + (i - 1) * 3
  redis.call('XADD', stream, 'MAXLEN', '~', ARGV[1], ARGV[b + 1] .. '-0', 't', ARGV[b + 2], 'w', writer, 'd', ARGV[b + 3])
end
return {'ok', last, skip}
`;
const APPEND_SHA = createHash('sha1').update(APPEND_LUA).digest('hex');

/**
 * Raises the fence key to a new leader's epoch: only upwards, so a stale leader can never lower it again.
 * KEYS[1] fence; ARGV[1] epoch. Returns the epoch in force afterwards.
 */
const RAISE_FENCE_LUA = `
local current = tonumber(redis.call('GET', KEYS[1])) or 0
local epoch = tonumber(ARGV[1])
if epoch > current then
  redis.call('SET', KEYS[1], ARGV[1])
  return epoch
end
return current
`;

/**
 * Raises the event log's fence (`<key>:fence`) to `epoch`, the fencing token of a new leader, before it writes: from
 * then on, appends of a log made with a lower `fenceEpoch` are refused by Redis.
 * @returns the epoch in force afterwards (greater than `epoch` when a newer leader got there first).
 */
export async function raiseEventLogFence(redis: Redis, key: string, epoch: number): Promise<number> {
  return Number(await redis.eval(RAISE_FENCE_LUA, 1, eventLogKeys(key).fence, epoch));
}

type Pending = WrittenRecord;

interface FlushWaiter {
  readonly offset: number;
  resolve(): void;
  reject(error: Error): void;
  timer: NodeJS.Timeout;
}

/**
 * An {@link EventLog} on a Redis stream `<key>:log` whose entry ids are `<offset>-0`. One writer appends through
 * an in-order write loop (one batch in flight, retried on failure, fenced by a second writer); readers tail with
 * blocking XREAD on a connection of their own. Beside the stream: `<key>:epoch` (the offset space's identity,
 * SET NX) and `<key>:snapshot` (a hash: offset, json, epoch).
 *
 * Durability is Redis's: a record is durable when `flush()` resolves only if the server persists writes before
 * answering (`appendonly yes`, `appendfsync always`); without persistence a Redis restart loses the log (readers
 * then see a new epoch and a gap). With `waitReplicas`, a batch is durable only once that many replicas hold it
 * (`WAIT`), which is what survives a Sentinel failover (replication is otherwise asynchronous).
 */
export class RedisEventLog<T> implements EventLog<T> {
  /** Health indicator name. */
  readonly name: string;
  private readonly target: RedisEventLogOptions['redis'];
  private readonly conn: OwnedClient;
  private readonly keys: EventLogKeys;
  private readonly maxLength: number;
  private readonly maxPending: number;
  private readonly batchSize: number;
  private readonly flushTimeoutMs: number;
  /** Leader epoch every write is fenced with ('' = unfenced). */
  private readonly fenceEpoch: string;
  private readonly waitReplicas: number;
  private readonly waitTimeoutMs: number;
  private readonly warn: (line: string) => void;
  /** Acknowledged records kept to re-append a tail Redis lost. */
  private readonly retained: RetainedRecords;
  /**
   * Where the stream ends, as the last write found it, while that is before `durable` (Redis lost acknowledged
   * records): the records after it are re-appended from `retained` before anything new. Undefined otherwise.
   */
  private repairFrom: number | undefined;
  /** After the log was found recreated (new epoch): its top, which the next batch goes on from. */
  private newSpaceTop: number | undefined;
  /** Stamped on every entry, so a retry recognises its own records and a second writer is told apart. */
  private readonly writerId = randomBytes(8).toString('hex');
  private currentEpoch = '';
  /** The epoch the records up to `durable` were written in (`currentEpoch` may have moved on a reconnection). */
  private writtenEpoch = '';
  private starting: Promise<void> | undefined;
  private started = false;
  private closing: Promise<void> | undefined;
  private closed = false;
  /** Last offset handed out by `append`. */
  private assigned = 0;
  /** Last offset known durable in Redis. */
  private durable = 0;
  /** Appended and not yet acknowledged, in offset order; the head is always `durable + 1`. */
  private queue: Pending[] = [];
  private writing = false;
  private retryTimer: NodeJS.Timeout | undefined;
  private backoffMs = BACKOFF_MIN_MS;
  private waiters: FlushWaiter[] = [];
  private lastWriteError: Error | undefined;
  /** Offset another writer appended (we stopped writing), or undefined. */
  private fencedBy: number | undefined;
  private fencedWhy = '';
  private lastAnomalyAt = 0;
  /** Why a tail stopped for good (the stream no longer holds what it delivered), or undefined. */
  private divergence: string | undefined;
  private lastAnomaly = '';
  private readonly tails = new Set<RedisTail<T>>();
  private readonly counts = {
    appended: 0,
    written: 0,
    writeBatches: 0,
    writeErrors: 0,
    retriedDuplicates: 0,
    replicationShortfalls: 0,
    lost: 0,
    repairedEntries: 0,
    repairs: 0,
    divergences: 0,
    recheckedEntries: 0,
    epochChanges: 0,
    connectionErrors: 0,
    reconnects: 0,
    readErrors: 0,
    malformed: 0,
  };
  /** The counters the main connection and the tails' read loops feed. */
  private readonly readHooks = countingHooks(this.counts);
  private readonly delivery = new TailDelivery((expected, got) =>
    this.anomaly(`gap: offsets ${expected}..${got - 1} were not in the log when read`),
  );

  /** @throws TraderError `E_TRADER_INVALID_OPTION` naming the field. */
  constructor(options: RedisEventLogOptions) {
    checkOptions(
      options,
      {
        ...REDIS_TARGET_CHECKS,
        ...EVENT_LOG_CHECKS,
        maxPending: integerAtLeast(1),
        flushTimeoutMs: integerAtLeast(1),
        fenceEpoch: integerAtLeast(1),
        waitReplicas: integerAtLeast(0),
        waitTimeoutMs: integerAtLeast(1),
        repairWindow: integerAtLeast(0),
        log: (value, field) => {
          if (typeof value !== 'function') invalidOption(field, 'must be a function');
        },
      },
      ['redis', 'key'],
    );
    this.waitReplicas = options.waitReplicas ?? 0;
    this.waitTimeoutMs = options.waitTimeoutMs ?? 1_000;
    this.retained = new RetainedRecords(options.repairWindow ?? EVENT_LOG_DEFAULTS.repairWindow);
    this.warn = options.log ?? (() => undefined);
    this.name = options.name ?? EVENT_LOG_DEFAULTS.name;
    this.target = options.redis;
    this.keys = eventLogKeys(options.key);
    this.maxLength = options.maxLength ?? EVENT_LOG_DEFAULTS.maxLength;
    this.maxPending = options.maxPending ?? EVENT_LOG_DEFAULTS.maxPending;
    this.batchSize = options.batchSize ?? EVENT_LOG_DEFAULTS.batchSize;
    this.flushTimeoutMs = options.flushTimeoutMs ?? EVENT_LOG_DEFAULTS.flushTimeoutMs;
    this.fenceEpoch = options.fenceEpoch === undefined ? '' : String(options.fenceEpoch);
    this.conn = openClient(this.target, this.readHooks.onConnectionError);
  }

  /** The offset space's identity; valid after `start()`, renewed when the log is found recreated. */
  get epoch(): string {
    return this.currentEpoch;
  }

  /** Connects, learns (or creates) the epoch and the last offset. Idempotent. @throws TraderError `E_TRADER_BUS`. */
  start(): Promise<void> {
    this.starting ??= (async () => {
      try {
        this.currentEpoch = await this.claimEpoch(this.conn.client);
        this.writtenEpoch = this.currentEpoch;
        const last = await this.lastOffset();
        this.assigned = last;
        this.durable = last;
        this.started = true;
        // Every reconnection may be to a server that lost the log (restart without persistence): look again.
        this.conn.client.on('ready', this.onReady);
      } catch (e) {
        this.starting = undefined;
        throw new TraderError('E_TRADER_BUS', `event log ${this.keys.log} could not start: ${(e as Error).message}`, {
          cause: e,
        });
      }
    })();
    return this.starting;
  }

  private readonly onReady = () => {
    if (!this.closed) void this.refreshEpoch(this.conn.client).catch(() => undefined);
  };

  /** Claims the epoch in force and takes it up, counting a change (the log was recreated). */
  private async refreshEpoch(client: Redis): Promise<string> {
    const epoch = await this.claimEpoch(client);
    if (epoch !== this.currentEpoch) {
      this.counts.epochChanges++;
      this.anomaly(`log recreated: epoch ${this.currentEpoch} -> ${epoch}`);
      this.currentEpoch = epoch;
    }
    return epoch;
  }

  /** SET NX a fresh epoch and read back the one in force (ours, or the one someone set first). */
  private async claimEpoch(client: Redis): Promise<string> {
    const [, got] = (await client.multi().set(this.keys.epoch, randomUUID(), 'NX').get(this.keys.epoch).exec()) as [
      [Error | null, unknown],
      [Error | null, string | null],
    ];
    if (got[0] !== null) throw got[0];
    if (got[1] === null) throw new Error('epoch key vanished');
    return got[1];
  }

  /**
   * Assigns the next offset and queues the record for the write loop.
   * @throws TraderError `E_TRADER_BUS` before `start()`, after `close()`, when fenced, or when the buffer is full;
   * `E_TRADER_MALFORMED` when `data` is not JSON-serialisable.
   */
  append(data: T): number {
    if (!this.started) throw new TraderError('E_TRADER_BUS', 'append before start()');
    if (this.closed || this.closing !== undefined) throw new TraderError('E_TRADER_BUS', 'event log is closed');
    if (this.fencedBy !== undefined) throw new TraderError('E_TRADER_BUS', `${this.fencedWhy}; this writer is fenced`);
    if (this.queue.length >= this.maxPending)
      throw new TraderError('E_TRADER_BUS', `write buffer full: ${this.queue.length} records not yet written`, {
        cause: this.lastWriteError,
      });
    let json: string | undefined;
    try {
      json = JSON.stringify(data);
    } catch (e) {
      throw new TraderError('E_TRADER_MALFORMED', 'event data is not JSON-serialisable', { cause: e });
    }
    if (json === undefined) throw new TraderError('E_TRADER_MALFORMED', 'event data is not JSON-serialisable');
    const offset = ++this.assigned;
    this.queue.push({ offset, ts: preciseNow(), json });
    this.counts.appended++;
    this.schedule();
    return offset;
  }

  /** Starts the write loop on the next turn, so appends of the same tick go out as one batch. */
  private schedule(): void {
    if (this.closed || this.writing || this.retryTimer !== undefined) return;
    if (this.queue.length === 0 && this.repairFrom === undefined) return;
    if (this.fencedBy !== undefined) return;
    this.writing = true;
    setImmediate(() => void this.writeBatch());
  }

  private async writeBatch(): Promise<void> {
    const repairing = this.repairFrom !== undefined;
    const prev = this.repairFrom ?? this.newSpaceTop ?? this.durable;
    const batch = repairing
      ? this.retained.slice(prev + 1, this.durable, this.batchSize)
      : this.queue.slice(0, this.batchSize);
    const args: (string | number)[] = [this.maxLength, `${prev + 1}-0`, prev, this.writerId, this.fenceEpoch];
    for (const r of batch) args.push(r.offset, r.ts, r.json);
    let retry = false;
    try {
      const reply = (await withTimeout(this.evalAppend(args), WRITE_TIMEOUT_MS, 'event log write')) as [
        string,
        number,
        number,
      ];
      this.counts.writeBatches++;
      if (reply[0] === 'fenced') {
        this.writing = false;
        this.fence(`another writer appended offset ${reply[1]}`, reply[1]);
        return;
      }
      if (reply[0] === 'epoch') {
        this.writing = false;
        this.fence(`leader epoch ${reply[1]} holds the fence, this writer has ${this.fenceEpoch}`, prev + 1);
        return;
      }
      if (reply[0] === 'lost') {
        // Nothing was written; the next batch is the repair (or the writer stopped), on the next turn.
        await this.onLost(prev, reply[1]);
        return this.afterWrite(false);
      }
      const [, , skipped] = reply;
      this.counts.retriedDuplicates += skipped;
      // Counted as Redis took them: a retry after a WAIT shortfall finds them there (skipped as our own).
      if (repairing) this.counts.repairedEntries += batch.length - skipped;
      if (this.waitReplicas > 0) {
        // Durable means replicated: a batch that did not reach enough replicas is written again (skipped by the
        // append as our own) and waited for again, so nothing is acknowledged that a failover could lose.
        const acked = Number(await this.conn.client.wait(this.waitReplicas, this.waitTimeoutMs));
        if (acked < this.waitReplicas) {
          this.counts.replicationShortfalls++;
          throw new TraderError(
            'E_TRADER_BUS',
            `event log batch reached ${acked} of ${this.waitReplicas} replicas within ${this.waitTimeoutMs} ms`,
          );
        }
      }
      this.newSpaceTop = undefined;
      if (repairing) this.repaired(batch);
      else this.acknowledge(batch.length);
    } catch (e) {
      this.counts.writeErrors++;
      this.lastWriteError = e as Error;
      retry = true;
    }
    this.afterWrite(retry);
  }

  /** Ends one write: the next one on the next turn, or after the backoff when this one failed. */
  private afterWrite(retry: boolean): void {
    this.writing = false;
    if (retry && !this.closed) {
      // In order: the same head of the queue is written again after the backoff, nothing behind it goes first.
      this.retryTimer = setTimeout(() => {
        this.retryTimer = undefined;
        this.schedule();
      }, this.backoffMs);
      this.backoffMs = nextBackoff(this.backoffMs);
      return;
    }
    this.schedule();
  }

  /** A batch of re-appended records is in the stream again: count it, and end the repair once all are. */
  private repaired(batch: readonly Pending[]): void {
    this.backoffMs = BACKOFF_MIN_MS;
    this.lastWriteError = undefined;
    const to = batch[batch.length - 1]?.offset ?? this.durable;
    if (to < this.durable) {
      this.repairFrom = to;
      return;
    }
    this.repairFrom = undefined;
    this.warn(
      `event log ${this.keys.log}: re-appended the records Redis had lost, up to offset ${this.durable} (${this.counts.repairedEntries} re-appended so far); writing on`,
    );
  }

  /** EVALSHA, falling back to EVAL when the server does not know the script (first use, or after a restart). */
  private async evalAppend(args: (string | number)[]): Promise<unknown> {
    try {
      return await this.conn.client.evalsha(APPEND_SHA, 2, this.keys.log, this.keys.fence, ...args);
    } catch (e) {
      if (!String((e as Error).message).startsWith('NOSCRIPT')) throw e;
      return await this.conn.client.eval(APPEND_LUA, 2, this.keys.log, this.keys.fence, ...args);
    }
  }

  private acknowledge(count: number): void {
    const done = this.queue.splice(0, count);
    this.retained.add(done);
    this.durable = done[done.length - 1]?.offset ?? this.durable;
    this.counts.written += done.length;
    this.backoffMs = BACKOFF_MIN_MS;
    this.lastWriteError = undefined;
    if (this.waiters.length === 0) return;
    const still: FlushWaiter[] = [];
    for (const w of this.waiters) {
      if (w.offset <= this.durable) {
        clearTimeout(w.timer);
        w.resolve();
      } else still.push(w);
    }
    this.waiters = still;
  }

  /**
   * The stream ends at `last`, before `prev`, where this writer left it: Redis lost records it had acknowledged. In
   * the same offset space (same epoch: a primary restarted from an AOF that lacked its last second, a replica
   * promoted before it held the last writes), the missing records are re-appended from memory before anything new;
   * when they are no longer all kept, the writer stops (readers may have seen them: writing on would give those
   * offsets a different history). A recreated log (new epoch, readers start over at its offset 0) is written on.
   */
  private async onLost(prev: number, last: number): Promise<void> {
    // Throws when Redis does not answer: not known whether the log was recreated, so the write is tried again.
    await this.refreshEpoch(this.conn.client);
    this.counts.lost += prev - last;
    const what = `Redis lost ${prev - last} acknowledged records (offsets ${last + 1}..${prev})`;
    if (this.currentEpoch !== this.writtenEpoch) {
      this.writtenEpoch = this.currentEpoch;
      this.retained.clear();
      this.repairFrom = undefined;
      this.newSpaceTop = last;
      // After the epoch note, so health shows the loss (the more important of the two).
      this.anomaly(what);
      return;
    }
    if (!this.retained.covers(last + 1, this.durable)) {
      this.fence(
        `${what} and this writer no longer holds them all (it keeps offsets from ${this.retained.oldest ?? 'none'}); it writes nothing past the gap`,
        last + 1,
      );
      this.warn(`event log ${this.keys.log}: ${this.fencedWhy}`);
      return;
    }
    if (this.repairFrom === undefined) this.counts.repairs++;
    this.repairFrom = last;
    this.anomaly(`${what}: re-appending them`);
    this.warn(`event log ${this.keys.log}: ${what}; re-appending them from memory before new records`);
  }

  private fence(why: string, foreignOffset: number): void {
    this.fencedBy = foreignOffset;
    this.fencedWhy = why;
    const error = new TraderError(
      'E_TRADER_BUS',
      `${why}; this writer is fenced (${this.queue.length} records unwritten)`,
    );
    for (const w of this.waiters) {
      clearTimeout(w.timer);
      w.reject(error);
    }
    this.waiters = [];
  }

  private anomaly(text: string): void {
    this.lastAnomaly = text;
    this.lastAnomalyAt = Date.now();
  }

  /**
   * Resolves when every record appended so far is durable in Redis.
   * @throws TraderError `E_TRADER_BUS` when fenced, or when not durable within `flushTimeoutMs` (cause: the last
   * write error); the write loop keeps retrying.
   */
  flush(): Promise<void> {
    const target = this.assigned;
    if (this.durable >= target) return Promise.resolve();
    if (this.fencedBy !== undefined)
      return Promise.reject(new TraderError('E_TRADER_BUS', `${this.fencedWhy}; this writer is fenced`));
    return new Promise<void>((resolve, reject) => {
      const waiter: FlushWaiter = {
        offset: target,
        resolve,
        reject,
        timer: setTimeout(() => {
          this.waiters = this.waiters.filter((w) => w !== waiter);
          reject(
            new TraderError(
              'E_TRADER_BUS',
              `records up to offset ${target} not durable after ${this.flushTimeoutMs} ms (${this.queue.length} pending)`,
              { cause: this.lastWriteError },
            ),
          );
        }, this.flushTimeoutMs),
      };
      this.waiters.push(waiter);
    });
  }

  /** Highest offset in the stream (0 when empty or absent). */
  async lastOffset(): Promise<number> {
    const top = await this.conn.client.xrevrange(this.keys.log, '+', '-', 'COUNT', 1);
    return top[0] === undefined ? 0 : offsetOf(top[0][0]);
  }

  /** Records with offset > afterOffset, at most `limit`, in order. */
  async read(afterOffset: number, limit: number): Promise<LogRecord<T>[]> {
    checkReadArgs(afterOffset, limit);
    const rows = await this.conn.client.xrange(this.keys.log, `${afterOffset + 1}-0`, '+', 'COUNT', limit);
    return rows.map(([id, fields]) => decode<T>(id, fields));
  }

  /**
   * Follows the log from `afterOffset` on a connection of its own. After a gap (records trimmed or lost before it
   * read them) it counts the gap and goes on with the next record; after an epoch change (the log was recreated) it
   * starts over at offset 0 of the new epoch. `onRecords` throwing is counted, the records count as delivered.
   * After every reconnection it reads its last delivered records (up to `repairWindow`) again, without delivering
   * them: a Redis that lost them gets them back from the writer, identical; one that holds something else under
   * those offsets stops the tail (`onDiverged`, health `fail`).
   */
  tail(
    afterOffset: number,
    onRecords: (records: LogRecord<T>[]) => void,
    onDiverged?: (error: TraderError) => void,
  ): TailHandle {
    checkOffset(afterOffset, 'afterOffset');
    if (this.closed || this.closing !== undefined) throw new TraderError('E_TRADER_BUS', 'event log is closed');
    const tail = new RedisTail<T>(this, afterOffset, onRecords, onDiverged);
    this.tails.add(tail);
    tail.done.finally(() => this.tails.delete(tail));
    return { stop: () => tail.stop() };
  }

  /** @internal Used by {@link RedisTail}. */
  tailContext() {
    return {
      target: this.target,
      logKey: this.keys.log,
      batchSize: this.batchSize,
      epoch: () => this.currentEpoch,
      claimEpoch: (client: Redis) => this.refreshEpoch(client),
      delivery: this.delivery,
      hooks: this.readHooks,
      onMalformed: () => {
        this.counts.malformed++;
      },
      checkWindow: this.retained.capacity,
      onRechecked: () => {
        this.counts.recheckedEntries++;
      },
      onDiverged: (why: string) => {
        this.counts.divergences++;
        this.divergence = why;
        this.warn(`event log ${this.keys.log}: a tail stopped: ${why}`);
      },
    };
  }

  /** Stores `{ offset, json }` (tagged with the epoch) in `<key>:snapshot`. */
  async saveSnapshot(offset: number, json: string): Promise<void> {
    checkSnapshotArgs(offset, json);
    await this.conn.client.hset(this.keys.snapshot, {
      offset: String(offset),
      json,
      epoch: this.currentEpoch,
    });
  }

  /** The snapshot of this epoch, or undefined (none, or one taken in an earlier incarnation of the log). */
  async loadSnapshot(): Promise<{ offset: number; json: string } | undefined> {
    const [offset, json, epoch] = await this.conn.client.hmget(this.keys.snapshot, 'offset', 'json', 'epoch');
    if (offset == null || json == null || epoch !== this.currentEpoch) return undefined;
    return { offset: Number(offset), json };
  }

  /**
   * `fail`: fenced by another writer, stopped before a gap it cannot repair, a tail stopped because the stream no
   * longer holds what it delivered, Redis unreachable, or the write buffer full. `warn`: records waiting after a
   * write error, a tail reconnecting, or a gap / lost records / new epoch in the last minute. Observed value: the
   * PING round trip in ms.
   */
  async healthCheck(signal?: AbortSignal): Promise<BusHealth> {
    const details = this.stats();
    const { rttMs, error: pingError } = await pingRoundTrip(this.conn.client, signal);
    const base = { observedValue: rttMs, observedUnit: 'ms', details };
    if (this.fencedBy !== undefined) return { status: 'fail', ...base, output: this.fencedWhy };
    if (this.divergence !== undefined) return { status: 'fail', ...base, output: this.divergence };
    if (pingError !== undefined) return { status: 'fail', ...base, output: `redis unreachable: ${pingError.message}` };
    if (this.queue.length >= this.maxPending)
      return { status: 'fail', ...base, output: `write buffer full (${this.queue.length} records)` };
    if (this.lastWriteError !== undefined && this.queue.length > 0)
      return {
        status: 'warn',
        ...base,
        output: `${this.queue.length} records waiting, last write error: ${this.lastWriteError.message}`,
      };
    const reconnecting = [...this.tails].filter((t) => t.failing).length;
    if (reconnecting > 0) return { status: 'warn', ...base, output: `${reconnecting} tail(s) reconnecting` };
    if (Date.now() - this.lastAnomalyAt < RECENT_MS) return { status: 'warn', ...base, output: this.lastAnomaly };
    return { status: 'pass', ...base };
  }

  /** Counters and gauges, all plain numbers. */
  stats(): Record<string, number> {
    return {
      ...this.counts,
      ...this.delivery.stats(),
      pending: this.queue.length,
      lastOffset: this.assigned,
      durableOffset: this.durable,
      fenced: this.fencedBy === undefined ? 0 : 1,
      fencedByOffset: this.fencedBy ?? 0,
      repairing: this.repairFrom === undefined ? 0 : 1,
      retained: this.retained.size,
      tails: this.tails.size,
    };
  }

  /**
   * Flushes pending writes (at most `flushTimeoutMs`), stops the tails, closes the connections it owns. Idempotent.
   * @throws TraderError `E_TRADER_BUS` (after closing) when records were left unwritten.
   */
  close(): Promise<void> {
    this.closing ??= (async () => {
      let flushError: unknown;
      if (this.queue.length > 0 && this.fencedBy === undefined) {
        try {
          await this.flush();
        } catch (e) {
          flushError = e;
        }
      }
      this.closed = true;
      clearTimeout(this.retryTimer);
      this.retryTimer = undefined;
      await Promise.all([...this.tails].map((t) => t.stop()));
      // A write still in flight settles (or times out) before the connection goes.
      while (this.writing) await new Promise((r) => setTimeout(r, 10));
      for (const w of this.waiters) {
        clearTimeout(w.timer);
        w.reject(new TraderError('E_TRADER_BUS', 'event log closed'));
      }
      this.waiters = [];
      this.conn.client.off('ready', this.onReady);
      this.conn.detach();
      if (this.conn.owned) await closeClient(this.conn.client);
      if (this.queue.length > 0)
        throw new TraderError('E_TRADER_BUS', `event log closed with ${this.queue.length} records unwritten`, {
          cause: flushError,
        });
    })();
    return this.closing;
  }
}

type TailContext<T> = ReturnType<RedisEventLog<T>['tailContext']>;

/** One running tail: a read loop on its own blocking connection, resuming after the last delivered offset. */
class RedisTail<T> {
  readonly done: Promise<void>;
  /** Offset of the last record delivered (or skipped as malformed): the next read starts after it. */
  after: number;
  private readonly ctx: TailContext<T>;
  private readonly loop: BlockingReadLoop;
  private epoch: string;
  /** Bumped on every 'ready' of the tail's connection: a reply may come from a server other than the last one. */
  private generation = 0;
  private checkedGeneration = 0;
  private readonly replay: ReplayCheck;

  constructor(
    log: RedisEventLog<T>,
    after: number,
    private readonly onRecords: (records: LogRecord<T>[]) => void,
    private readonly onDiverged?: (error: TraderError) => void,
  ) {
    this.after = after;
    this.ctx = log.tailContext();
    this.replay = new ReplayCheck(this.ctx.checkWindow);
    this.epoch = this.ctx.epoch();
    // A tail started before start() learnt the epoch checks it on its first read.
    if (this.epoch === '') this.checkedGeneration = -1;
    this.loop = new BlockingReadLoop(this.ctx.target, {
      ...this.ctx.hooks,
      onOpen: (client) =>
        client.on('ready', () => {
          this.generation++;
        }),
    });
    this.done = this.loop.run(() => this.step());
  }

  /** True between a read error and the next successful read. */
  get failing(): boolean {
    return this.loop.failing;
  }

  /**
   * Claims the epoch on the tail's connection. When it changed (the log was recreated), the tail starts over at
   * offset 0 of the new offset space and tells the caller to drop what it just read.
   */
  private async checkEpoch(): Promise<boolean> {
    const generation = this.generation;
    const epoch = await withTimeout(this.ctx.claimEpoch(this.loop.client), BLOCK_GRACE_MS, 'epoch check');
    this.checkedGeneration = generation;
    const changed = this.epoch !== '' && epoch !== this.epoch;
    if (changed) {
      this.after = 0;
      this.replay.clear();
    } else if (!this.replay.checking) {
      // The same offset space, perhaps on another server: read what was delivered again before going on.
      this.after = this.replay.rewind(this.after);
    }
    this.epoch = epoch;
    return changed;
  }

  private async step(): Promise<void> {
    if (this.generation !== this.checkedGeneration) await this.checkEpoch();
    const reply = (await this.loop.read(
      (client, blockMs) =>
        client.xread('COUNT', this.ctx.batchSize, 'BLOCK', blockMs, 'STREAMS', this.ctx.logKey, `${this.after}-0`),
      'XREAD',
    )) as [string, [string, string[]][]][] | null;
    if (this.loop.isStopped) return;
    // The connection came back while the read waited (ioredis resends or queues it): the answer may be from a
    // restarted server that lost the log, where offsets mean something else. Check (and re-read) before delivering.
    if (this.generation !== this.checkedGeneration) {
      await this.checkEpoch();
      return;
    }
    const rows = reply?.[0]?.[1];
    if (rows === undefined || rows.length === 0) return;
    let records: LogRecord<T>[];
    try {
      records = this.decodeRows(rows);
    } catch (e) {
      this.diverged((e as Error).message);
      return;
    }
    if (records.length > 0) this.ctx.delivery.deliver(this, records, this.onRecords);
    // Past skipped malformed entries too, so they are not read again.
    this.after = Math.max(this.after, offsetOf((rows[rows.length - 1] as [string, string[]])[0]));
  }

  /**
   * Decodes a batch, leaving out the entries read again after a reconnection (checked, not delivered twice); an
   * entry that is not ours (no JSON data) is skipped and counted, not retried forever.
   * @throws Error when the stream no longer holds an entry this tail delivered ({@link ReplayCheck}).
   */
  private decodeRows(rows: [string, string[]][]): LogRecord<T>[] {
    const records: LogRecord<T>[] = [];
    for (const [id, fields] of rows) {
      const offset = offsetOf(id);
      const digest = entryDigest(fields);
      if (this.replay.check(offset, digest) === 'seen') {
        // Delivered before this reconnection and still there, identical: not again.
        this.after = Math.max(this.after, offset);
        this.ctx.onRechecked();
        continue;
      }
      this.replay.delivered(offset, digest);
      try {
        records.push(decode<T>(id, fields));
      } catch {
        this.ctx.onMalformed();
      }
    }
    return records;
  }

  /** Stops for good: the stream under this tail is no longer the history it delivered. */
  private diverged(why: string): void {
    this.ctx.onDiverged(why);
    this.loop.stop();
    this.onDiverged?.(new TraderError('E_TRADER_BUS', why, { field: 'stream' }));
  }

  stop(): Promise<void> {
    this.loop.stop();
    return this.done;
  }
}

function offsetOf(id: string): number {
  return Number(id.slice(0, id.indexOf('-')));
}

function decode<T>(id: string, fields: string[]): LogRecord<T> {
  // The writer puts t, w, d in this order; look the fields up anyway in case another tool wrote the entry.
  const ts = fields[0] === 't' ? fields[1] : entryField(fields, 't');
  const json = fields[4] === 'd' ? fields[5] : entryField(fields, 'd');
  if (json === undefined)
    throw new TraderError('E_TRADER_MALFORMED', `stream entry ${id} has no data field`, { field: 'd' });
  return { offset: offsetOf(id), ts: Number(ts), data: JSON.parse(json) as T };
}
