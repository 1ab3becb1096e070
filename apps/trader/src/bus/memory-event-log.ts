import { randomUUID } from 'node:crypto';
import { TraderError } from '../errors.js';
import {
  checkLimit,
  checkOffset,
  checkOptions,
  integerAtLeast,
  invalidOption,
  nonEmptyString,
} from './internal/options.js';
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
  private readonly counts = { appended: 0, delivered: 0, gaps: 0, skipped: 0, trimmed: 0, handlerErrors: 0 };
  private lastDeliveredTs = 0;
  private lastLagMs = 0;

  /** @throws TraderError `E_TRADER_INVALID_OPTION` naming the field. */
  constructor(options: MemoryEventLogOptions = {}) {
    checkOptions(options, { maxLength: integerAtLeast(1), name: nonEmptyString, batchSize: integerAtLeast(1) });
    this.name = options.name ?? 'event-log';
    this.maxLength = options.maxLength ?? 100_000;
    this.batchSize = options.batchSize ?? 1_000;
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
    checkOffset(afterOffset, 'afterOffset');
    checkLimit(limit);
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
    const first = batch[0];
    if (first === undefined) return;
    if (first.offset !== tail.after + 1) {
      this.counts.gaps++;
      this.counts.skipped += first.offset - tail.after - 1;
    }
    const lastRecord = batch[batch.length - 1] as LogRecord<T>;
    tail.after = lastRecord.offset;
    this.counts.delivered += batch.length;
    this.lastDeliveredTs = lastRecord.ts;
    this.lastLagMs = Date.now() - lastRecord.ts;
    try {
      tail.onRecords(batch);
    } catch {
      this.counts.handlerErrors++;
    }
    // More than one batch behind: the rest goes on the next turn, so I/O is not starved by a long replay.
    this.wake(tail);
  }

  /** Keeps the snapshot in memory. */
  async saveSnapshot(offset: number, json: string): Promise<void> {
    checkOffset(offset, 'offset');
    if (typeof json !== 'string') invalidOption('json', 'must be a string');
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
    if (this.counts.gaps > 0)
      return { status: 'warn', ...base, output: `${this.counts.skipped} records trimmed before a tail read them` };
    return { status: 'pass', ...base };
  }

  /** Counters and gauges, all plain numbers (same names as the Redis log where they apply). */
  stats(): Record<string, number> {
    return {
      ...this.counts,
      written: this.counts.appended,
      writeErrors: 0,
      pending: 0,
      reconnects: 0,
      lastOffset: this.last,
      durableOffset: this.last,
      tails: this.tails.size,
      lastDeliveredTs: this.lastDeliveredTs,
      lagMs: this.lastLagMs,
    };
  }

  /** Stops the tails; later appends throw. Idempotent. */
  async close(): Promise<void> {
    this.closed = true;
    for (const tail of this.tails) tail.stopped = true;
    this.tails.clear();
  }
}
