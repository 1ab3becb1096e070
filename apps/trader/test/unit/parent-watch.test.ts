import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { watchParent } from '../../src/internal/parent-watch.js';

const repoRoot = fileURLToPath(new URL('../../../../', import.meta.url));
const moduleUrl = new URL('../../src/internal/parent-watch.ts', import.meta.url).href;

/** Every process a test started, killed by pid afterwards whatever happened. */
const pids = new Set<number>();
afterEach(() => {
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  pids.clear();
});

function sleeper(): ChildProcess {
  const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
  if (child.pid !== undefined) pids.add(child.pid);
  return child;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function until(check: () => boolean, what: string, timeoutMs = 8_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

/**
 * Runs, under `sh -c <shell>`, a watcher process (`$WATCHER`: node with tsx running `watchParent`, printing
 * `watching <pid> <ppid>` then `gone <ppid>`), and collects what it prints.
 */
function runWatcher(shell: string, watch: 'ppid' | 'parent-pid') {
  const code = `
    import { watchParent } from ${JSON.stringify(moduleUrl)};
    console.log('watching ' + process.pid + ' ' + process.ppid);
    watchParent({
      ${watch === 'parent-pid' ? 'pid: process.ppid,' : ''}
      intervalMs: 20,
      onGone: () => { console.log('gone ' + process.ppid); process.exit(0); },
    });
    setInterval(() => {}, 1000);
    setTimeout(() => process.exit(3), 30000);
  `;
  const child = spawn('sh', ['-c', shell], {
    cwd: repoRoot,
    env: { ...process.env, CODE: code, WATCHER: `${process.execPath} --import tsx --input-type=module` },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  if (child.pid !== undefined) pids.add(child.pid);
  let out = '';
  child.stdout?.on('data', (d) => {
    out += String(d);
  });
  const watching = () => /watching (\d+) (\d+)/.exec(out);
  return {
    child,
    output: () => out,
    async started(): Promise<{ pid: number; ppid: number }> {
      await until(() => watching() !== null, `the watcher to start (output: ${out})`, 15_000);
      const [, pid, ppid] = watching() as RegExpExecArray;
      pids.add(Number(pid));
      return { pid: Number(pid), ppid: Number(ppid) };
    },
  };
}

describe('watchParent', () => {
  it('rejects a pid or an interval that cannot be watched', () => {
    const onGone = () => {};
    expect(() => watchParent({ pid: 0, onGone })).toThrow(RangeError);
    expect(() => watchParent({ pid: Number.NaN, onGone })).toThrow(RangeError);
    expect(() => watchParent({ pid: 1.5, onGone })).toThrow(RangeError);
    expect(() => watchParent({ intervalMs: 0, onGone })).toThrow(RangeError);
  });

  it('calls onGone once when an explicit pid is killed, not before', async () => {
    const child = sleeper();
    let calls = 0;
    const watch = watchParent({ pid: child.pid as number, intervalMs: 20, onGone: () => calls++ });
    try {
      await sleep(200);
      expect(calls).toBe(0);
      child.kill('SIGKILL');
      await until(() => calls > 0, 'onGone');
      await sleep(200);
      expect(calls).toBe(1);
    } finally {
      watch.stop();
    }
  });

  it('does not call onGone after stop()', async () => {
    const child = sleeper();
    let calls = 0;
    const watch = watchParent({ pid: child.pid as number, intervalMs: 20, onGone: () => calls++ });
    watch.stop();
    child.kill('SIGKILL');
    await sleep(200);
    expect(calls).toBe(0);
  });

  it('without a pid, notices that its parent was killed (process.ppid changes)', { timeout: 30_000 }, async () => {
    const run = runWatcher('$WATCHER -e "$CODE" & wait', 'ppid');
    const { ppid } = await run.started();
    expect(ppid).toBe(run.child.pid);
    run.child.kill('SIGKILL');
    await until(() => run.output().includes('gone'), `"gone" (output: ${run.output()})`);
  });
});
