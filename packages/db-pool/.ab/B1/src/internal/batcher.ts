/** Options of {@link Batcher}. */
export interface BatcherOptions<T> {
  /** A batch is written when it reaches this many rows. */
  maxRows: number;
  /** ...or when its oldest row has waited this long. */
  maxDelayMs: number;
  /** Rows buffered in total (all keys) beyond which `add` rejects (backpressure). */
  maxBufferedRows: number;
  /** Writes one batch. A rejection fails every `add` whose rows were in it. */
  write: (key: string, rows: T[]) => Promise<void>;
  /** Makes the backpressure error. */
  overflowError: (buffered: number) => Error;
}

interface Pending<T> {
  rows: T[];
  waiters: { resolve: () => void; reject: (error: unknown) => void }[];
  timer: NodeJS.Timeout | undefined;
}

/**
 * Groups rows per key (table) into batches written at `maxRows` or after `maxDelayMs`,
 * whichever first; each `add` resolves when its rows are written (or rejects with the write
 * error). Bounded: at most `maxBufferedRows` rows wait in memory.
 */
export class Batcher<T> {
  private readonly pending = new Map<string, Pending<T>>();
  private readonly inflight = new Set<Promise<void>>();
  private buffered = 0;
  private closed = false;
  /** Counters for stats(). */
  readonly counters = { batches: 0, rowsWritten: 0, failedBatches: 0, rowsFailed: 0, rejectedRows: 0 };
  lastError: string | undefined;

  constructor(private readonly options: BatcherOptions<T>) {}

  /** Rows waiting (not yet handed to `write`). */
  get bufferedRows(): number {
    return this.buffered;
  }

  /** Batches being written now. */
  get inflightBatches(): number {
    return this.inflight.size;
  }

  add(key: string, rows: T[]): Promise<void> {
    if (this.closed) return Promise.reject(new Error('batcher closed'));
    if (rows.length === 0) return Promise.resolve();
    if (this.buffered + rows.length > this.options.maxBufferedRows) {
      this.counters.rejectedRows += rows.length;
      return Promise.reject(this.options.overflowError(this.buffered));
    }
    let p = this.pending.get(key);
    if (p === undefined) {
      p = { rows: [], waiters: [], timer: undefined };
      this.pending.set(key, p);
    }
    for (const row of rows) p.rows.push(row);
    this.buffered += rows.length;
    const done = new Promise<void>((resolve, reject) => {
      p.waiters.push({ resolve, reject });
    });
    if (p.rows.length >= this.options.maxRows) this.flushKey(key);
    else if (p.timer === undefined) {
      p.timer = setTimeout(() => this.flushKey(key), this.options.maxDelayMs);
      p.timer.unref();
    }
    return done;
  }

  private flushKey(key: string): void {
    const p = this.pending.get(key);
    if (p === undefined) return;
    this.pending.delete(key);
    clearTimeout(p.timer);
    this.buffered -= p.rows.length;
    // Very large adds are split so no single write exceeds maxRows.
    const chunks: T[][] = [];
    for (let i = 0; i < p.rows.length; i += this.options.maxRows)
      chunks.push(p.rows.slice(i, i + this.options.maxRows));
    const run = (async () => {
      try {
        for (const chunk of chunks) {
          await this.options.write(key, chunk);
          this.counters.batches++;
          this.counters.rowsWritten += chunk.length;
        }
        for (const w of p.waiters) w.resolve();
      } catch (error) {
        this.counters.failedBatches++;
        this.counters.rowsFailed += p.rows.length;
        this.lastError = error instanceof Error ? error.message : String(error);
        for (const w of p.waiters) w.reject(error);
      }
    })();
    this.inflight.add(run);
    run.finally(() => this.inflight.delete(run)).catch(() => {});
  }

  /** Writes everything buffered now and waits for all writes in flight. */
  async flush(): Promise<void> {
    for (const key of [...this.pending.keys()]) this.flushKey(key);
    await Promise.allSettled([...this.inflight]);
  }

  /** Flushes and refuses further rows. Idempotent. */
  async close(): Promise<void> {
    this.closed = true;
    await this.flush();
  }
}
