import { randomUUID } from 'node:crypto';
import { TraderError } from '../errors.js';
import { EVENT_LOG_DEFAULTS } from './internal/defaults.js';
import { EVENT_LOG_CHECKS } from './internal/option-checks.js';
import { checkOffset, checkOptions, checkReadArgs, checkSnapshotArgs } from './internal/options.js';
import { TailDelivery } from './internal/tail-delivery.js';
import type { BusHealth, EventLog, LogRecord, MemoryEventLogOptions, TailHandle } from './types.js';

interface MemoryTail<T> {
  after: number;
  readonly onRecords: (records: LogRecord<T>[]) => void;
  scheduled: boolean;
  stopped: boolean;
}

/**
 * An in-process {@link EventLog} for the single-process role (`--role all`) and for unit tests: the same offsets,
 * ordering, gaps-on-trim and snapshot semantics as the Redis log, with nothing durable beyond the process. Records
 * hold the appended value itself, not a copy: treat them as immutable. Tails deliver on a later turn of the event
 * loop (setImmediate), never inside `append`.
 */
export class MemoryEventLog<T> implements EventLog<T> {
  /** Health indicator name. */
  readonly name: string;
  /** A new log (a new process) is a new offset space. */
  readonly epoch = randomUUID();
  private readonly maxLength: number;
  private readonly batchSize: number;
  /** Records in offset order; `records[i].offset === first + i`. Trimmed from the front in chunks. */
  private records: LogRecord<T>[] = [];
  private first = 1;
  private last = 0;
  private snapshot: { offset: number; json: string } | undefined;
  private readonly tails = new Set<MemoryTail<T>>();
  private closed = false;
  private readonly counts = { appended: 0, trimmed: 0 };
  private readonly delivery = new TailDelivery();

  /** @throws TraderError `E_TRADER_INVALID_OPTION` naming the field. */
  constructor(options: MemoryEventLogOptions = {}) {
    checkOptions(options, EVENT_LOG_CHECKS);
    this.name = options.name ?? EVENT_LOG_DEFAULTS.name;
    this.maxLength = options.maxLength ?? EVENT_LOG_DEFAULTS.maxLength;
    this.batchSize = options.batchSize ?? EVENT_LOG_DEFAULTS.batchSize;
  }

  /** Nothing to connect; present for the common lifecycle. */
  async start(): Promise<void> {}

  /**
   * Assigns the next offset and stores the record; tails are woken for a later turn.
   * @throws TraderError `E_TRADER_BUS` after `close()`.
   */
  append(data: T): number {
    if (this.closed) throw new TraderError('E_TRADER_BUS', 'event log is closed');
    const offset = ++this.last;
    this.records.push({ offset, ts: Date.now(), data });
    this.counts.appended++;
    // Trim in chunks of a tenth, so the array shift is amortised (the Redis log trims approximately too).
    if (this.records.length > this.maxLength + Math.ceil(this.maxLength / 10)) {
      const drop = this.records.length - this.maxLength;
      this.records = this.records.slice(drop);
      this.first += drop;
      this.counts.trimmed += drop;
    }
    for (const tail of this.tails) this.wake(tail);
    return offset;
  }

  /** Every appended record is already in the log. */
  async flush(): Promise<void> {}

  /** Highest offset (0 when empty). */
  async lastOffset(): Promise<number> {
    return this.last;
  }

  /** Records with offset > afterOffset, at most `limit`, in order. */
  async read(afterOffset: number, limit: number): Promise<LogRecord<T>[]> {
    checkReadArgs(afterOffset, limit);
    return this.slice(afterOffset, limit);
  }

  private slice(afterOffset: number, limit: number): LogRecord<T>[] {
    const start = Math.max(0, afterOffset + 1 - this.first);
    return this.records.slice(start, start + limit);
  }

  /** Follows the log from `afterOffset`: one batch per event-loop turn until caught up, then on every append. */
  tail(afterOffset: number, onRecords: (records: LogRecord<T>[]) => void): TailHandle {
    checkOffset(afterOffset, 'afterOffset');
    if (this.closed) throw new TraderError('E_TRADER_BUS', 'event log is closed');
    const tail: MemoryTail<T> = { after: afterOffset, onRecords, scheduled: false, stopped: false };
    this.tails.add(tail);
    this.wake(tail);
    return {
      stop: async () => {
        tail.stopped = true;
        this.tails.delete(tail);
      },
    };
  }

  private wake(tail: MemoryTail<T>): void {
    if (tail.scheduled || tail.stopped || tail.after >= this.last) return;
    tail.scheduled = true;
    setImmediate(() => this.deliver(tail));
  }

  private deliver(tail: MemoryTail<T>): void {
    tail.scheduled = false;
    if (tail.stopped) return;
    const batch = this.slice(tail.after, this.batchSize);
    if (batch.length === 0) return;
    this.delivery.deliver(tail, batch, tail.onRecords);
    // More than one batch behind: the rest goes on the next turn, so I/O is not starved by a long replay.
    this.wake(tail);
  }

  /** Keeps the snapshot in memory. */
  async saveSnapshot(offset: number, json: string): Promise<void> {
    checkSnapshotArgs(offset, json);
    this.snapshot = { offset, json };
  }

  /** The last saved snapshot, or undefined. */
  async loadSnapshot(): Promise<{ offset: number; json: string } | undefined> {
    return this.snapshot === undefined ? undefined : { ...this.snapshot };
  }

  /** `pass` while open (observed value: records held), `warn` after a reader fell behind the trim. */
  async healthCheck(_signal?: AbortSignal): Promise<BusHealth> {
    const details = this.stats();
    const base = { observedValue: this.records.length, observedUnit: 'records', details };
    if (this.closed) return { status: 'fail', ...base, output: 'event log is closed' };
    const { gaps, skipped } = this.delivery.counts;
    if (gaps > 0) return { status: 'warn', ...base, output: `${skipped} records trimmed before a tail read them` };
    return { status: 'pass', ...base };
  }

  /** Counters and gauges, all plain numbers (same names as the Redis log where they apply). */
  stats(): Record<string, number> {
    return {
      ...this.counts,
      ...this.delivery.stats(),
      written: this.counts.appended,
      writeErrors: 0,
      pending: 0,
      reconnects: 0,
      lastOffset: this.last,
      durableOffset: this.last,
      tails: this.tails.size,
    };
  }

  /** Stops the tails; later appends throw. Idempotent. */
  async close(): Promise<void> {
    this.closed = true;
    for (const tail of this.tails) tail.stopped = true;
    this.tails.clear();
  }
}
