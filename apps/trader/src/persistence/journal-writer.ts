import { createPartitionedTable, maintainPartitions, type TimePartitionSpec } from '@cryptoscalp/db-pool';
import { TraderError } from '../errors.js';
import { ClientOrderIdGenerator } from '../execution/client-order-id.js';
import { Journal, type JournalEntry, SNAPSHOT_ENTRY } from '../journal/journal.js';
import type { EngineSnapshot, JournalEvents } from '../model/journal-events.js';
import type { Fill } from '../model/types.js';
import { Portfolio, type PortfolioState } from '../portfolio/portfolio.js';
import { checkSchemaName, ensureSchema, FILLS_COLUMNS } from './schema.js';
import type { SqlDatabase, SqlRunner } from './sql-database.js';

/** Options of {@link JournalWriter}. */
export interface JournalWriterOptions {
  db: SqlDatabase;
  /** Schema of the trader's tables. @default 'trader' */
  schema?: string;
  /** Whose journal this is (the cursor row). */
  instanceId: string;
  /** The journal file, read to catch up after a restart or an outage. */
  journalPath: string;
  /** The journal's current sequence (for the lag in health and stats). @default undefined */
  currentSeq?: () => number;
  /** Health indicator name. @default 'persistence' */
  name?: string;
  /** Entries per transaction. @default 500 */
  batchSize?: number;
  /** Flush interval of queued entries. @default 50 */
  flushIntervalMs?: number;
  /** Wait after a failed write before retrying (from the journal file). @default 1000 */
  retryMs?: number;
  /** Queued entries beyond this are dropped from memory (the journal still has them; catch-up reads the file). @default 50000 */
  maxQueue?: number;
  /**
   * A batch's transaction must have its first statement running within this long, or the attempt fails (and is
   * retried after `retryMs`): a database that is away shows as failures at once instead of a wait inside the
   * pool's failover. @default 2000
   */
  connectWaitMs?: number;
  /** Deadline of one attempt: a batch's whole transaction, or the start's schema work. @default 10000 */
  attemptTimeoutMs?: number;
  /** Writes failing for this long turn health from `warn` to `fail`. @default 30000 */
  failAfterMs?: number;
  /**
   * Called when a running writer finds the database holding another journal's history (the writer stops writing);
   * `start` throws instead.
   */
  onHistoryMismatch?: (error: Error) => void;
  /**
   * Run last in every batch's transaction, just before the commit; throwing rolls the batch back (engine
   * active/standby: the lease epoch check, so an engine that lost its lease writes nothing). @default none
   */
  fence?: (tx: SqlRunner) => Promise<void>;
  /**
   * The highest journal sequence the writer may write (engine active/standby: the last entry committed to the event
   * stream, so PostgreSQL never holds an entry the next leader's journal lacks); later entries wait. @default all
   */
  writableSeq?: () => number;
}

/**
 * True for the error the writer throws when the database holds journal history for this instance that the journal
 * does not have (a fresh or another data dir): writing would skip entries, and the engine would reuse order ids.
 */
export function isHistoryMismatch(e: unknown): boolean {
  return e instanceof TraderError && e.code === 'E_TRADER_PERSISTENCE' && e.field === 'journal.history';
}

const noop = () => {};

/**
 * Thrown inside a batch's transaction (which then rolls back) when the database's cursor is behind what this writer
 * wrote: the database was restored to an earlier point (or its last commits were lost in a failover). The writer
 * moves its cursor back to the database's and catches up from the journal, so the lost entries are written again.
 */
class CursorRegressed extends Error {
  constructor(readonly cursor: number) {
    super(`the database's writer cursor went back to ${cursor}`);
  }
}

/** Counters of the writer. */
export interface JournalWriterStats {
  persistedSeq: number;
  /** Journal entries not yet in PostgreSQL (when `currentSeq` is given). */
  lag: number | undefined;
  queued: number;
  batches: number;
  entriesWritten: number;
  failures: number;
  catchUps: number;
  /** Times the database's cursor was found behind the writer's (a restore or a lost commit): rewritten from the journal. */
  cursorRegressions: number;
  degraded: boolean;
  /** How long writes have been failing (0 when they succeed). */
  failingMs: number;
  lastError: string | undefined;
}

/**
 * Writes the journal to PostgreSQL: orders, fills (trade history in daily partitions), positions and risk events,
 * each batch in one transaction together with the journal cursor, so every entry lands exactly once. Live entries
 * are queued from the engine; after a failure (PostgreSQL down) the queue is dropped and the writer catches up from
 * the journal file once PostgreSQL answers again, so trading never waits for the database.
 */
export class JournalWriter {
  private readonly schema: string;
  private readonly spec: TimePartitionSpec;
  private shadow = new Portfolio();
  private queue: JournalEntry[] = [];
  private persisted = 0;
  private needsCatchUp = true;
  /** The positions must be rebuilt from the journal before the next batch (after a failure or a cursor regression). */
  private shadowStale = false;
  private timer: NodeJS.Timeout | undefined;
  private partitionTimer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> | undefined;
  private readonly partitionDays = new Set<string>();
  private closed = false;
  private nextAttemptAt = 0;
  /** Date.now() of the first failure of the current run of failures. */
  private failingSince: number | undefined;
  /** Set when the database's history is not this journal's: the writer writes nothing more. */
  private mismatch: TraderError | undefined;
  /** Identity of the journal (its first entry), stored with the cursor. */
  private origin: string | undefined;
  private readonly counters = { batches: 0, entriesWritten: 0, failures: 0, catchUps: 0, cursorRegressions: 0 };
  private lastError: string | undefined;
  private readonly o: Required<
    Omit<
      JournalWriterOptions,
      | 'db'
      | 'schema'
      | 'instanceId'
      | 'journalPath'
      | 'currentSeq'
      | 'name'
      | 'onHistoryMismatch'
      | 'fence'
      | 'writableSeq'
    >
  >;
  /** Health indicator name. */
  readonly name: string;

  constructor(private readonly options: JournalWriterOptions) {
    this.schema = checkSchemaName(options.schema ?? 'trader');
    this.name = options.name ?? 'persistence';
    this.spec = { table: `${this.schema}.fills`, column: 'ts', interval: 'day', premake: 2 };
    this.o = {
      batchSize: options.batchSize ?? 500,
      flushIntervalMs: options.flushIntervalMs ?? 50,
      retryMs: options.retryMs ?? 1000,
      maxQueue: options.maxQueue ?? 50_000,
      connectWaitMs: options.connectWaitMs ?? 2_000,
      attemptTimeoutMs: options.attemptTimeoutMs ?? 10_000,
      failAfterMs: options.failAfterMs ?? 30_000,
    };
  }

  /**
   * Creates the schema, reads the cursor, checks that the database's history for this instance is this journal's,
   * and starts the flush loop (catching up first). Throws if PostgreSQL does not answer within `attemptTimeoutMs`,
   * and, for a database holding history the journal lacks, an error for which {@link isHistoryMismatch} is true.
   */
  async start(options: { timeoutMs?: number } = {}): Promise<void> {
    if (this.mismatch !== undefined) throw this.mismatch;
    try {
      await this.bounded(options.timeoutMs ?? this.o.attemptTimeoutMs, (signal) => this.prepare(signal));
    } catch (e) {
      this.failed(e);
      throw e;
    }
    this.timer = setInterval(() => void this.flush(), this.o.flushIntervalMs);
    this.timer.unref();
    this.partitionTimer = setInterval(() => void this.maintain(), 3_600_000);
    this.partitionTimer.unref();
    await this.flush();
  }

  /** Runs `work` with an abort signal, failing with a timeout error after `ms` (the work is aborted then). */
  private async bounded<T>(ms: number, work: (signal: AbortSignal) => Promise<T>): Promise<T> {
    const ac = new AbortController();
    const wait = deadline(ms, ac);
    const running = work(ac.signal);
    running.catch(noop); // it may still settle after the deadline won the race
    try {
      return await Promise.race([running, wait.expired]);
    } finally {
      wait.clear();
    }
  }

  private failed(e: unknown): void {
    this.counters.failures++;
    this.lastError = (e as Error).message;
    this.failingSince ??= Date.now();
    if (isHistoryMismatch(e)) this.mismatch = e as TraderError;
  }

  private async prepare(signal: AbortSignal): Promise<void> {
    const db = this.options.db;
    const s = this.schema;
    await ensureSchema(db, s);
    signal.throwIfAborted();
    await createPartitionedTable(db, this.spec, FILLS_COLUMNS);
    await this.maintain();
    signal.throwIfAborted();
    await db.query(
      `insert into ${s}.writer_cursor (instance_id, last_seq, updated_at) values ($1, 0, now()) on conflict (instance_id) do nothing`,
      [this.options.instanceId],
    );
    const { rows } = await db.query(`select last_seq, journal_origin from ${s}.writer_cursor where instance_id = $1`, [
      this.options.instanceId,
    ]);
    // Ids are `<instanceId>-<zero-padded counter>`: the range scan on the key finds this instance's highest.
    const prefix = `${this.options.instanceId}-`;
    const ids = await db.query(
      `select max(client_order_id) as id from ${s}.orders where client_order_id >= $1 and client_order_id < $2`,
      [prefix, `${this.options.instanceId}.`],
    );
    signal.throwIfAborted();
    const entries = Journal.read(this.options.journalPath);
    this.checkHistory(
      Number(rows[0]?.last_seq ?? 0),
      (rows[0]?.journal_origin as string | null | undefined) ?? undefined,
      (ids.rows[0]?.id as string | null | undefined) ?? undefined,
      entries,
    );
    this.persisted = Number(rows[0]?.last_seq ?? 0);
    this.origin = Journal.origin(this.options.journalPath);
    this.rebuildShadow(entries);
  }

  /**
   * Refuses a database whose history for this instance is not this journal's: its cursor counts in another
   * journal, or beyond this one's end, or it holds an order id this journal never submitted.
   */
  private checkHistory(
    cursor: number,
    cursorOrigin: string | undefined,
    maxOrderId: string | undefined,
    entries: readonly JournalEntry[],
  ): void {
    const origin = Journal.origin(this.options.journalPath);
    const lastSeq = entries.length === 0 ? 0 : (entries[entries.length - 1] as JournalEntry).seq;
    let why: string | undefined;
    if (cursor > 0 && cursorOrigin !== undefined && cursorOrigin !== origin) {
      why = `its writer cursor (at ${cursor}) counts in the journal that began ${cursorOrigin}, this one ${origin === undefined ? 'is empty' : `began ${origin}`}`;
    } else if (cursor > lastSeq) {
      why = `its writer cursor is at entry ${cursor}, this journal ends at ${lastSeq}`;
    } else if (
      maxOrderId !== undefined &&
      !entries.some(
        (e) =>
          (e.type === 'order.submitted' && (e.data as { clientOrderId: string }).clientOrderId === maxOrderId) ||
          // Segments deleted after rotation: a snapshot entry says which ids were issued before it.
          (e.type === SNAPSHOT_ENTRY &&
            ClientOrderIdGenerator.format(this.options.instanceId, (e.data as EngineSnapshot).idCounter) >= maxOrderId),
      )
    ) {
      why = `it holds order ${maxOrderId}, which this journal never submitted`;
    }
    if (why === undefined) return;
    const id = this.options.instanceId;
    throw new TraderError(
      'E_TRADER_PERSISTENCE',
      `the database already holds history for instance ${id} that the journal ${this.options.journalPath} does not have: ${why}. ` +
        `Starting would reuse its client order ids and skip writing the journal. Fix: start with the data dir that holds ${id}'s journal (--data-dir DIR), ` +
        `or give this data dir its own instance id (TRADER_INSTANCE_ID=<a new id>, e.g. ${id}-b)`,
      { field: 'journal.history' },
    );
  }

  private async maintain(): Promise<void> {
    try {
      await maintainPartitions(this.options.db, this.spec);
    } catch (e) {
      this.lastError = (e as Error).message;
    }
  }

  /** Rebuilds the positions as of the persisted cursor from the journal file. */
  private rebuildShadow(entries?: readonly JournalEntry[]): void {
    this.shadow = this.positionsAt(this.persisted, entries);
  }

  /** The positions after the journal's entry `seq`. */
  private positionsAt(
    seq: number,
    entries: readonly JournalEntry[] = Journal.read(this.options.journalPath),
  ): Portfolio {
    let fresh = new Portfolio();
    for (const e of entries) {
      if (e.seq > seq) break;
      if (e.type === 'fill') fresh.applyFill(e.data as Fill);
      // The positions after every entry before it (the segments before may have been deleted).
      else if (e.type === SNAPSHOT_ENTRY)
        fresh = Portfolio.fromJSON((e.data as EngineSnapshot).portfolio as PortfolioState);
    }
    return fresh;
  }

  /** Queues an applied journal entry (called by the engine's entry listener; never blocks). */
  enqueue(entry: JournalEntry): void {
    if (this.closed || this.needsCatchUp) return; // catch-up will read it from the file
    if (this.queue.length >= this.o.maxQueue) {
      this.queue = [];
      this.needsCatchUp = true;
      return;
    }
    this.queue.push(entry);
  }

  /** Writes what is queued (or catches up from the file). Never throws; failures are counted. */
  flush(): Promise<void> {
    if (this.flushing) return this.flushing;
    // The flush timer calls this with `void`: a rejection here would be unhandled and end the process, so whatever
    // escapes the attempt (the journal file unreadable, a listener that throws) is one more counted failure.
    this.flushing = this.doFlush()
      .catch((e: unknown) => {
        this.failed(e);
        this.queue = [];
        this.needsCatchUp = true;
        this.shadowStale = true;
        this.nextAttemptAt = Date.now() + this.o.retryMs;
      })
      .finally(() => {
        this.flushing = undefined;
      });
    return this.flushing;
  }

  private async doFlush(): Promise<void> {
    if (this.closed && this.queue.length === 0 && !this.needsCatchUp) return;
    if (Date.now() < this.nextAttemptAt || this.mismatch !== undefined) return;
    try {
      // Inside the attempt: reading the journal file may fail too, and is retried with the rest.
      if (this.shadowStale) {
        this.rebuildShadow();
        this.shadowStale = false;
      }
      const limit = this.options.writableSeq?.() ?? Number.POSITIVE_INFINITY;
      if (this.needsCatchUp) {
        // Entries written while catching up are in the file too: read everything past the cursor.
        this.queue = [];
        this.needsCatchUp = false;
        const all = Journal.read(this.options.journalPath, this.persisted);
        const pending = all.filter((e) => e.seq <= limit);
        // Entries past the limit are neither written nor queued: catch up from the file again next time.
        if (pending.length < all.length) this.needsCatchUp = true;
        if (pending.length > 0) this.counters.catchUps++;
        for (let i = 0; i < pending.length; i += this.o.batchSize)
          await this.writeBatch(pending.slice(i, i + this.o.batchSize));
      }
      while (this.queue.length > 0 && (this.queue[0] as JournalEntry).seq <= limit) {
        let n = 1;
        while (n < this.o.batchSize && n < this.queue.length && (this.queue[n] as JournalEntry).seq <= limit) n++;
        await this.writeBatch(this.queue.splice(0, n));
      }
      this.lastError = undefined;
      this.failingSince = undefined;
    } catch (e) {
      if (e instanceof CursorRegressed) {
        this.counters.cursorRegressions++;
        this.persisted = e.cursor;
        this.queue = [];
        this.needsCatchUp = true;
        this.shadowStale = true;
        return;
      }
      this.failed(e);
      this.queue = [];
      this.needsCatchUp = true;
      this.nextAttemptAt = Date.now() + this.o.retryMs;
      this.shadowStale = true;
      if (this.mismatch !== undefined) this.options.onHistoryMismatch?.(this.mismatch);
    }
  }

  private async writeBatch(batch: JournalEntry[]): Promise<void> {
    const fresh = batch.filter((e) => e.seq > this.persisted);
    if (fresh.length === 0) return;
    // Usually the partition exists already (premade): one quick catalog query, bounded like getting a transaction.
    for (const e of fresh) {
      if (e.type === 'fill') await this.bounded(this.o.connectWaitMs, () => this.ensurePartition((e.data as Fill).ts));
    }
    this.origin ??= Journal.origin(this.options.journalPath);
    let shadow = this.shadow;
    // The short deadline covers getting the transaction going (a database that is away, a wait in the pool's
    // failover); once its callback runs, the transaction's own deadline (`timeoutMs`) bounds it.
    const ac = new AbortController();
    const wait = deadline(this.o.connectWaitMs, ac);
    let begun: () => void = noop;
    const begins = new Promise<void>((resolve) => {
      begun = resolve;
    });
    const running = this.options.db.transaction(
      async (tx) => {
        wait.clear();
        begun();
        return this.writeInTransaction(tx, fresh, (s) => {
          shadow = s;
        });
      },
      // No retry inside the pool: a retry there waits for the pool's failover; the writer retries from the journal.
      { signal: ac.signal, timeoutMs: this.o.attemptTimeoutMs, retries: 0 },
    );
    running.catch(noop); // it may still settle after the deadline won the race
    try {
      await Promise.race([begins, running, wait.expired]);
    } finally {
      wait.clear();
    }
    const last = await running;
    this.persisted = last;
    this.shadow = shadow;
    this.counters.batches++;
    this.counters.entriesWritten += fresh.length;
  }

  /** One batch inside its transaction (the callback may be re-run on a serialization retry). */
  private async writeInTransaction(
    tx: SqlRunner,
    fresh: readonly JournalEntry[],
    keep: (shadow: Portfolio) => void,
  ): Promise<number> {
    const s = this.schema;
    const touched = new Set<string>();
    const { rows } = await tx.query(
      `select last_seq, journal_origin from ${s}.writer_cursor where instance_id = $1 for update`,
      [this.options.instanceId],
    );
    const cursor = Number(rows[0]?.last_seq ?? 0);
    const cursorOrigin = (rows[0]?.journal_origin as string | null | undefined) ?? undefined;
    if (cursorOrigin !== undefined && cursorOrigin !== this.origin) {
      throw new TraderError(
        'E_TRADER_PERSISTENCE',
        `the writer cursor of ${this.options.instanceId} now counts in the journal that began ${cursorOrigin}, not this one (${this.origin}): another data dir writes as this instance`,
        { field: 'journal.history' },
      );
    }
    if (cursor < this.persisted) throw new CursorRegressed(cursor);
    // Work on a copy of the positions each time; positions as of the cursor when an attempt that timed out here
    // committed after all.
    const shadow = cursor > this.persisted ? this.positionsAt(cursor) : this.shadow.clone();
    keep(shadow);
    let lastSeq = cursor;
    for (const e of fresh) {
      if (e.seq <= cursor) continue; // another writer instance got there first
      await this.apply(tx, e, touched, shadow);
      lastSeq = e.seq;
    }
    for (const symbol of touched) {
      const p = shadow.snapshot(symbol);
      await tx.query(
        `insert into ${s}.positions (symbol, qty, avg_price, realized, fees, volume, fills, updated_at, journal_seq)
         values ($1, $2, $3, $4, $5, $6, $7, now(), $8)
         on conflict (symbol) do update set qty = excluded.qty, avg_price = excluded.avg_price, realized = excluded.realized,
           fees = excluded.fees, volume = excluded.volume, fills = excluded.fills, updated_at = now(), journal_seq = excluded.journal_seq`,
        [symbol, p.qty, p.avgPrice, p.realized, p.fees, p.volume, p.fills, lastSeq],
      );
    }
    await tx.query(
      `update ${s}.writer_cursor set last_seq = $2, journal_origin = coalesce(journal_origin, $3), updated_at = now() where instance_id = $1`,
      [this.options.instanceId, lastSeq, this.origin ?? null],
    );
    // Last, just before the commit: a lock the fence takes is then held for the commit only.
    await this.options.fence?.(tx);
    return lastSeq;
  }

  private async ensurePartition(ts: number): Promise<void> {
    const day = new Date(ts).toISOString().slice(0, 10);
    if (this.partitionDays.has(day)) return;
    await maintainPartitions(this.options.db, { ...this.spec, premake: 0 }, new Date(ts));
    this.partitionDays.add(day);
  }

  private async apply(tx: SqlRunner, e: JournalEntry, touched: Set<string>, shadow: Portfolio): Promise<void> {
    const s = this.schema;
    const ts = new Date(e.ts);
    switch (e.type) {
      case 'order.submitted': {
        const d = e.data as JournalEvents['order.submitted'];
        await tx.query(
          `insert into ${s}.orders (client_order_id, symbol, side, type, qty, price, status, reason, created_at, updated_at, journal_seq)
           values ($1, $2, $3, $4, $5, $6, 'submitted', $7, $8, $8, $9) on conflict (client_order_id) do nothing`,
          [d.clientOrderId, d.symbol, d.side, d.type, d.qty, d.price ?? null, d.reason ?? null, ts, e.seq],
        );
        return;
      }
      case 'order.accepted':
      case 'order.rejected':
      case 'order.cancelled': {
        const d = e.data as { clientOrderId: string; reason?: string };
        const status = e.type.slice('order.'.length);
        await tx.query(
          `update ${s}.orders set status = $2, reject_reason = coalesce($3, reject_reason), updated_at = $4, journal_seq = $5
           where client_order_id = $1`,
          [d.clientOrderId, status, e.type === 'order.rejected' ? (d.reason ?? null) : null, ts, e.seq],
        );
        return;
      }
      case 'fill': {
        const f = e.data as Fill;
        await tx.query(
          `insert into ${s}.fills (fill_id, client_order_id, symbol, side, price, qty, fee, liquidity, ts, journal_seq)
           values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) on conflict do nothing`,
          [f.fillId, f.clientOrderId, f.symbol, f.side, f.price, f.qty, f.fee, f.liquidity, new Date(f.ts), e.seq],
        );
        await tx.query(
          `update ${s}.orders set
             avg_price = (avg_price * filled_qty + $2::float8 * $3::float8) / (filled_qty + $3::float8),
             filled_qty = filled_qty + $3::float8,
             fees = fees + $4::float8,
             status = case when filled_qty + $3::float8 >= qty - 1e-9 then 'filled' else 'partially_filled' end,
             updated_at = $5, journal_seq = $6
           where client_order_id = $1`,
          [f.clientOrderId, f.price, f.qty, f.fee, new Date(f.ts), e.seq],
        );
        shadow.applyFill(f);
        touched.add(f.symbol);
        return;
      }
      case 'risk.state': {
        const d = e.data as JournalEvents['risk.state'];
        await tx.query(
          `insert into ${s}.risk_events (journal_seq, ts, from_state, to_state, reason, actor) values ($1, $2, $3, $4, $5, $6)
           on conflict (journal_seq) do nothing`,
          [e.seq, ts, d.from, d.to, d.reason, d.by],
        );
        return;
      }
      default:
        return;
    }
  }

  /** Sequence number of the last entry in PostgreSQL. */
  get persistedSeq(): number {
    return this.persisted;
  }

  /** Counters. */
  stats(): JournalWriterStats {
    const journalSeq = this.options.currentSeq?.();
    return {
      persistedSeq: this.persisted,
      lag: journalSeq === undefined ? undefined : Math.max(0, journalSeq - this.persisted),
      queued: this.queue.length,
      ...this.counters,
      degraded: this.needsCatchUp && this.counters.failures > 0,
      failingMs: this.failingFor(),
      lastError: this.lastError,
    };
  }

  /**
   * Health in `@cryptoscalp/health`'s shape: `warn` while PostgreSQL is behind or unreachable (trading continues on the
   * journal), `pass` otherwise. `observedValue` is the number of journal entries not yet in PostgreSQL.
   */
  async healthCheck(): Promise<{
    status: 'pass' | 'warn' | 'fail';
    observedValue: number;
    observedUnit: string;
    output?: string;
  }> {
    const journalSeq = this.options.currentSeq?.();
    const lag = journalSeq === undefined ? this.queue.length : Math.max(0, journalSeq - this.persisted);
    const base = { observedValue: lag, observedUnit: 'journal entries behind' };
    if (this.mismatch !== undefined) return { status: 'fail', ...base, output: this.mismatch.message };
    if (this.lastError === undefined) return { status: 'pass', ...base };
    const failingMs = this.failingFor();
    return {
      status: failingMs >= this.o.failAfterMs ? 'fail' : 'warn',
      ...base,
      output: `PostgreSQL writes failing for ${Math.round(failingMs / 1000)} s (${this.lastError}); trading continues on the journal and will catch up`,
    };
  }

  /** Milliseconds the writes have been failing (0 when they succeed). */
  failingFor(): number {
    return this.failingSince === undefined ? 0 : Date.now() - this.failingSince;
  }

  /** Writes what is queued (best effort) and stops. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    if (this.timer) clearInterval(this.timer);
    if (this.partitionTimer) clearInterval(this.partitionTimer);
    await this.flush();
    this.closed = true;
  }
}

/** A timer that rejects `expired` with a timeout error and aborts `ac` after `ms`, unless `clear()` comes first. */
function deadline(ms: number, ac: AbortController): { expired: Promise<never>; clear: () => void } {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const e = new TraderError('E_TRADER_PERSISTENCE', `PostgreSQL did not answer within ${ms} ms`);
      ac.abort(e);
      reject(e);
    }, ms);
  });
  expired.catch(noop);
  return { expired, clear: () => clearTimeout(timer) };
}
