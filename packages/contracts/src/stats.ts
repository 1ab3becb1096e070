/**
 * One leaf or branch of a `stats()` snapshot: plain data only. Numbers (and booleans, exported as 0/1) become
 * gauges in `@cryptoscalp/monitoring`; strings are descriptive and not exported; nested objects are walked.
 */
export type StatsValue = number | boolean | string | undefined | StatsRecord;

/** A `stats()` snapshot: a plain object of {@link StatsValue}s (no class instances, Maps, arrays or functions). */
export interface StatsRecord {
  readonly [key: string]: StatsValue;
}

/** A component with a cheap synchronous `stats()` snapshot (what `Monitoring.watch()` reads at scrape time). */
export interface StatsSource {
  /** The component's name; equal to the `component` field of everything it publishes on its channels. */
  readonly name: string;
  /** Counters and gauges, cumulative since construction where they count. */
  stats(): StatsRecord;
}
