// StreamHub fan-out vs the naive `for (const client of wss.clients) client.send(msg)` loop, measured the same way:
// N subscribers in separate client processes, the publisher in this process. Two phases per subject:
// saturation (publish as fast as the loop allows for a fixed time, then drain) for delivered msg/s, and a paced
// phase (20 publishes/s) for delivery latency percentiles.
import { performance } from 'node:perf_hooks';
import { freePort, reportBench } from '@cryptoscalp/testkit';
import { WebSocketServer } from 'ws';
import { StreamHub } from '../src/index.js';
import { type ChildReport, FanoutChildren } from '../test/fixtures/fanout-children.js';

const CLIENTS = Number(process.env.FANOUT_CLIENTS ?? 10_000);
const PROCESSES = Math.max(2, Math.ceil(CLIENTS / 5_000));
const SATURATE_MS = 2_000;
const PACED_MS = 2_000;
const PACED_RATE = 5;
const now = () => performance.timeOrigin + performance.now();
const payload = { symbol: 'BTCUSDT', bid: '64123.45', ask: '64123.46', bidQty: '1.250', askQty: '0.730' };

interface Result {
  deliveredPerSec: number;
  p50: number;
  p99: number;
  publishedSaturate: number;
  publishCostMs: number;
}

async function run(publish: (i: number) => void, url: string, subscribe: boolean): Promise<Result> {
  const children = FanoutChildren.spawn(PROCESSES);
  try {
    await children.connect(url, Math.ceil(CLIENTS / PROCESSES), 'fan', subscribe);
    const expectedClients = Math.ceil(CLIENTS / PROCESSES) * PROCESSES;
    const drain = async (published: number, timeoutMs: number): Promise<ChildReport[]> => {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const reports = await children.report();
        const total = reports.reduce((a, r) => a + r.total, 0);
        if (total >= published * expectedClients || Date.now() > deadline) return reports;
        await new Promise((r) => setTimeout(r, 100));
      }
    };
    // saturation
    await children.reset();
    const t0 = now();
    let i = 0;
    let busy = 0;
    while (now() - t0 < SATURATE_MS) {
      const s0 = performance.now();
      publish(i++);
      busy += performance.now() - s0;
      if (i % 4 === 0) await new Promise((r) => setImmediate(r));
    }
    const saturated = await drain(i, 20_000);
    const delivered = saturated.reduce((a, r) => a + r.total, 0);
    const lastAt = Math.max(...saturated.map((r) => r.lastAt));
    const deliveredPerSec = (delivered / (lastAt - t0)) * 1000;
    // paced latency
    await children.reset();
    const count = Math.round((PACED_MS / 1000) * PACED_RATE);
    for (let k = 0; k < count; k++) {
      publish(i++);
      await new Promise((r) => setTimeout(r, 1000 / PACED_RATE));
    }
    const paced = await drain(count, 10_000);
    const p50 = Math.max(...paced.map((r) => r.latency.p50 ?? Number.NaN));
    const p99 = Math.max(...paced.map((r) => r.latency.p99 ?? Number.NaN));
    return { deliveredPerSec, p50, p99, publishedSaturate: i - count, publishCostMs: busy / (i - count) };
  } finally {
    await children.exit();
  }
}

// Baseline: naive loop, message serialized once as a string, sent to every client.
const naivePort = await freePort();
const wss = new WebSocketServer({ port: naivePort, host: '127.0.0.1' });
await new Promise((r) => wss.once('listening', r));
const naive = await run(
  (i) => {
    const msg = JSON.stringify({ type: 'message', topic: 'fan', offset: i + 1, data: { ...payload, t: now() } });
    for (const client of wss.clients) client.send(msg);
  },
  `ws://127.0.0.1:${naivePort}`,
  false,
);
for (const client of wss.clients) client.terminate();
await new Promise((r) => wss.close(() => r(undefined)));

const hub = new StreamHub({ port: 0, heartbeatIntervalMs: 0, maxBufferedBytes: 64 * 1024 * 1024 });
await hub.ready();
const subject = await run(
  () => {
    hub.publish('fan', { ...payload, t: now() });
  },
  `ws://127.0.0.1:${hub.address()?.port}`,
  true,
);
const hubStats = hub.stats() as { conflated: number };
await hub.close();

const method = `${CLIENTS} subscribers in ${PROCESSES} client processes, publisher in the bench process; saturation: publish for ${SATURATE_MS} ms (yield every 4 publishes) then drain, delivered = client-received messages / (last receipt - start); latency: ${PACED_RATE} publishes/s for ${PACED_MS} ms, publish-to-receipt on every 10th client, worst child's percentile; machine shared with other work`;
reportBench({
  package: '@cryptoscalp/ws-manager',
  bench: 'hub-fanout',
  figures: [
    {
      name: `hub fan-out to ${CLIENTS} subscribers, delivered msg/s`,
      value: subject.deliveredPerSec,
      unit: 'msg/s',
      baseline: { name: 'naive for (client of wss.clients) client.send(msg)', value: naive.deliveredPerSec },
      higherIsBetter: true,
      target: 1.0,
      method,
      extra: {
        hubPublished: subject.publishedSaturate,
        naivePublished: naive.publishedSaturate,
        hubConflated: hubStats.conflated,
      },
    },
    {
      name: `publisher event-loop time per message fanned out to ${CLIENTS} subscribers`,
      value: subject.publishCostMs,
      unit: 'ms',
      baseline: { name: 'naive loop', value: naive.publishCostMs },
      higherIsBetter: false,
      target: 1.0,
      method: `${method}; synchronous time inside publish() during the saturation phase, mean per message`,
    },
    {
      name: `hub fan-out to ${CLIENTS} subscribers, p99 delivery latency at ${PACED_RATE} msg/s`,
      value: subject.p99,
      unit: 'ms',
      baseline: { name: 'naive loop p99', value: naive.p99 },
      higherIsBetter: false,
      method,
      extra: { hubP50: subject.p50, naiveP50: naive.p50, targetAbsoluteMs: 50 },
    },
  ],
});
