import { Counter } from 'prom-client';
import { LOG_LEVELS, type Log, type LogLevel } from '../internal/log.js';

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

  /**
   * The trader's {@link Log}: counts each line at its level (`info` when none is given; an unknown level counts as
   * `info`), then hands it to `write` with that level (one stream for every level, so the lines keep their order).
   * A line is counted whether or not `write` lets it through (`log.level`): the counter is what the trader reported,
   * so the error-log-rate alert does not change with the log level.
   */
  logger(write: (line: string, level: LogLevel) => void): Log {
    const children = new Map<string, Counter.Internal>(
      LOG_LEVELS.map((level) => [level, this.metric.labels(level)] as const),
    );
    const info = children.get('info') as Counter.Internal;
    return (line, level = 'info') => {
      const child = children.get(level);
      (child ?? info).inc();
      write(line, child === undefined ? 'info' : level);
    };
  }
}
