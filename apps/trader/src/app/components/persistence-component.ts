import type { TraderConfig } from '../../config/config-types.js';
import type { Log } from '../../internal/log.js';
import type { Component, ComponentHealth } from '../../kernel/component.js';
import { isHistoryMismatch, JournalWriter, type JournalWriterStats } from '../../persistence/journal-writer.js';
import type { SqlRunner } from '../../persistence/sql-database.js';
import { WalArchiveMonitor } from '../../persistence/wal-archive.js';
import type { EngineComponent } from './engine-component.js';
import type { JournalComponent } from './journal-component.js';
import type { PostgresComponent } from './postgres-component.js';

/** How long the start waits for PostgreSQL to check its history against the journal before going on without it. */
const START_CHECK_MS = 5_000;

/**
 * The journal writer: every journal entry into PostgreSQL, each batch in one transaction with the journal cursor.
 * At start it checks that the database's history for this instance is this journal's, and refuses to start when it
 * is not (a fresh data dir against a used database would reuse order ids and skip writes). Trading never waits for
 * PostgreSQL otherwise: when it is down at start the writer retries every second in the background, catches up
 * from the journal file, and halts trading if the check fails then.
 */
export class PersistenceComponent implements Component {
  readonly name = 'persistence';
  #writer: JournalWriter | undefined;
  #archive: WalArchiveMonitor | undefined;
  #stopped = false;
  #deferred = true;

  constructor(
    private readonly config: TraderConfig,
    private readonly journal: JournalComponent,
    private readonly postgres: PostgresComponent,
    private readonly engine: EngineComponent,
    private readonly log: Log,
    /**
     * Engine active/standby: the lease check run first in every batch's transaction, and the last journal sequence
     * committed to the event stream (nothing past it is written).
     */
    private readonly ha?: { fence: (tx: SqlRunner) => Promise<void>; writableSeq: () => number },
  ) {}

  async start(): Promise<void> {
    const journal = this.journal.journal();
    const engine = this.engine.engine();
    const writer = new JournalWriter({
      db: this.postgres.pool(),
      schema: this.config.database.schema,
      instanceId: this.config.instanceId,
      journalPath: this.journal.path,
      currentSeq: () => journal.lastSeq,
      onHistoryMismatch: (e) => this.halt(e),
      ...(this.ha === undefined ? {} : { fence: this.ha.fence, writableSeq: this.ha.writableSeq }),
    });
    this.#writer = writer;
    // Archived journal segments are deleted only once PostgreSQL holds all their entries.
    journal.durableSeq = () => writer.persistedSeq;
    engine.onEntry((e) => writer.enqueue(e));
    // The primary's WAL archiving, which nothing else in the process sees fail (an external PostgreSQL only).
    if (!this.postgres.embedded && this.config.database.archiveCheckMs > 0) {
      this.#archive = new WalArchiveMonitor({
        db: this.postgres.pool(),
        intervalMs: this.config.database.archiveCheckMs,
        onError: (e) => this.log(`trader: WAL archive check failed: ${e.message}`, 'warn'),
      });
      this.#archive.start();
    }
    try {
      await writer.start({ timeoutMs: START_CHECK_MS });
      this.#deferred = false;
      return;
    } catch (e) {
      // Refuse to start: nothing has traded yet, and trading now would reuse ids the database holds.
      if (isHistoryMismatch(e)) throw e;
      this.log(
        `trader: postgres unavailable (${(e as Error).message}); trading on the journal, the writer will catch up`,
        'warn',
      );
    }
    // Trading never waits for PostgreSQL: the writer starts (and catches up from the journal) in the background,
    // retrying every second while the database is away.
    void this.run(writer);
  }

  private async run(writer: JournalWriter): Promise<void> {
    while (!this.#stopped) {
      await new Promise((r) => setTimeout(r, 1000).unref());
      if (this.#stopped) return;
      try {
        await writer.start();
        this.#deferred = false;
        this.log('trader: postgres reachable: journal writer caught up');
        return;
      } catch (e) {
        if (isHistoryMismatch(e)) {
          this.halt(e as Error);
          return;
        }
      }
    }
  }

  /** Sequence number of the last journal entry in PostgreSQL. */
  persistedSeq(): number {
    return this.#writer?.persistedSeq ?? 0;
  }

  /** Trading already runs when the history check fails (PostgreSQL was away at start): stop it, say why. */
  private halt(e: Error): void {
    this.log(`trader: ${e.message}`, 'error');
    this.engine
      .engine()
      .setTradingState('HALTED', 'the database holds history this journal does not have (see persistence)');
  }

  /** How long PostgreSQL writes have been failing, ms (0 when they succeed). */
  failingMs(): number {
    return this.#writer?.failingFor() ?? 0;
  }

  /** True until the writer has started against PostgreSQL (it was unreachable, or the first start is running). */
  get deferred(): boolean {
    return this.#deferred;
  }

  async healthCheck(): Promise<ComponentHealth> {
    if (this.#writer === undefined) return { status: 'fail', output: 'not started' };
    return this.#writer.healthCheck();
  }

  stats(): Record<string, unknown> {
    const s: JournalWriterStats | undefined = this.#writer?.stats();
    const out: Record<string, unknown> = s === undefined ? {} : { ...s };
    if (this.#archive !== undefined) out.walArchive = this.#archive.stats();
    return out;
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    await this.#archive?.close();
    await this.#writer?.close();
  }
}
