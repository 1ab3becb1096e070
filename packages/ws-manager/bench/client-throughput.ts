// One managed connection (JSON parse + stream/sequence extraction + dedup + ordering) vs a raw `ws` client doing
// JSON.parse, both reading the same local feed (a separate process that streams as fast as the socket drains).
import { freePort, reportBench } from '@cryptoscalp/testkit';
import WebSocket from 'ws';
import { WebSocketManager } from '../src/index.js';
import { kill, startFeed } from './helpers.js';

const DURATION_MS = 1_500;
const WARMUP_MS = 300;
const port = await freePort();
const feed = await startFeed(port, 'blast');
const url = `ws://127.0.0.1:${port}`;

interface Run {
  /** Messages per wall-clock second. */
  wall: number;
  /** Messages per CPU-second of this (client) process: what the client costs, robust to a busy machine. */
  perCpu: number;
}

async function measure(start: (onMessage: () => void) => Promise<() => Promise<void>>): Promise<Run> {
  let count = 0;
  let measuring = false;
  const stop = await start(() => {
    if (measuring) count++;
  });
  await new Promise((r) => setTimeout(r, WARMUP_MS));
  measuring = true;
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  await new Promise((r) => setTimeout(r, DURATION_MS));
  const cpu = process.cpuUsage(cpu0);
  const elapsed = performance.now() - t0;
  measuring = false;
  await stop();
  return { wall: (count / elapsed) * 1000, perCpu: count / ((cpu.user + cpu.system) / 1e6) };
}

const raw = () =>
  measure(async (onMessage) => {
    const ws = new WebSocket(url, { perMessageDeflate: false });
    let last = 0;
    ws.on('message', (data) => {
      const msg = JSON.parse((data as Buffer).toString('utf8'));
      if (msg.u > last) last = msg.u;
      onMessage();
    });
    await new Promise((r) => ws.once('open', r));
    return async () => {
      ws.terminate();
    };
  });

let duplicates = 0;
const managed = () =>
  measure(async (onMessage) => {
    const manager = new WebSocketManager({ exchanges: { local: { endpoints: [url] } } });
    const conn = manager.connect('local', { stream: (m) => m.stream, sequence: (m) => m.u, heartbeat: false });
    conn.on('message', onMessage);
    await new Promise<void>((resolve) => conn.once('state', () => conn.once('state', () => resolve())));
    return async () => {
      const s = conn.stats() as { streams: Record<string, { duplicatesDropped: number }> };
      duplicates += s.streams['btcusdt@trade']?.duplicatesDropped ?? 0;
      await manager.close();
    };
  });

// Alternate to spread the noise of a shared machine over both subjects.
const rawRuns: Run[] = [];
const managedRuns: Run[] = [];
const ROUNDS = 6;
for (let round = 0; round < ROUNDS; round++) {
  rawRuns.push(await raw());
  managedRuns.push(await managed());
}
await kill(feed.child);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
const fmt = (xs: number[]) => xs.map((x) => Math.round(x)).join(' / ');
const rawCpu = rawRuns.map((r) => r.perCpu);
const managedCpu = managedRuns.map((r) => r.perCpu);
const rawWall = rawRuns.map((r) => r.wall);
const managedWall = managedRuns.map((r) => r.wall);
const common = `feed in a separate process writing pre-framed ~110-byte sequenced JSON trades as fast as the socket drains; ${DURATION_MS} ms per run after ${WARMUP_MS} ms warm-up, ${ROUNDS} alternating rounds each; machine shared with other work`;

reportBench({
  package: '@cryptoscalp/ws-manager',
  bench: 'client-throughput',
  figures: [
    {
      name: 'managed connection (decode + stream/sequence + dedup + ordering), messages per CPU-second of the client',
      value: median(managedCpu),
      unit: 'msg/cpu-s',
      baseline: { name: 'raw ws + JSON.parse', value: median(rawCpu) },
      higherIsBetter: true,
      target: 0.85,
      method: `${common}; messages counted / process.cpuUsage() (user+system) of the client process over the run, median of runs`,
      extra: { rawRuns: fmt(rawCpu), managedRuns: fmt(managedCpu), duplicatesDropped: duplicates },
    },
    {
      name: 'managed connection, wall-clock msgs/s',
      value: median(managedWall),
      unit: 'msg/s',
      baseline: { name: 'raw ws + JSON.parse', value: median(rawWall) },
      higherIsBetter: true,
      target: 0.85,
      method: `${common}; median of runs (wall-clock rates swing with the other work on the machine)`,
      extra: { rawRuns: fmt(rawWall), managedRuns: fmt(managedWall) },
    },
  ],
});
