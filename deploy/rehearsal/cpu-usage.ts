import { readdirSync, readFileSync } from 'node:fs';

/** Clock ticks per second of /proc/<pid>/stat's utime and stime (USER_HZ: 100 on every Linux this runs on). */
const USER_HZ = 100;

/** CPU seconds (user + system) a process has used so far, from /proc; 0 once it is gone. */
export function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name may hold spaces or parentheses: the fields after the last ')' are fixed (utime is the 14th
    // field of the line, the 12th after the name).
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / USER_HZ;
  } catch {
    return 0;
  }
}

/** Pids of the processes whose parent is `pid` (an nginx master's workers), from /proc. */
export function childrenOf(pid: number): Set<number> {
  const out = new Set<number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^[0-9]+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) out.add(Number(entry));
    } catch {
      // the process ended while we looked
    }
  }
  return out;
}

/** Pids of the children of `pid` whose command name is `name` (the wrk processes this process started). */
export function childrenNamed(pid: number, name: string): number[] {
  return [...childrenOf(pid)].filter((child) => {
    try {
      return readFileSync(`/proc/${child}/comm`, 'utf8').trim() === name;
    } catch {
      return false;
    }
  });
}

/**
 * CPU seconds by role over an interval: each role is a function listing its PIDs now (processes come and go during a
 * switch). A process seen at the start or at any {@link CpuMeter.sample} counts from its first sight (or from 0 when
 * it started after the start) to its last sight, so a gateway that exits mid-phase still counts up to its last sample.
 */
export class CpuMeter {
  readonly #roles: Record<string, () => Iterable<number>>;
  /** Per role and PID: CPU seconds at first sight and at last sight. */
  readonly #seen = new Map<string, Map<number, { first: number; last: number }>>();
  readonly #t0 = performance.now();

  constructor(roles: Record<string, () => Iterable<number>>) {
    this.#roles = roles;
    this.sample(true);
  }

  /** Reads every role's processes now; call it before a process is stopped to keep its share. */
  sample(initial = false): void {
    for (const [role, pids] of Object.entries(this.#roles)) {
      let byPid = this.#seen.get(role);
      if (byPid === undefined) {
        byPid = new Map();
        this.#seen.set(role, byPid);
      }
      for (const pid of pids()) {
        const now = cpuSeconds(pid);
        const e = byPid.get(pid);
        if (e === undefined) byPid.set(pid, { first: initial ? now : 0, last: now });
        else if (now > 0) e.last = now;
      }
    }
  }

  /** CPU seconds used by each role since the meter was made, and the wall-clock seconds. */
  read(): { wallSeconds: number; cpuSeconds: Record<string, number> } {
    this.sample();
    const cpu: Record<string, number> = {};
    for (const [role, byPid] of this.#seen)
      cpu[role] = [...byPid.values()].reduce((sum, { first, last }) => sum + Math.max(0, last - first), 0);
    return { wallSeconds: (performance.now() - this.#t0) / 1000, cpuSeconds: cpu };
  }
}
