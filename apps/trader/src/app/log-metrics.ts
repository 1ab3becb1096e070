import { Counter } from 'prom-client';

/** Level names of `cryptoscalp_log_messages_total{level}` (pino's, so a leveled logger maps onto them as is). */
export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'] as const;

/** One of {@link LOG_LEVELS}. */
export type LogLevel = (typeof LOG_LEVELS)[number];

/**
 * Counts the trader's log lines by level as `cryptoscalp_log_messages_total{level}`, for the error-log-rate alert.
 * The counter exists from the first line on (before monitoring starts) and joins the monitoring registry at its start.
 */
export class LogCounter {
  /** The counter, registered nowhere until the monitoring component registers it. */
  readonly metric = new Counter({
    name: 'cryptoscalp_log_messages_total',
    help: 'Log lines written by the trader, by level.',
    labelNames: ['level'],
    registers: [],
  });

  constructor() {
    // Every level's series exists at 0 from the start, so a rate over it is 0 rather than absent before the first line.
    for (const level of LOG_LEVELS) this.metric.labels(level).inc(0);
  }

  /** A line sink that counts each line at `level`, then passes it on to `write`. */
  wrap(level: LogLevel, write: (line: string) => void): (line: string) => void {
    const child = this.metric.labels(level);
    return (line) => {
      child.inc();
      write(line);
    };
  }
}
