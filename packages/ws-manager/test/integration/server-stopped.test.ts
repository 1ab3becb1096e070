import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { waitFor } from '@cryptoscalp/testkit';
import { afterAll, describe, expect, it } from 'vitest';
import { type StateChange, WebSocketManager } from '../../src/index.js';

/**
 * The server runs in a child process so it can be frozen with SIGSTOP: its kernel keeps completing TCP connections
 * into the listen backlog, so a connect attempt made meanwhile gets its TCP connection but no upgrade answer until
 * SIGCONT. It sends one tick every 50 ms to every client; `ws` answers pings by itself.
 */
const SERVER = `
const { WebSocketServer } = require('ws');
const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
let n = 0;
wss.on('listening', () => process.stdout.write(wss.address().port + '\\n'));
wss.on('connection', (ws) => ws.on('error', () => {}));
setInterval(() => {
  const frame = JSON.stringify({ stream: 'ticks', n: ++n });
  for (const ws of wss.clients) if (ws.readyState === 1) ws.send(frame);
}, 50);
`;

const STOPPED_MS = 5_000;
const MAX_BACKOFF_MS = 500;
/** Scheduling slack on a shared, loaded machine (load averages of 20 on 2 cores were seen while this was written). */
const MARGIN_MS = 3_000;

const children: ChildProcess[] = [];

/** Starts the server child and resolves with its pid and port. */
async function startServer(): Promise<{ pid: number; port: number }> {
  const child = spawn(process.execPath, ['-e', SERVER], {
    // `ws` resolves from the package's (hoisted) node_modules.
    cwd: fileURLToPath(new URL('../..', import.meta.url)),
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.push(child);
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout?.once('data', (b: Buffer) => resolve(Number(b.toString().trim())));
    child.once('exit', (code, signal) => reject(new Error(`server exited early (${code ?? signal})`)));
  });
  return { pid: child.pid as number, port };
}

describe('ManagedConnection when its server process is SIGSTOPped for 5 s, then SIGCONTed', () => {
  const managers: WebSocketManager[] = [];

  afterAll(async () => {
    for (const manager of managers) await manager.close();
    for (const child of children) {
      if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) continue;
      const exited = once(child, 'exit');
      // Continued first: a stopped child is then killed without depending on how the kernel treats stopped ones.
      process.kill(child.pid, 'SIGCONT');
      process.kill(child.pid, 'SIGKILL');
      await exited;
    }
  });

  // A connect timeout below the stop: attempts against the frozen server time out (the breaker opens, the bypass and
  // half-open paths run). Above it: the attempt in flight at SIGCONT must complete instead of being left pending.
  it.each([
    { connectTimeoutMs: 1_000, case: 'attempts time out during the stop' },
    { connectTimeoutMs: 8_000, case: 'an attempt is still pending at SIGCONT' },
  ])(
    'is open again and delivers messages within the bound after SIGCONT ($case)',
    async ({ connectTimeoutMs }) => {
      const { pid, port } = await startServer();
      const manager = new WebSocketManager({ exchanges: { sim: { endpoints: [`ws://127.0.0.1:${port}`] } } });
      managers.push(manager);
      const attempts: number[] = [];
      const conn = manager.connect('sim', {
        stream: (m) => (typeof m.stream === 'string' ? m.stream : undefined),
        // Counts every connect attempt (the factory runs once per attempt).
        url: (attempt) => {
          attempts.push(Date.now());
          return attempt.endpoint;
        },
        heartbeat: { intervalMs: 200, timeoutMs: 400 },
        connectTimeoutMs,
        backoff: { initialDelayMs: 50, maxDelayMs: MAX_BACKOFF_MS, multiplier: 2, stableAfterMs: 1_000 },
      });
      const states: Array<{ to: string; at: number }> = [];
      conn.on('state', (s: StateChange) => states.push({ to: s.to, at: Date.now() }));
      let lastMessageAt = 0;
      conn.on('message', () => {
        lastMessageAt = Date.now();
      });
      await waitFor(() => conn.state === 'open' && lastMessageAt > 0, { what: 'first messages' });

      process.kill(pid, 'SIGSTOP');
      const stoppedAt = Date.now();
      await waitFor(() => conn.state === 'reconnecting', { timeoutMs: 3_000, what: 'the heartbeat timeout' });
      // When the heartbeat declared the socket dead (the state event, not the poll that saw it).
      const deadAt = states.find((s) => s.to === 'reconnecting')?.at ?? stoppedAt;
      await new Promise((r) => setTimeout(r, Math.max(0, STOPPED_MS - (Date.now() - stoppedAt))));
      const during = conn.stats() as { heartbeatTimeouts: number; connectFailures: number };
      // The scenario took place: the heartbeat declared the socket dead and an attempt met the frozen server.
      expect(during.heartbeatTimeouts).toBeGreaterThanOrEqual(1);
      expect(attempts.filter((t) => t >= deadAt).length).toBeGreaterThanOrEqual(1);
      if (connectTimeoutMs < STOPPED_MS) expect(during.connectFailures).toBeGreaterThanOrEqual(1);

      process.kill(pid, 'SIGCONT');
      const resumedAt = Date.now();
      // Worst case: an attempt started just before SIGCONT times out, then one full backoff.
      const bound = connectTimeoutMs + MAX_BACKOFF_MS + MARGIN_MS;
      try {
        await waitFor(() => conn.state === 'open' && lastMessageAt > resumedAt, { timeoutMs: bound, intervalMs: 10 });
      } catch {
        const t = (at: number) => at - stoppedAt;
        throw new Error(
          `not open with messages ${bound} ms after SIGCONT: state ${conn.state}, states ${JSON.stringify(
            states.map((s) => [s.to, t(s.at)]),
          )}, attempts at ${JSON.stringify(attempts.map(t))}, stats ${JSON.stringify(conn.stats())}`,
        );
      }
      const recoveredMs = Date.now() - resumedAt;
      console.log(
        `connectTimeoutMs ${connectTimeoutMs}: open with messages ${recoveredMs} ms after SIGCONT (bound ${bound} ms); ` +
          `during the stop: ${during.heartbeatTimeouts} heartbeat timeout(s), ${attempts.filter((t) => t >= deadAt).length} attempt(s), ` +
          `${during.connectFailures} connect failure(s)`,
      );
      expect(recoveredMs).toBeLessThan(bound);
    },
    40_000,
  );
});
