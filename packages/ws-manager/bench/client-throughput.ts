// One managed connection (JSON parse + stream/sequence extraction + dedup + ordering) vs a raw `ws` client doing
// JSON.parse, both reading the same local feed (a separate process that streams as fast as the socket drains).
import { freePort, reportBench } from '@cryptoscalp/testkit';
import WebSocket from 'ws';
import { WebSocketManager } from '../src/index.js';
import { kill, startFeed } from './helpers.js';

const DURATION_MS = 3_000;
const WARMUP_MS = 500;
const port = await freePort();
const feed = await startFeed(port, 'blast');
const url = `ws://127.0.0.1:${port}`;

async function measure(start: (onMessage: () => void) => Promise<() => Promise<void>>): Promise<number> {
  let count = 0;
  let measuring = false;
  const stop = await start(() => {
    if (measuring) count++;
  });
  await new Promise((r) => setTimeout(r, WARMUP_MS));
  measuring = true;
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, DURATION_MS));
  const elapsed = performance.now() - t0;
  measuring = false;
  await stop();
  return (count / elapsed) * 1000;
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
const rawRuns: number[] = [];
const managedRuns: number[] = [];
for (let round = 0; round < 2; round++) {
  rawRuns.push(await raw());
  managedRuns.push(await managed());
}
await kill(feed.child);
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

reportBench({
  package: '@cryptoscalp/ws-manager',
  bench: 'client-throughput',
  figures: [
    {
      name: 'managed connection: decode + stream/sequence + dedup + ordering, msgs/s',
      value: mean(managedRuns),
      unit: 'msg/s',
      baseline: { name: 'raw ws + JSON.parse', value: mean(rawRuns) },
      higherIsBetter: true,
      target: 0.85,
      method: `feed in a separate process streaming ~110-byte sequenced JSON trades as fast as the socket drains; ${DURATION_MS} ms per run after ${WARMUP_MS} ms warm-up, 2 alternating rounds each, mean; machine shared with other work`,
      extra: {
        rawRuns: rawRuns.map((x) => Math.round(x)).join(' / '),
        managedRuns: managedRuns.map((x) => Math.round(x)).join(' / '),
        duplicatesDropped: duplicates,
      },
    },
  ],
});
