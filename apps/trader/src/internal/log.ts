/** Level names of the trader's log lines (pino's, so a leveled logger maps onto them as is). */
export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'] as const;

/** One of {@link LOG_LEVELS}. */
export type LogLevel = (typeof LOG_LEVELS)[number];

/**
 * The trader's line logger: components write one human-readable line with its level (`info` when left out). The
 * level is counted (`cryptoscalp_log_messages_total{level}`, the error-log-rate alert).
 */
export type Log = (line: string, level?: LogLevel) => void;
