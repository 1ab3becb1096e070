import { Histogram } from './internal/histogram.js';
import type { StatementStats } from './types.js';

/** Key under which statements beyond `maxTrackedStatements` are counted. */
export const OTHER_STATEMENT = '<other>';

/** @internal mutable per-statement counters. */
export class StatementEntry {
  calls = 0;
  errors = 0;
  rows = 0;
  totalMs = 0;
  readonly histogram = new Histogram();
  constructor(readonly statement: string) {}

  record(durationMs: number, rows: number, failed: boolean): void {
    this.calls++;
    if (failed) this.errors++;
    this.rows += rows;
    this.totalMs += durationMs;
    this.histogram.record(durationMs);
  }

  snapshot(): StatementStats {
    return {
      statement: this.statement,
      calls: this.calls,
      errors: this.errors,
      rows: this.rows,
      totalMs: this.totalMs,
      meanMs: this.calls === 0 ? 0 : this.totalMs / this.calls,
      p95Ms: this.histogram.percentile(95),
      p99Ms: this.histogram.percentile(99),
      maxMs: this.histogram.max,
    };
  }
}

/**
 * Statistics per normalized statement with bounded memory: at most `maxStatements` entries
 * (plus `<other>`), each a fixed-size histogram.
 */
export class QueryStatsRegistry {
  private readonly entries = new Map<string, StatementEntry>();

  constructor(private readonly maxStatements: number) {}

  /** The entry for a normalized statement (or the shared `<other>` entry when full). */
  entry(statement: string): StatementEntry {
    let entry = this.entries.get(statement);
    if (entry !== undefined) return entry;
    if (this.entries.size >= this.maxStatements) {
      entry = this.entries.get(OTHER_STATEMENT);
      if (entry === undefined) {
        entry = new StatementEntry(OTHER_STATEMENT);
        this.entries.set(OTHER_STATEMENT, entry);
      }
      return entry;
    }
    entry = new StatementEntry(statement);
    this.entries.set(statement, entry);
    return entry;
  }

  /** Snapshot of every statement, most total time first. */
  snapshot(): StatementStats[] {
    return [...this.entries.values()].map((e) => e.snapshot()).sort((a, b) => b.totalMs - a.totalMs);
  }

  /** Forgets all statements (entries held by the statement cache keep counting into detached objects until it is cleared too). */
  reset(): void {
    this.entries.clear();
  }

  get size(): number {
    return this.entries.size;
  }
}
