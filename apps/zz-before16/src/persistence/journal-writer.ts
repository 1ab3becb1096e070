import { createPartitionedTable, maintainPartitions, type TimePartitionSpec } from '@cryptoscalp/db-pool';
import { Journal, type JournalEntry } from '../journal/journal.js';
import type { JournalEvents } from '../model/journal-events.js';
import type { Fill } from '../model/types.js';
import { Portfolio } from '../portfolio/portfolio.js';
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
  degraded: boolean;
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
  private timer: NodeJS.Timeout | undefined;
  private partitionTimer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> | undefined;
  private readonly partitionDays = new Set<string>();
  private closed = false;
  private nextAttemptAt = 0;
  private readonly counters = { batches: 0, entriesWritten: 0, failures: 0, catchUps: 0 };
  private lastError: string | undefined;
  private readonly o: Required<
    Omit<JournalWriterOptions, 'db' | 'schema' | 'instanceId' | 'journalPath' | 'currentSeq' | 'name'>
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
    };
  }

  /** Creates the schema, reads the cursor and starts the flush loop (catching up first). Throws if PostgreSQL is down. */
  async start(): Promise<void> {
    await this.prepare();
    this.timer = setInterval(() => void this.flush(), this.o.flushIntervalMs);
    this.timer.unref();
    this.partitionTimer = setInterval(() => void this.maintain(), 3_600_000);
    this.partitionTimer.unref();
    await this.flush();
  }

  private async prepare(): Promise<void> {
    const db = this.options.db;
    await ensureSchema(db, this.schema);
    await createPartitionedTable(db, this.spec, FILLS_COLUMNS);
    await this.maintain();
    await db.query(
      `insert into ${this.schema}.writer_cursor (instance_id, last_seq, updated_at) values ($1, 0, now()) on conflict (instance_id) do nothing`,
      [this.options.instanceId],
    );
    const { rows } = await db.query(`select last_seq from ${this.schema}.writer_cursor where instance_id = $1`, [
      this.options.instanceId,
    ]);
    this.persisted = Number(rows[0]?.last_seq ?? 0);
    this.rebuildShadow();
  }

  private async maintain(): Promise<void> {
    try {
      await maintainPartitions(this.options.db, this.spec);
    } catch (e) {
      this.lastError = (e as Error).message;
    }
  }

  /** Rebuilds the positions as of the persisted cursor from the journal file. */
  private rebuildShadow(): void {
    const fresh = new Portfolio();
    for (const e of Journal.read(this.options.journalPath)) {
      if (e.seq > this.persisted) break;
      if (e.type === 'fill') fresh.applyFill(e.data as Fill);
    }
    this.shadow = fresh;
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
    this.flushing = this.doFlush().finally(() => {
      this.flushing = undefined;
    });
    return this.flushing;
  }

  private async doFlush(): Promise<void> {
    if (this.closed && this.queue.length === 0 && !this.needsCatchUp) return;
    if (Date.now() < this.nextAttemptAt) return;
    try {
      if (this.needsCatchUp) {
        // Entries written while catching up are in the file too: read everything past the cursor.
        this.queue = [];
        this.needsCatchUp = false;
        const pending = Journal.read(this.options.journalPath, this.persisted);
        if (pending.length > 0) this.counters.catchUps++;
        for (let i = 0; i < pending.length; i += this.o.batchSize)
          await this.writeBatch(pending.slice(i, i + this.o.batchSize));
      }
      while (this.queue.length > 0) {
        const batch = this.queue.splice(0, this.o.batchSize);
        await this.writeBatch(batch);
      }
      this.lastError = undefined;
    } catch (e) {
      this.counters.failures++;
      this.lastError = (e as Error).message;
      this.queue = [];
      this.needsCatchUp = true;
      this.nextAttemptAt = Date.now() + this.o.retryMs;
      this.rebuildShadow();
    }
  }

  private async writeBatch(batch: JournalEntry[]): Promise<void> {
    const fresh = batch.filter((e) => e.seq > this.persisted);
    if (fresh.length === 0) return;
    const s = this.schema;
    for (const e of fresh) {
      if (e.type === 'fill') await this.ensurePartition((e.data as Fill).ts);
    }
    let shadow = this.shadow;
    const last = await this.options.db.transaction(async (tx) => {
      // The callback may be re-run (serialization retry): work on a copy of the positions each time.
      shadow = this.shadow.clone();
      const touched = new Set<string>();
      const { rows } = await tx.query(`select last_seq from ${s}.writer_cursor where instance_id = $1 for update`, [
        this.options.instanceId,
      ]);
      const cursor = Number(rows[0]?.last_seq ?? 0);
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
      await tx.query(`update ${s}.writer_cursor set last_seq = $2, updated_at = now() where instance_id = $1`, [
        this.options.instanceId,
        lastSeq,
      ]);
      return lastSeq;
    });
    this.persisted = last;
    this.shadow = shadow;
    this.counters.batches++;
    this.counters.entriesWritten += fresh.length;
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
      lastError: this.lastError,
    };
  }

  /**
   * Health in `@cryptoscalp/health`'s shape: `warn` while PostgreSQL is behind or unreachable (trading continues on the
   * journal), `pass` otherwise. `observedValue` is the number of journal entries not yet in PostgreSQL.
   */
  async healthCheck(): Promise<{
    status: 'pass' | 'warn';
    observedValue: number;
    observedUnit: string;
    output?: string;
  }> {
    const journalSeq = this.options.currentSeq?.();
    const lag = journalSeq === undefined ? this.queue.length : Math.max(0, journalSeq - this.persisted);
    const degraded = this.lastError !== undefined;
    return {
      status: degraded ? 'warn' : 'pass',
      observedValue: lag,
      observedUnit: 'journal entries behind',
      ...(degraded ? { output: 'PostgreSQL writes failing; trading continues on the journal and will catch up' } : {}),
    };
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
