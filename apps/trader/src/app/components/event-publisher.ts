import type { EventLog } from '../../bus/types.js';
import type { TraderConfig } from '../../config/config-types.js';
import { TraderError } from '../../errors.js';
import type { JournalEntry } from '../../journal/journal.js';
import type { Component, ComponentHealth } from '../../kernel/component.js';
import { ReadModel } from '../../read-model/read-model.js';
import type { BookTop, EngineStatus, TraderRecord } from '../../read-model/trader-record.js';
import type { EngineComponent } from './engine-component.js';
import type { JournalComponent } from './journal-component.js';

/** Book levels per side in `market` records. */
const BOOK_DEPTH = 10;

/**
 * The engine's side of the event stream. Every journal entry the engine applies becomes an `entry` record; book
 * tops and the engine's status follow on timers. The component folds every record it appends into its own
 * {@link ReadModel} (which the API reads in `--role all`) and saves that model beside the stream now and then, so a
 * new gateway starts from the snapshot and tails only the rest.
 *
 * At start it learns what the stream already holds (snapshot plus the records after it) and publishes the journal
 * entries the stream lacks (a crash between the journal write and the publish), so the stream is a complete copy
 * of the journal. A stream that holds entries beyond the journal belongs to another data dir: the start is refused.
 */
export class EventPublisher implements Component {
  readonly name = 'event-stream';
  readonly critical = false;
  readonly model = new ReadModel();
  #timers: NodeJS.Timeout[] = [];
  #appendErrors = 0;
  #lastError: string | undefined;
  #snapshotting = false;
  #stopped = false;
  #statusInFlight = false;
  /** Entry records appended and not yet known durable, in offset order (their journal sequence). */
  #uncommitted: { offset: number; seq: number }[] = [];
  #committedSeq = 0;

  constructor(
    private readonly config: TraderConfig,
    private readonly journal: JournalComponent,
    private readonly engine: EngineComponent,
    private readonly log: EventLog<TraderRecord>,
    private readonly status: () => Promise<EngineStatus>,
  ) {}

  #epoch = '';

  async start(): Promise<void> {
    await this.log.start();
    this.#epoch = this.log.epoch;
    const snap = await this.log.loadSnapshot();
    if (snap !== undefined) this.model.restore(JSON.parse(snap.json));
    for (let after = this.model.offset; ; ) {
      const records = await this.log.read(after, 1_000);
      for (const r of records) this.model.apply(r.offset, r.data);
      if (records.length < 1_000) break;
      after = (records[records.length - 1] as { offset: number }).offset;
    }
    const journalSeq = this.journal.journal().lastSeq;
    if (this.model.lastEntrySeq > journalSeq)
      throw new TraderError(
        'E_TRADER_BUS',
        `event stream ${this.config.bus.key} holds journal entries up to seq ${this.model.lastEntrySeq}, but the journal ${this.journal.path} ends at seq ${journalSeq}: this data dir did not feed that stream. Start with the data dir that did, or with another bus.key`,
        { field: 'bus.key' },
      );
    this.#committedSeq = this.model.lastEntrySeq;
    for (const entry of this.engine.takeStartEntries())
      if (entry.seq > this.model.lastEntrySeq) this.publish({ k: 'entry', entry });
    this.engine.engine().onEntry((entry: JournalEntry) => this.publish({ k: 'entry', entry }));
    this.publishMarket();
    const every = (ms: number, fn: () => void) => {
      const t = setInterval(fn, ms);
      t.unref();
      this.#timers.push(t);
    };
    every(this.config.bus.marketIntervalMs, () => this.publishMarket());
    every(1_000, () => void this.publishStatus());
    every(this.config.bus.snapshotIntervalMs, () => void this.saveSnapshot());
    await this.publishStatus();
  }

  /** Appends one record and folds it into the model. Never throws into the engine: failures are counted. */
  private publish(record: TraderRecord): void {
    let offset: number;
    try {
      offset = this.log.append(record);
    } catch (e) {
      this.#appendErrors++;
      this.#lastError = (e as Error).message;
      return;
    }
    this.model.apply(offset, record);
    if (record.k === 'entry') this.#uncommitted.push({ offset, seq: record.entry.seq });
  }

  /**
   * The journal sequence of the last entry durable in the event stream (engine active/standby: the commit point the
   * journal writer may not pass). 0 before start.
   */
  committedEntrySeq(): number {
    const durable = Number(this.log.stats().durableOffset ?? Number.POSITIVE_INFINITY);
    let done = 0;
    while (done < this.#uncommitted.length && (this.#uncommitted[done] as { offset: number }).offset <= durable) done++;
    if (done > 0) {
      this.#committedSeq = (this.#uncommitted[done - 1] as { seq: number }).seq;
      this.#uncommitted.splice(0, done);
    }
    return this.#committedSeq;
  }

  private publishMarket(): void {
    const engine = this.engine.engine();
    const books: BookTop[] = [];
    for (const [symbol, sync] of engine.books) {
      const b = sync.book;
      if (!b.isValid()) continue;
      const top = b.top(BOOK_DEPTH);
      books.push({
        symbol,
        bid: b.bestBid(),
        ask: b.bestAsk(),
        mid: b.mid(),
        bids: top.bids,
        asks: top.asks,
        synced: engine.isSynced(symbol),
      });
    }
    if (books.length > 0) this.publish({ k: 'market', ts: Date.now(), books });
  }

  private async publishStatus(): Promise<void> {
    if (this.#statusInFlight || this.#stopped) return;
    this.#statusInFlight = true;
    try {
      this.publish({ k: 'status', ts: Date.now(), status: await this.status() });
    } catch (e) {
      this.#lastError = (e as Error).message;
    } finally {
      this.#statusInFlight = false;
    }
  }

  /** Saves the model beside the stream. The state is taken first, then the stream flushed, so the snapshot's offset is durable before it is named. */
  async saveSnapshot(): Promise<void> {
    if (this.#snapshotting) return;
    this.#snapshotting = true;
    try {
      const state = this.model.toJSON();
      await this.log.flush();
      await this.log.saveSnapshot(state.offset, JSON.stringify(state));
    } catch (e) {
      this.#lastError = (e as Error).message;
    } finally {
      this.#snapshotting = false;
    }
  }

  /** Flushes the stream: every record appended so far is durable. */
  flush(): Promise<void> {
    return this.log.flush();
  }

  async healthCheck(signal?: AbortSignal): Promise<ComponentHealth> {
    const h = await this.log.healthCheck(signal);
    if (this.log.epoch !== this.#epoch)
      return {
        status: 'fail',
        output: `the event stream was reset (epoch ${this.#epoch} -> ${this.log.epoch}), so it lacks the journal: restart the engine, which republishes the journal into the new stream`,
      };
    if (this.#appendErrors > 0)
      return {
        status: 'fail',
        output: `${this.#appendErrors} records could not be appended (${this.#lastError}); gateways miss them until the engine restarts`,
        details: h.details ?? {},
      };
    return { ...h, observedValue: this.model.offset, observedUnit: 'last offset' };
  }

  stats(): Record<string, unknown> {
    return { ...this.log.stats(), appendErrors: this.#appendErrors, model: this.model.stats() };
  }

  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    for (const t of this.#timers) clearInterval(t);
    this.#timers = [];
    try {
      this.publishMarket();
      this.publish({ k: 'status', ts: Date.now(), status: await this.status() });
    } catch {
      // the engine may already be closed; the last snapshot below still holds every entry
    }
    await this.saveSnapshot();
    await this.log.close();
  }
}
