import type { LogRecord } from '../types.js';

/**
 * Hands batches to tail callbacks and keeps what every event log reports about it (delivered, gaps, lag), so the
 * Redis and in-memory logs count the same things the same way.
 */
export class TailDelivery {
  /** Counters for `stats()`. */
  readonly counts = { delivered: 0, gaps: 0, skipped: 0, handlerErrors: 0 };
  private lastDeliveredTs = 0;
  private lastLagMs = 0;

  /** @param onGap told of every gap (besides the counters), e.g. to raise health to `warn` for a while. */
  constructor(private readonly onGap: (expected: number, got: number) => void = () => undefined) {}

  /**
   * Delivers `records` (in order, non-empty) to a tail that has seen everything up to `tail.after`, and moves
   * `tail.after` to the last of them. A first offset past `after + 1` is a gap (records trimmed or lost before the
   * tail read them): counted, and the tail goes on from there. A throwing callback is counted; its records still
   * count as delivered, since retrying them would deliver them twice.
   */
  deliver<T>(tail: { after: number }, records: LogRecord<T>[], onRecords: (records: LogRecord<T>[]) => void): void {
    const first = records[0] as LogRecord<T>;
    const last = records[records.length - 1] as LogRecord<T>;
    if (first.offset !== tail.after + 1) {
      this.counts.gaps++;
      this.counts.skipped += first.offset - tail.after - 1;
      this.onGap(tail.after + 1, first.offset);
    }
    // Before the callback: one that appends wakes this tail, which must then read on after these records.
    tail.after = last.offset;
    this.counts.delivered += records.length;
    this.lastDeliveredTs = last.ts;
    this.lastLagMs = Date.now() - last.ts;
    try {
      onRecords(records);
    } catch {
      this.counts.handlerErrors++;
    }
  }

  /** The counters and gauges for `stats()`, all plain numbers. */
  stats(): Record<string, number> {
    return { ...this.counts, lastDeliveredTs: this.lastDeliveredTs, lagMs: this.lastLagMs };
  }
}
