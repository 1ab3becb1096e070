import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { waitFor } from '@cryptoscalp/testkit';

const appDir = fileURLToPath(new URL('../../', import.meta.url));

/** A trader child process (sources through tsx), its output, and its exit. */
export interface TraderProcess {
  readonly child: ChildProcess;
  output(): string;
  readonly exited: Promise<number | null>;
  /** Waits for `trader: running` and returns the printed HTTP base URL. */
  ready(timeoutMs?: number): Promise<string>;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves with the exit code. */
  stop(graceMs?: number): Promise<number | null>;
}

/** Every trader child started by a test file, so `afterAll` can stop them by PID even when a test failed. */
export const traderChildren = new Set<ChildProcess>();

/** Kills every child still running (afterAll). */
export async function killTraderChildren(): Promise<void> {
  for (const c of traderChildren) {
    if (c.exitCode === null && c.signalCode === null) {
      c.kill('SIGKILL');
      await new Promise((r) => c.once('exit', r));
    }
  }
  traderChildren.clear();
}

/** Starts `src/main.ts` with the given arguments and environment (PATH and HOME are passed on). */
export function startTraderProcess(args: string[], env: Record<string, string>): TraderProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', ...args], {
    cwd: appDir,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  traderChildren.add(child);
  let out = '';
  child.stdout?.on('data', (d) => {
    out += String(d);
  });
  child.stderr?.on('data', (d) => {
    out += String(d);
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    child,
    output: () => out,
    exited,
    async ready(timeoutMs = 60_000) {
      await waitFor(() => out.includes('trader: running') || child.exitCode !== null, {
        timeoutMs,
        intervalMs: 50,
        what: 'trader: running',
      });
      if (!out.includes('trader: running')) throw new Error(`trader exited before running:\n${out}`);
      const m = /trader: health\s+(https?:\/\/[^/\s]+)/.exec(out);
      if (m === null) throw new Error(`no health URL in:\n${out}`);
      return m[1] as string;
    },
    async stop(graceMs = 20_000) {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), graceMs);
      const code = await exited;
      clearTimeout(t);
      return code;
    },
  };
}
