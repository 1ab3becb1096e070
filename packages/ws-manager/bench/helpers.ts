import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const feedScript = fileURLToPath(new URL('./feed-server.mjs', import.meta.url));

/** Starts the bench feed server in its own process; resolves once it listens. */
export async function startFeed(
  port: number,
  mode: 'blast' | 'ticker',
  intervalMs = 1,
  startSeq = 0,
): Promise<{ child: ChildProcess; listeningAt: number }> {
  const child = spawn(process.execPath, [feedScript, String(port), mode, String(intervalMs), String(startSeq)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const listeningAt = await new Promise<number>((resolve, reject) => {
    let out = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (out.includes('LISTENING')) resolve(performance.now());
    });
    child.once('exit', (code) => reject(new Error(`feed server exited with ${code}`)));
  });
  return { child, listeningAt };
}

/** Kills a child with SIGKILL and waits for it to exit. */
export async function kill(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  await new Promise<void>((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGKILL');
  });
}
