// Bench: live price updates to N authenticated stream subscribers (default 10,000) through the API's
// StreamHub (JWT at upgrade, per-topic frames serialized once, conflation armed) against a raw `ws` server
// broadcasting the same frame to every socket (no auth, no topics, no history).
//
// Method: the server runs in a child process; the subscribers in WORKERS other child processes (open files are
// limited to 20,000 per process); the parent orchestrates. The server publishes RATE price updates per second
// for SECONDS, each stamped with `performance.timeOrigin + performance.now()`; subscribers record
// receive time minus that stamp (same machine, same clock). Delivered msg/s = messages received by all
// subscribers / publishing time; latency percentiles over a 20,000-sample reservoir per worker.
//
//   npx tsx apps/trader/bench/api-streams.ts            # BENCH_SUBSCRIBERS=2000 for a quicker run
import { type ChildProcess, spawn } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { percentiles, reportBench, serviceUrls, uniqueName } from '@cryptoscalp/testkit';
import pg from 'pg';
import { WebSocket, WebSocketServer } from 'ws';
import { createHttpServer } from '../src/http/server.js';
import { issueToken } from '../src/http/tokens.js';
import type { TraderEvent, TraderPort } from '../src/http/trader-port.js';

const SECRET = 'bench-secret-0123456789abcdef-0123456789';
const SUBSCRIBERS = Number(process.env.BENCH_SUBSCRIBERS ?? 10_000);
const WORKERS = 4;
const RATE = 5;
const SECONDS = 4;
const RESERVOIR = 5_000;
const now = () => performance.timeOrigin + performance.now();

const args = process.argv.slice(2);
if (args[0] === '--serve') await serve(args[1] as 'api' | 'raw');
else if (args[0] === '--subscribe')
  await subscribe(args[1] as 'api' | 'raw', args[2] as string, Number(args[3]), args[4] as string);
else await orchestrate();

/** Child: one server; prints `LISTENING <port>`, then on `go` publishes RATE updates/s for SECONDS. */
async function serve(kind: 'api' | 'raw'): Promise<void> {
  let publish: (json: unknown) => void;
  let close: () => Promise<void>;
  let port: number;
  if (kind === 'raw') {
    const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', perMessageDeflate: false });
    await new Promise((r) => wss.once('listening', r));
    port = (wss.address() as { port: number }).port;
    publish = (data) => {
      const frame = Buffer.from(JSON.stringify({ type: 'message', topic: 'prices.BTCUSDT', data }));
      for (const c of wss.clients) c.send(frame);
    };
    close = () => new Promise((r) => wss.close(() => r()));
  } else {
    const listeners = new Set<(e: TraderEvent) => void>();
    const none = () => {
      throw new Error('not used');
    };
    const trader: TraderPort = {
      positions: () => [],
      orders: () => [],
      order: () => undefined,
      fills: () => [],
      pnl: none,
      risk: none,
      strategyParams: () => ({}),
      setStrategyParams: none,
      engageKillSwitch: none,
      releaseKillSwitch: none,
      alerts: { list: () => [], silence: none, acknowledge: none },
      status: none,
      subscribe: (l) => {
        listeners.add(l);
        return () => listeners.delete(l);
      },
    };
    const pool = new pg.Pool({ connectionString: serviceUrls.postgres, max: 2 });
    const schema = process.env.BENCH_SCHEMA as string;
    const api = await createHttpServer({
      trader,
      auth: { secret: SECRET },
      audit: { pool, schema },
      rateLimit: { perIp: 0, perToken: 0 },
      // Every subscriber connects from 127.0.0.1: no per-IP connection cap.
      maxConnectionsPerIp: 0,
      dashboard: false,
    });
    port = Number(new URL(api.url).port);
    publish = (data) => {
      for (const l of listeners) l(data as TraderEvent);
    };
    close = async () => {
      await api.close();
      await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`).catch(() => {});
      await pool.end();
    };
  }
  console.log(`LISTENING ${port}`);
  for await (const line of createInterface({ input: process.stdin })) {
    if (line === 'go') {
      let n = 0;
      const started = now();
      await new Promise<void>((resolve) => {
        const timer = setInterval(() => {
          publish({ type: 'price', symbol: 'BTCUSDT', price: 60_000 + (n % 100), ts: now() });
          if (++n >= RATE * SECONDS) {
            clearInterval(timer);
            resolve();
          }
        }, 1_000 / RATE);
      });
      console.log(`PUBLISHED ${n} ${((now() - started) / 1000).toFixed(3)}`);
    } else if (line === 'stop') break;
  }
  await close();
  process.exit(0);
}

/** Child: `count` subscribers; prints `READY` once all are subscribed, and its figures on `report`. */
async function subscribe(kind: 'api' | 'raw', url: string, count: number, token: string): Promise<void> {
  const samples: number[] = [];
  let received = 0;
  let failed = 0;
  const sockets: WebSocket[] = [];
  const open = () =>
    new Promise<void>((resolve) => {
      const ws =
        kind === 'api' ? new WebSocket(url, ['bearer', token], { perMessageDeflate: false }) : new WebSocket(url);
      sockets.push(ws);
      ws.on('error', () => {
        failed++;
        resolve();
      });
      ws.on('message', (raw) => {
        const msg = JSON.parse(raw.toString());
        if (msg.type === 'subscribed') return resolve();
        if (msg.type !== 'message') return;
        received++;
        const latency = now() - msg.data.ts;
        if (samples.length < RESERVOIR) samples.push(latency);
        else {
          const j = Math.floor(Math.random() * received);
          if (j < RESERVOIR) samples[j] = latency;
        }
      });
      ws.on('open', () => {
        if (kind === 'api') ws.send(JSON.stringify({ op: 'subscribe', topic: 'prices.BTCUSDT' }));
        else resolve();
      });
    });
  for (let i = 0; i < count; i += 250) await Promise.all(Array.from({ length: Math.min(250, count - i) }, open));
  console.log(`READY ${count - failed}`);
  for await (const line of createInterface({ input: process.stdin })) {
    if (line === 'report') {
      for (const ws of sockets) ws.terminate();
      const rounded = samples.map((x) => Math.round(x * 100) / 100);
      // Exit only once the (large) line is flushed to the pipe.
      process.stdout.write(`REPORT ${JSON.stringify({ received, failed, samples: rounded })}\n`, () => process.exit(0));
      return;
    }
  }
}

interface Child {
  proc: ChildProcess;
  next(prefix: string): Promise<string>;
  send(line: string): void;
}

function child(argv: string[], env: Record<string, string> = {}): Child {
  const proc = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), ...argv], {
    stdio: ['pipe', 'pipe', 'inherit'],
    env: { ...process.env, ...env },
  });
  const lines: string[] = [];
  const waiters: { prefix: string; resolve: (l: string) => void }[] = [];
  createInterface({ input: proc.stdout as NodeJS.ReadableStream }).on('line', (line) => {
    const w = waiters.findIndex((x) => line.startsWith(x.prefix));
    if (w >= 0) waiters.splice(w, 1)[0]?.resolve(line);
    else lines.push(line);
  });
  return {
    proc,
    next: (prefix) =>
      new Promise((resolve, reject) => {
        const i = lines.findIndex((l) => l.startsWith(prefix));
        if (i >= 0) return resolve(lines.splice(i, 1)[0] as string);
        waiters.push({ prefix, resolve });
        proc.once('exit', (code) => reject(new Error(`child ${argv[0]} ${argv[1]} exited with ${code}`)));
      }),
    send: (line) => proc.stdin?.write(`${line}\n`),
  };
}

async function run(kind: 'api' | 'raw', token: string) {
  const server = child(['--serve', kind], { BENCH_SCHEMA: uniqueName('bench_streams') });
  try {
    const port = (await server.next('LISTENING')).split(' ')[1];
    const url = kind === 'api' ? `ws://127.0.0.1:${port}/api/stream` : `ws://127.0.0.1:${port}`;
    const per = Math.ceil(SUBSCRIBERS / WORKERS);
    const workers = Array.from({ length: WORKERS }, () => child(['--subscribe', kind, url, String(per), token]));
    const connectStart = now();
    const ready = (await Promise.all(workers.map((w) => w.next('READY')))).reduce(
      (a, l) => a + Number(l.split(' ')[1]),
      0,
    );
    const connectSec = (now() - connectStart) / 1000;
    server.send('go');
    const [, , seconds] = (await server.next('PUBLISHED')).split(' ');
    // Let the last updates drain before counting (a loaded machine delivers late, not never).
    await new Promise((r) => setTimeout(r, 2_500));
    const reports = await Promise.all(
      workers.map(async (w) => {
        w.send('report');
        return JSON.parse((await w.next('REPORT')).slice(7)) as { received: number; failed: number; samples: number[] };
      }),
    );
    const received = reports.reduce((a, r) => a + r.received, 0);
    const p = percentiles(
      reports.flatMap((r) => r.samples),
      [50, 99, 99.9],
    );
    return {
      subscribers: ready,
      connectSec,
      received,
      expected: ready * RATE * SECONDS,
      msgPerSec: received / Number(seconds),
      p50: p.p50 as number,
      p99: p.p99 as number,
      p999: p['p99.9'] as number,
    };
  } finally {
    server.send('stop');
  }
}

async function orchestrate(): Promise<void> {
  const token = await issueToken({ sub: 'bench', role: 'viewer', secret: SECRET, ttl: '10m' });
  const api = await run('api', token);
  const raw = await run('raw', token);
  const method = `${SUBSCRIBERS} WebSocket subscribers in ${WORKERS} child processes, server in another; ${RATE} price updates/s for ${SECONDS} s on one topic; latency = receive time - publish stamp (same machine clock), percentiles over <= ${RESERVOIR} samples per worker; API: JWT at upgrade (Sec-WebSocket-Protocol), StreamHub topic fan-out; baseline: raw ws broadcast of the same frame; measured on a shared 2-core machine under contention`;
  reportBench({
    package: '@cryptoscalp/trader',
    bench: 'api-streams',
    figures: [
      {
        name: `price updates delivered to ${SUBSCRIBERS} subscribers`,
        value: api.msgPerSec,
        unit: 'msg/s',
        baseline: { name: 'raw ws broadcast', value: raw.msgPerSec },
        higherIsBetter: true,
        method,
        extra: {
          subscribers: api.subscribers,
          received: api.received,
          expected: api.expected,
          connectSec: api.connectSec,
          rawSubscribers: raw.subscribers,
          rawReceived: raw.received,
        },
      },
      {
        name: `stream delivery latency p99, ${SUBSCRIBERS} subscribers`,
        value: api.p99,
        unit: 'ms',
        baseline: { name: 'raw ws broadcast', value: raw.p99 },
        higherIsBetter: false,
        method,
        extra: { p50: api.p50, p999: api.p999, rawP50: raw.p50, rawP999: raw.p999 },
      },
    ],
  });
  if (api.subscribers < SUBSCRIBERS) process.exitCode = 1;
}
