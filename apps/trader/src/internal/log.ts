import pino from 'pino';
import { TraderError } from '../errors.js';

/** Level names of the trader's log lines (pino's, so a leveled logger maps onto them as is). */
export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'] as const;

/** One of {@link LOG_LEVELS}. */
export type LogLevel = (typeof LOG_LEVELS)[number];

/** How log lines are written: `text` (one human-readable line) or `json` (one pino object a line). */
export const LOG_FORMATS = ['text', 'json'] as const;

/** One of {@link LOG_FORMATS}. */
export type LogFormat = (typeof LOG_FORMATS)[number];

/**
 * The trader's line logger: components write one human-readable line with its level (`info` when left out). The
 * level is counted (`cryptoscalp_log_messages_total{level}`, the error-log-rate alert).
 */
export type Log = (line: string, level?: LogLevel) => void;

/** Options of {@link createLogWriter}. Unknown keys are rejected. */
export interface LogWriterOptions {
  /** `text`: the line as is; `json`: a pino object (`level` as its name, `time` in epoch ms, `msg`, base fields). */
  format: LogFormat;
  /** Lines below this level are not written. @default 'info' */
  level?: LogLevel;
  /** Fields of every JSON line (the trader's `role` and `instance`); not written in `text`. @default {} */
  base?: Readonly<Record<string, string | number>>;
  /** Where a line goes, without its line break (`text`; `json` too unless `fd` is set). */
  write: (line: string) => void;
  /**
   * `json` only: a file descriptor the lines are written to synchronously (pino's `SonicBoom` with `sync: true`)
   * instead of `write`, so the last lines before `process.exit` (the stop summary, why it exits) are on their way
   * out when the process ends, not left in a pipe's write queue (`process.stdout` is asynchronous on POSIX pipes).
   */
  fd?: number;
}

const WRITER_OPTION_KEYS: ReadonlySet<string> = new Set(['format', 'level', 'base', 'write', 'fd']);

const invalid = (field: string, why: string): TraderError =>
  new TraderError('E_TRADER_INVALID_OPTION', `invalid log option ${field}: ${why}`, { field });

const isLevel = (v: unknown): v is LogLevel => typeof v === 'string' && (LOG_LEVELS as readonly string[]).includes(v);

/**
 * A {@link Log} that writes each line at or above `level` in `format`; lines below it are dropped (counting is the
 * caller's: `LogCounter` counts before this). A level that is not a {@link LogLevel} (a caller outside TypeScript) is
 * written as `info`, the level it is counted at. Every call writes at once, in call order, on one stream.
 * @throws TraderError `E_TRADER_INVALID_OPTION` naming the bad field (unknown keys too).
 */
export function createLogWriter(options: LogWriterOptions): Log {
  for (const key of Object.keys(options)) if (!WRITER_OPTION_KEYS.has(key)) throw invalid(key, 'unknown option');
  const { format, level: min = 'info', base = {}, write, fd } = options;
  if (!(LOG_FORMATS as readonly string[]).includes(format))
    throw invalid('format', `must be one of ${LOG_FORMATS.join(', ')} (got ${JSON.stringify(format)})`);
  if (!isLevel(min)) throw invalid('level', `must be one of ${LOG_LEVELS.join(', ')} (got ${JSON.stringify(min)})`);
  if (typeof write !== 'function') throw invalid('write', 'must be a function');
  if (fd !== undefined && !(Number.isInteger(fd) && fd >= 0))
    throw invalid('fd', `must be a file descriptor (got ${JSON.stringify(fd)})`);
  if (typeof base !== 'object' || base === null) throw invalid('base', 'must be an object');

  if (format === 'text') {
    const minRank = LOG_LEVELS.indexOf(min);
    return (line, level = 'info') => {
      if (LOG_LEVELS.indexOf(isLevel(level) ? level : 'info') >= minRank) write(line);
    };
  }
  // Synchronous: the trader logs tens of lines a run plus its warnings (nothing per tick), so a write(2) a line
  // costs nothing that matters, and nothing is lost to `process.exit` or a crash right after the line.
  const destination =
    fd === undefined
      ? { write: (chunk: string) => write(chunk.endsWith('\n') ? chunk.slice(0, -1) : chunk) }
      : pino.destination({ fd, sync: true });
  // A closed pipe (EPIPE) must not crash a shutdown in progress (main.ts ignores the same on process.stdout).
  if ('on' in destination) destination.on('error', () => {});
  const logger = pino(
    {
      level: min,
      base,
      // Level names, not pino's numbers: what the counter's `level` label, the alerts and promtail's label use.
      formatters: { level: (label) => ({ level: label }) },
      // Epoch milliseconds (pino's default): promtail's `timestamp` stage reads `time` as UnixMs.
      timestamp: pino.stdTimeFunctions.epochTime,
    },
    destination,
  );
  return (line, level = 'info') => {
    logger[isLevel(level) ? level : 'info'](line);
  };
}
