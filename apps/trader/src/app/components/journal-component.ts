import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { TraderConfig } from '../../config/config-types.js';
import { TraderError } from '../../errors.js';
import type { Log } from '../../internal/log.js';
import { acquireDataDirLock, type DataDirLock } from '../../journal/data-dir-lock.js';
import { Journal, type JournalOptions, type JournalRecovery } from '../../journal/journal.js';
import type { Component, ComponentHealth } from '../../kernel/component.js';

/**
 * The data dir and its journal: takes the data dir lock (a second process on the same data dir is refused, a
 * lock left by a crashed process is taken over), then opens the journal and reads it for replay.
 */
export class JournalComponent implements Component {
  readonly name = 'journal';
  readonly critical = true;
  readonly path: string;
  readonly dataDir: string;
  #journal: Journal | undefined;
  #recovery: JournalRecovery | undefined;
  #lock: DataDirLock | undefined;
  #log: Log;

  constructor(config: TraderConfig, log: Log) {
    this.dataDir = resolve(config.dataDir);
    this.path = resolve(config.journal.path || join(config.dataDir, 'journal.jsonl'));
    this.#options = {
      fsync: config.journal.fsync,
      fsyncIntervalMs: config.journal.fsyncIntervalMs,
      segmentBytes: config.journal.segmentBytes,
      retainSegments: config.journal.retainSegments,
    };
    this.#log = log;
  }

  readonly #options: JournalOptions;

  start(): void {
    mkdirSync(this.dataDir, { recursive: true });
    try {
      this.#lock = acquireDataDirLock(this.dataDir);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== 'ENOSPC' && code !== 'EDQUOT') throw e;
      throw new TraderError(
        'E_TRADER_JOURNAL',
        `cannot start: the data dir ${this.dataDir} is full (${(e as Error).message}); the journal was not touched. Free space on its filesystem and start again`,
        { field: 'dataDir', cause: e },
      );
    }
    if (this.#lock.takenOver !== undefined)
      this.#log(`trader: took over a stale lock of ${this.dataDir} (${this.#lock.takenOver.reason})`, 'warn');
    const { journal, recovery } = Journal.open(this.path, this.#options);
    this.#journal = journal;
    this.#recovery = recovery;
  }

  /** The open journal. */
  journal(): Journal {
    if (this.#journal === undefined) throw new TraderError('E_TRADER_JOURNAL', 'journal is not open');
    return this.#journal;
  }

  /**
   * What the journal held at open (entries to replay, torn bytes cut), handed over once: the entries can be large,
   * and this component keeps no reference to them afterwards.
   */
  takeRecovery(): JournalRecovery {
    const recovery = this.#recovery;
    if (recovery === undefined)
      throw new TraderError('E_TRADER_JOURNAL', 'journal is not open, or its recovery was taken');
    this.#recovery = undefined;
    return recovery;
  }

  async healthCheck(): Promise<ComponentHealth> {
    const j = this.#journal;
    if (j === undefined) return { status: 'fail', output: 'journal is not open' };
    const f = j.failure;
    if (f !== undefined) {
      // Critical: readiness turns 503. The engine opens no positions until appends succeed again (it retries).
      return {
        status: 'fail',
        observedValue: j.lastSeq,
        observedUnit: 'last sequence',
        output: `appends fail since ${new Date(f.since).toISOString()}: ${f.reason}; no new orders, cancels still go out, retrying`,
      };
    }
    return { status: 'pass', observedValue: j.lastSeq, observedUnit: 'last sequence' };
  }

  stop(): void {
    this.#recovery = undefined;
    this.#journal?.close();
    this.#lock?.release();
  }
}
