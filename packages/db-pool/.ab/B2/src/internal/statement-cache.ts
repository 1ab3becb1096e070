import { createHash } from 'node:crypto';
import { normalizeStatement } from '../normalize.js';
import type { QueryStatsRegistry, StatementEntry } from '../query-stats.js';

/** What the manager knows about one SQL text, computed once. */
export interface StatementInfo {
  normalized: string;
  /** Name for an automatically prepared statement (`cs_<hash>`), or undefined when it must not be prepared. */
  preparedName: string | undefined;
  entry: StatementEntry;
}

/** Distinct SQL texts remembered; beyond this, infos are computed per call and never auto-prepared. */
const MAX_TEXTS = 2_000;

/**
 * Per SQL text: its normalized form, its stats entry and a stable prepared-statement name,
 * so the hot path does one Map lookup instead of normalizing and hashing.
 */
export class StatementCache {
  private readonly byText = new Map<string, StatementInfo>();

  constructor(private readonly stats: QueryStatsRegistry) {}

  lookup(text: string): StatementInfo {
    const cached = this.byText.get(text);
    if (cached !== undefined) return cached;
    const normalized = normalizeStatement(text);
    const info: StatementInfo = {
      normalized,
      preparedName: undefined,
      entry: this.stats.entry(normalized),
    };
    if (this.byText.size < MAX_TEXTS) {
      // Only remembered texts are prepared: an unbounded stream of distinct texts (literals
      // inlined into SQL) would otherwise leak prepared statements on every connection.
      info.preparedName = `cs_${createHash('sha1').update(text).digest('hex').slice(0, 20)}`;
      this.byText.set(text, info);
    }
    return info;
  }

  /** Drops remembered texts (used by `resetQueryStats()`); prepared names stay stable because they are hashes. */
  clear(): void {
    this.byText.clear();
  }
}
