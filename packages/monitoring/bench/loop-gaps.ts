// The event-loop gaps of the scrape benches: a setImmediate ticker that measures, between two of its runs, the wall
// time, the process's CPU time and the main thread's own on-CPU time.
import fs from 'node:fs';
import { performance } from 'node:perf_hooks';

/** One gap between two runs of the ticker (ms). */
export interface LoopGap {
  start: number;
  end: number;
  /** Process CPU time (every thread, the GC helpers included). */
  cpu: number;
  /** The main thread's own on-CPU time (NaN where the kernel's schedstat is not readable). */
  thread: number;
}

/** Process CPU time in ms. */
export function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

// The main thread's own on-CPU time (first field of the kernel's schedstat, ns): unlike process CPU time it leaves
// out the GC helper threads (concurrent marking, sweeping), which do not block the loop, and unlike wall time it
// leaves out waiting for a core. Opened here, on the main thread.
const schedFd = (() => {
  try {
    return fs.openSync('/proc/thread-self/schedstat', 'r');
  } catch {
    return undefined;
  }
})();
const schedBuf = Buffer.alloc(64);

/** The main thread's on-CPU time in ms (NaN where the kernel's schedstat is not readable). */
export function threadMs(): number {
  if (schedFd === undefined) return Number.NaN;
  const n = fs.readSync(schedFd, schedBuf, 0, 64, 0);
  return Number.parseInt(schedBuf.toString('latin1', 0, n), 10) / 1e6;
}

/**
 * Starts the ticker; resolves once it runs, with the gaps counted from then on. `sample()` closes the gap in
 * progress (call it right after the measured work: the ticker's next run comes later); `stop()` ends the ticker.
 */
export async function startLoopGaps(onGap: (gap: LoopGap) => void): Promise<{ sample: () => void; stop: () => void }> {
  let running = true;
  let last = performance.now();
  let lastCpu = cpuMs();
  let lastThread = threadMs();
  let counting = false;
  const sample = () => {
    const now = performance.now();
    const cpu = cpuMs();
    const thread = threadMs();
    if (counting) onGap({ start: last, end: now, cpu: cpu - lastCpu, thread: thread - lastThread });
    last = now;
    lastCpu = cpu;
    lastThread = thread;
  };
  const tick = () => {
    sample();
    if (running) setImmediate(tick);
  };
  setImmediate(tick);
  await new Promise((r) => setImmediate(r));
  last = performance.now();
  lastCpu = cpuMs();
  lastThread = threadMs();
  counting = true;
  return {
    sample,
    stop: () => {
      running = false;
    },
  };
}
