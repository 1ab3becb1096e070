import type { Log } from './log.js';

/**
 * Where the process's last words go: the trader command sets the run's error log here once it knows `log.format`
 * (and `TRADER_LOG_FORMAT` before that), so a crash (an uncaught exception, a rejection that escapes the command) is
 * one `fatal` JSON line a log store can read, not only node's plain stack trace. Unset (text format): node's own
 * report is the line.
 */
let crashLog: Log | undefined;

/** Sets (or with `undefined` clears) the log a crash is written to. */
export function setCrashLog(log: Log | undefined): void {
  crashLog = log;
}

/** Writes `line` at level `fatal` to the crash log; false when none is set (the caller prints it itself). */
export function logCrash(line: string): boolean {
  if (crashLog === undefined) return false;
  try {
    crashLog(line, 'fatal');
    return true;
  } catch {
    return false;
  }
}
