// Time from a feed-server restart (SIGKILL, then a new process on the same port) to the first message received,
// for a managed connection with default settings vs a raw `ws` client with the common fixed 1 s reconnect timer.
// Both clients are connected to the same feed during the same restarts.
import { performance } from 'node:perf_hooks';
import { freePort, percentiles, reportBench } from '@cryptoscalp/testkit';
import WebSocket from 'ws';
import { WebSocketManager } from '../src/index.js';
import { kill, startFeed } from './helpers.js';

const RESTARTS = Number(process.env.RESTARTS ?? 10);
const DOWNTIME_MS = 100;
const port = await freePort();
const url = `ws://127.0.0.1:${port}`;
let feed = await startFeed(port, 'ticker', 2);

let managedFirst = 0;
const manager = new WebSocketManager({ exchanges: { local: { endpoints: [url] } } });
const conn = manager.connect('local', { stream: (m) => m.stream, sequence: (m) => m.u });
conn.on('message', () => {
  if (managedFirst === 0) managedFirst = performance.now();
});

let naiveFirst = 0;
let naiveClosed = false;
let naiveSocket: WebSocket | undefined;
function connectNaive(): void {
  const ws = new WebSocket(url);
  naiveSocket = ws;
  ws.on('message', () => {
    if (naiveFirst === 0) naiveFirst = performance.now();
  });
  ws.on('error', () => {});
  ws.on('close', () => {
    if (!naiveClosed) setTimeout(connectNaive, 1_000);
  });
}
connectNaive();

const until = async (check: () => boolean, timeoutMs = 15_000) => {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('timed out waiting for the first message');
    await new Promise((r) => setTimeout(r, 2));
  }
};

await until(() => managedFirst > 0 && naiveFirst > 0);
const managedSamples: number[] = [];
const naiveSamples: number[] = [];
for (let r = 0; r < RESTARTS; r++) {
  // stay up past the default stableAfterMs (3 s) so every restart is an independent event, not a flapping server
  await new Promise((res) => setTimeout(res, 3_100));
  await kill(feed.child);
  await new Promise((res) => setTimeout(res, DOWNTIME_MS));
  managedFirst = 0;
  naiveFirst = 0;
  // the venue's sequence keeps counting while it is down (as exchange update ids do)
  feed = await startFeed(port, 'ticker', 2, (r + 1) * 10_000_000);
  await until(() => managedFirst > 0 && naiveFirst > 0);
  managedSamples.push(managedFirst - feed.listeningAt);
  naiveSamples.push(naiveFirst - feed.listeningAt);
}
naiveClosed = true;
naiveSocket?.terminate();
await manager.close();
await kill(feed.child);

const m = percentiles(managedSamples, [50, 99]);
const n = percentiles(naiveSamples, [50, 99]);
reportBench({
  package: '@cryptoscalp/ws-manager',
  bench: 'reconnect',
  figures: [
    {
      name: 'reconnect after feed restart, p99 time to first message (default settings)',
      value: m.p99 as number,
      unit: 'ms',
      baseline: { name: 'raw ws with a fixed 1 s reconnect timer', value: n.p99 as number },
      higherIsBetter: false,
      method: `${RESTARTS} restarts: SIGKILL the feed process, ${DOWNTIME_MS} ms down, new process on the same port; time from the new process reporting LISTENING to the first message; restarts 3.1 s apart; both clients on the same feed; machine shared with other work`,
      extra: { managedP50: m.p50 as number, naiveP50: n.p50 as number, targetAbsoluteMs: 1_000, samples: RESTARTS },
    },
  ],
});
