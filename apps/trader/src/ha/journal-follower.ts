import type { EventLog, LogRecord, TailHandle } from '../bus/types.js';
import { TraderError } from '../errors.js';
import {
  cutJournalAfter,
  Journal,
  type JournalEntry,
  type JournalOptions,
  SNAPSHOT_ENTRY,
} from '../journal/journal.js';
import type { TraderRecord } from '../read-model/trader-record.js';

/** Records per read while catching up. */
const READ_BATCH = 1_000;

/**
 * A standby engine's copy of the journal: every `entry` record of the event stream appended to the local journal
 * with the same sequence number, time, type and data, so at takeover the local journal equals the stream and a
 * replay gives the state the active engine had committed.
 *
 * At start the local journal is checked against the stream: entries both hold must be identical (another group's
 * journal is refused), and entries beyond the stream's last one (journaled by this data dir as a leader but never
 * committed) are cut off, because the stream is the committed history the next leader continues.
 */
export class JournalFollower {
  #journal: Journal | undefined;
  #local: JournalEntry[] = [];
  #after = 0;
  #streamSeq = 0;
  #tail: TailHandle | undefined;
  #failure: string | undefined;
  /** Entries appended from the stream since start; entries cut from the local tail; segments started. */
  readonly counts = { followed: 0, truncated: 0, rotated: 0, rotationFailures: 0 };

  constructor(
    private readonly log: EventLog<TraderRecord>,
    private readonly path: string,
    private readonly journalOptions: JournalOptions,
  ) {}

  /** Sequence number of the last local entry. */
  get lastSeq(): number {
    return this.#journal?.lastSeq ?? 0;
  }

  /** Offset of the last stream record read. */
  get offset(): number {
    return this.#after;
  }

  /** Why following stopped (the stream and the journal disagree), or undefined. */
  get failure(): string | undefined {
    return this.#failure;
  }

  /** Opens the journal, reads the whole stream into it, cuts an uncommitted local tail, then follows live. */
  async start(): Promise<void> {
    this.#open();
    await this.catchUp();
    if (this.#failure !== undefined) throw new TraderError('E_TRADER_JOURNAL', this.#failure, { field: 'journal' });
    if ((this.#journal as Journal).lastSeq > this.#streamSeq) this.#cutTo(this.#streamSeq);
    this.#local = [];
    this.#tail = this.log.tail(
      this.#after,
      (records) => this.#apply(records),
      (error) => {
        this.#failure ??= `${error.message}: this journal cannot follow the event stream any more`;
      },
    );
  }

  /** Reads every record after the last one applied, to the stream's current end. */
  async catchUp(): Promise<void> {
    for (;;) {
      const records = await this.log.read(this.#after, READ_BATCH);
      // A live tail may have applied some of these meanwhile: #apply skips what it has.
      this.#apply(records);
      if (records.length < READ_BATCH) return;
    }
  }

  /**
   * At takeover, after the fence was raised (nothing more can be appended by the old leader): stops the tail, reads
   * the rest of the stream and closes the journal, which then equals the stream.
   * @throws TraderError `E_TRADER_JOURNAL` when the journal could not follow the stream.
   */
  async finish(): Promise<void> {
    await this.#tail?.stop();
    this.#tail = undefined;
    await this.catchUp();
    // A stream that ends before what this standby read lost records its writer had appended (a Redis failover)
    // and the writer did not put back: leading would write other records under those offsets, so it does not.
    const last = await this.log.lastOffset();
    if (last < this.#after)
      this.#failure ??= `the event stream ends at offset ${last}, before offset ${this.#after} that this standby read: it lost records and their writer did not re-append them, so this engine does not lead on a gap`;
    this.#journal?.close();
    this.#journal = undefined;
    if (this.#failure !== undefined) throw new TraderError('E_TRADER_JOURNAL', this.#failure, { field: 'journal' });
  }

  /** Stops following and closes the journal. Idempotent. */
  async close(): Promise<void> {
    await this.#tail?.stop();
    this.#tail = undefined;
    this.#journal?.close();
    this.#journal = undefined;
  }

  #open(): void {
    const { journal } = Journal.open(this.path, this.journalOptions);
    this.#journal = journal;
    // Every entry still kept (all segments), not only what a start would replay: each is checked against the stream.
    this.#local = Journal.read(this.path);
  }

  /**
   * Cuts the local journal after `seq`: entries this data dir journaled as a leader that never reached the stream
   * (the next leader wrote its own entries at those sequence numbers). The cut entries are kept beside the journal.
   */
  #cutTo(seq: number): void {
    (this.#journal as Journal).close();
    this.counts.truncated += cutJournalAfter(this.path, seq);
    this.#open();
  }

  #apply(records: readonly LogRecord<TraderRecord>[]): void {
    for (const r of records) {
      if (r.offset <= this.#after || this.#failure !== undefined || this.#journal === undefined) continue;
      this.#after = r.offset;
      if (r.data.k !== 'entry') continue;
      const e = r.data.entry;
      this.#streamSeq = Math.max(this.#streamSeq, e.seq);
      if (e.seq <= this.#journal.lastSeq) {
        const first = this.#local[0]?.seq ?? 1;
        const mine = this.#local[e.seq - first];
        if (mine === undefined || JSON.stringify(mine) === JSON.stringify(e)) continue;
        // The same history up to here, then not: the rest of ours was never committed.
        if (e.seq > first) this.#cutTo(e.seq - 1);
        else {
          this.#failure = `the event stream's entry ${e.seq} differs from this journal's (${this.path}): this data dir did not follow this stream`;
          continue;
        }
      }
      const journal = this.#journal;
      if (e.seq !== journal.lastSeq + 1) {
        this.#failure = `the event stream jumps from entry ${journal.lastSeq} to ${e.seq} (trimmed, or another stream): this journal cannot follow it`;
        continue;
      }
      // The leader began a segment here (its snapshot entry comes first in it): so does this copy, so a takeover
      // replays from that snapshot on.
      if (e.type === SNAPSHOT_ENTRY && journal.segmentSize > 0) {
        try {
          if (journal.rotate()) this.counts.rotated++;
        } catch {
          // Still one segment: a takeover then replays from an earlier snapshot, slower but the same state.
          this.counts.rotationFailures++;
        }
      }
      journal.append(e.type, e.data, e.ts);
      this.counts.followed++;
    }
  }
}
