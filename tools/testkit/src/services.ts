import { spawnSync } from 'node:child_process';
import { Socket } from 'node:net';

/** Connection settings the integration tests use, from the environment or the local defaults. */
export const serviceUrls = {
  redis: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
  postgres: process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test',
} as const;

/** Opens a TCP connection to the host and port of `url`, and resolves whether it succeeded in time. */
export async function reachable(url: string, timeoutMs = 2_000): Promise<boolean> {
  const parsed = new URL(url);
  const port = Number(parsed.port || (parsed.protocol.startsWith('redis') ? 6379 : 5432));
  const host = parsed.hostname.replace(/^\[|\]$/g, '') || '127.0.0.1';
  return await new Promise<boolean>((resolve) => {
    const socket = new Socket();
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('error', () => done(false));
    socket.connect(port, host, () => done(true));
  });
}

/** Waits until `check` resolves true, polling every `intervalMs`, or throws after `timeoutMs`. */
export async function waitFor(
  check: () => Promise<boolean> | boolean,
  { timeoutMs = 10_000, intervalMs = 25, what = 'condition' } = {},
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      if (await check()) return;
    } catch {
      // not ready yet
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/**
 * Whether a test that drives a system program (a Debian package that `.ci/run` installs through
 * scripts/install-system-deps.sh) should run: always in CI, where a missing program then fails the test, and
 * elsewhere only when `command` is on the PATH, so a contributor without it skips the test.
 */
export function systemProgramTestRuns(command: string): boolean {
  if (process.env.CI === 'true' || process.env.CI === '1') return true;
  return spawnSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' }).status === 0;
}
