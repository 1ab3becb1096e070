// Load figures against a running deployment: HTTP request rate and latency with wrk (closed loop, keep-alive) on the
// liveness probe (the baseline: the server's floor) and on an authenticated API route, and stream fan-out (N
// WebSocket clients on one topic: messages delivered per second). Exit codes: 0 ran, 1 a run failed, 2 bad command line.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import WebSocket from 'ws';
import { EXIT, type Io, isMain, numberFlag, parseFlags, required, runScript, stdio, table } from './cli.js';

/** The script's `--help` text. */
export const USAGE = `Usage: npx tsx deploy/scripts/benchmarks.ts --url BASE --token-file F [options]

  --url BASE          the deployment's base URL (http or https).
  --token-file F      a bearer token (viewer or better) for the API route and the streams.
  --route PATH        the API route to load (default /api/positions).
  --duration S        seconds per wrk run and for the stream window (default 10).
  --connections N     wrk connections (default 32).
  --streams N         WebSocket clients subscribed to --topic (default 50; 0 skips).
  --topic T           the stream topic (default prices.BTCUSDT).
  --help              this text.

Note: a deployment's rate limits (http.rateLimitPerIp / rateLimitPerToken) answer 429 under load; the non-2xx
column counts them. Exit codes: 0 ran, 1 a run failed, 2 bad command line.`;

/** What one wrk run measured. */
export interface HttpFigures {
  route: string;
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  non2xx: number;
  socketErrors: number;
}

const ms = (s: string): number => {
  const m = /^([0-9.]+)(us|ms|s)$/.exec(s);
  if (m === null) throw new Error(`wrk: cannot read latency "${s}"`);
  return Number(m[1]) * ({ us: 1e-3, ms: 1, s: 1e3 }[m[2] as 'us' | 'ms' | 's'] ?? 1);
};

/** Runs `wrk --latency` against `url` and reads its report. */
export async function wrk(url: string, route: string, token: string | undefined, seconds: number, connections: number) {
  const { stdout } = await promisify(execFile)(
    'wrk',
    [
      '-t2',
      `-c${connections}`,
      `-d${seconds}s`,
      '--latency',
      ...(token ? ['-H', `Authorization: Bearer ${token}`] : []),
      new URL(route, url).href,
    ],
    { timeout: (seconds + 30) * 1000 },
  );
  const rps = /Requests\/sec:\s+([0-9.]+)/.exec(stdout);
  const p = (q: string) =>
    /\s([0-9.]+(?:us|ms|s))\s*$/.exec(stdout.split('\n').find((l) => l.trim().startsWith(`${q}%`)) ?? '')?.[1];
  const p50 = p('50');
  const p99 = p('99');
  if (rps === null || p50 === undefined || p99 === undefined) throw new Error(`wrk: unexpected output:\n${stdout}`);
  const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(stdout);
  return {
    route,
    requestsPerSecond: Number(rps[1]),
    p50Ms: ms(p50),
    p99Ms: ms(p99),
    non2xx: Number(/Non-2xx or 3xx responses: (\d+)/.exec(stdout)?.[1] ?? 0),
    socketErrors: socket ? socket.slice(1).reduce((a, b) => a + Number(b), 0) : 0,
  } satisfies HttpFigures;
}

/** Stream fan-out: what `clients` subscribers of `topic` received in `seconds`. */
export interface StreamFigures {
  clients: number;
  connectP99Ms: number;
  messagesPerSecond: number;
  perClientPerSecond: number;
}

/** Opens `clients` WebSockets on `/api/stream`, subscribes each to `topic`, counts messages for `seconds`. */
export async function streamFanOut(url: string, token: string, topic: string, clients: number, seconds: number) {
  const wsUrl = new URL('/api/stream', url.replace(/^http/, 'ws')).href;
  const sockets: WebSocket[] = [];
  const connectMs: number[] = [];
  let received = 0;
  let counting = false;
  try {
    await Promise.all(
      Array.from({ length: clients }, async () => {
        const start = performance.now();
        const ws = new WebSocket(wsUrl, ['bearer', token], { perMessageDeflate: false });
        sockets.push(ws);
        await new Promise<void>((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error(`stream: no subscription to ${topic} within 15 s`)), 15_000);
          ws.on('error', reject);
          ws.on('open', () => ws.send(JSON.stringify({ op: 'subscribe', topic })));
          ws.on('message', (raw) => {
            const msg = JSON.parse(String(raw)) as { type: string; message?: string };
            if (msg.type === 'subscribed') {
              clearTimeout(timer);
              connectMs.push(performance.now() - start);
              resolve();
            } else if (msg.type === 'error') reject(new Error(`stream: ${msg.message ?? 'error'}`));
            else if (msg.type === 'message' && counting) received++;
          });
        });
      }),
    );
    counting = true;
    const started = performance.now();
    await new Promise((r) => setTimeout(r, seconds * 1000));
    const elapsed = (performance.now() - started) / 1000;
    connectMs.sort((a, b) => a - b);
    return {
      clients,
      connectP99Ms: connectMs[Math.min(connectMs.length - 1, Math.floor(connectMs.length * 0.99))] ?? 0,
      messagesPerSecond: received / elapsed,
      perClientPerSecond: received / elapsed / clients,
    } satisfies StreamFigures;
  } finally {
    for (const ws of sockets) ws.terminate();
  }
}

const f = (n: number, digits = 1) => n.toFixed(digits);

/** The script: returns its exit code, or `undefined` for `--help`; throws UsageError on a bad command line. */
export async function main(argv: readonly string[], io: Io = stdio): Promise<number | undefined> {
  const flags = parseFlags(argv, {
    url: { type: 'string' },
    'token-file': { type: 'string' },
    route: { type: 'string' },
    duration: { type: 'string' },
    connections: { type: 'string' },
    streams: { type: 'string' },
    topic: { type: 'string' },
  });
  if (flags === undefined) return undefined;
  const url = required(flags.url, 'url');
  const token = readFileSync(required(flags['token-file'], 'token-file'), 'utf8').trim();
  const seconds = numberFlag(flags.duration, 'duration', 10, 1, 3600);
  const connections = numberFlag(flags.connections, 'connections', 32, 1, 10_000);
  const streams = numberFlag(flags.streams, 'streams', 50, 0, 20_000);
  const baseline = await wrk(url, '/health/liveness', undefined, seconds, connections);
  const api = await wrk(url, flags.route ?? '/api/positions', token, seconds, connections);
  io.out(
    `HTTP (wrk, ${connections} connections, ${seconds} s each; ratio = API route / liveness baseline)\n${table(
      ['route', 'req/s', 'p50 ms', 'p99 ms', 'non-2xx', 'socket errors', 'req/s ratio'],
      [baseline, api].map((r) => [
        r.route,
        f(r.requestsPerSecond, 0),
        f(r.p50Ms, 2),
        f(r.p99Ms, 2),
        String(r.non2xx),
        String(r.socketErrors),
        f(r.requestsPerSecond / baseline.requestsPerSecond, 2),
      ]),
    )}\n`,
  );
  if (streams > 0) {
    const s = await streamFanOut(url, token, flags.topic ?? 'prices.BTCUSDT', streams, seconds);
    io.out(
      `\nStreams (${s.clients} clients on ${flags.topic ?? 'prices.BTCUSDT'}, ${seconds} s)\n${table(
        ['clients', 'connect+subscribe p99 ms', 'messages/s delivered', 'per client/s'],
        [[String(s.clients), f(s.connectP99Ms), f(s.messagesPerSecond), f(s.perClientPerSecond, 2)]],
      )}\n`,
    );
  }
  return EXIT.ok;
}

if (isMain(import.meta.url)) await runScript(USAGE, main);
