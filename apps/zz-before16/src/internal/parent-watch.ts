/** What {@link watchParent} watches. */
export interface ParentWatchOptions {
  /**
   * The supervising process. Without it, this process's parent at the time of the call (`process.ppid`).
   * The trader passes `TRADER_SUPERVISOR_PID`, which `scripts/start.mjs` sets to its own pid.
   */
  pid?: number;
  /** How often to look. @default 500 */
  intervalMs?: number;
  /** Called once, at the first poll that finds the supervisor gone. */
  onGone: () => void;
}

/** A running {@link watchParent}. */
export interface ParentWatch {
  /** Stops polling (idempotent); `onGone` is not called afterwards. */
  stop(): void;
}

/**
 * Polls whether the process supervising this one is gone, and calls `onGone` once when it is: a supervisor that is
 * killed outright (SIGKILL) cannot forward a stop signal, so a child that does not look would run on as an orphan.
 *
 * "Gone" is either of:
 * - `process.ppid` is no longer what it was at the call, when the watched process is the parent (no `pid`, or `pid`
 *   equal to `process.ppid` then). The kernel re-parents a child as soon as its parent dies, before the parent is
 *   reaped, so this sees a dead parent that is still a zombie (which `kill(pid, 0)` reports alive) and is not fooled
 *   by a recycled pid;
 * - `process.kill(pid, 0)` fails with ESRCH, for an explicit `pid` (EPERM means it exists but is not ours: alive).
 *
 * The timer is unref'd: the watch never keeps the process alive by itself.
 */
export function watchParent(options: ParentWatchOptions): ParentWatch {
  const { pid, intervalMs = 500, onGone } = options;
  if (pid !== undefined && !(Number.isSafeInteger(pid) && pid > 0)) {
    throw new RangeError(`watchParent: pid must be a positive integer, got ${pid}`);
  }
  if (!(Number.isFinite(intervalMs) && intervalMs > 0)) {
    throw new RangeError(`watchParent: intervalMs must be a positive number, got ${intervalMs}`);
  }
  const startPpid = process.ppid;
  const watchesPpid = pid === undefined || pid === startPpid;
  const gone = (): boolean => {
    if (watchesPpid && process.ppid !== startPpid) return true;
    if (pid === undefined) return false;
    try {
      process.kill(pid, 0);
      return false;
    } catch (e) {
      return (e as NodeJS.ErrnoException).code === 'ESRCH';
    }
  };
  const timer = setInterval(() => {
    if (!gone()) return;
    clearInterval(timer);
    onGone();
  }, intervalMs);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}
