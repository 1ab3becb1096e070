import type { TraderConfig } from '../../config/config-types.js';
import type { Component, ComponentHealth } from '../../kernel/component.js';
import { JournalWriter, type JournalWriterStats } from '../../persistence/journal-writer.js';
import type { EngineComponent } from './engine-component.js';
import type { JournalComponent } from './journal-component.js';
import type { PostgresComponent } from './postgres-component.js';

/**
 * The journal writer: every journal entry into PostgreSQL, each batch in one transaction with the journal cursor.
 * Trading never waits for PostgreSQL: when it is down at start the writer retries every second in the background
 * and catches up from the journal file.
 */
export class PersistenceComponent implements Component {
  readonly name = 'persistence';
  #writer: JournalWriter | undefined;
  #stopped = false;
  #deferred = true;

  constructor(
    private readonly config: TraderConfig,
    private readonly journal: JournalComponent,
    private readonly postgres: PostgresComponent,
    private readonly engine: EngineComponent,
    private readonly log: (line: string) => void,
  ) {}

  start(): void {
    const journal = this.journal.journal();
    const writer = new JournalWriter({
      db: this.postgres.pool(),
      schema: this.config.database.schema,
      instanceId: this.config.instanceId,
      journalPath: this.journal.path,
      currentSeq: () => journal.lastSeq,
    });
    this.#writer = writer;
    this.engine.engine().onEntry((e) => writer.enqueue(e));
    // Trading never waits for PostgreSQL: the writer starts (and catches up from the journal) in the background,
    // retrying every second while the database is away.
    void this.run(writer);
  }

  private async run(writer: JournalWriter): Promise<void> {
    let logged = false;
    while (!this.#stopped) {
      try {
        await writer.start();
        this.#deferred = false;
        if (logged) this.log('trader: postgres reachable: journal writer caught up');
        return;
      } catch (e) {
        if (!logged) {
          logged = true;
          this.log(
            `trader: postgres unavailable (${(e as Error).message}); trading on the journal, the writer will catch up`,
          );
        }
      }
      await new Promise((r) => setTimeout(r, 1000).unref());
    }
  }

  /** Sequence number of the last journal entry in PostgreSQL. */
  persistedSeq(): number {
    return this.#writer?.persistedSeq ?? 0;
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
    return s === undefined ? {} : { ...s };
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    await this.#writer?.close();
  }
}
