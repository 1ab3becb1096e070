// StreamHub fan-out vs the naive `for (const client of wss.clients) client.send(msg)` loop, measured the same way:
// N subscribers in separate client processes, the publisher in this process. Two phases per subject:
// a burst (BURST messages published back to back, yielding to the event loop between them) for delivered msg/s,
// and a paced phase (PACED messages at PACED_RATE/s, after the burst has fully drained) for delivery latency.
import { performance } from 'node:perf_hooks';
import { freePort, reportBench } from '@cryptoscalp/testkit';
import { WebSocketServer } from 'ws';
import { StreamHub } from '../src/hub.js';
import { type ChildReport, FanoutChildren } from '../test/fixtures/fanout-children.js';

const CLIENTS = Number(process.env.FANOUT_CLIENTS ?? 10_000);
const PROCESSES = Math.max(2, Math.ceil(CLIENTS / 5_000));
const BURST = Number(process.env.FANOUT_BURST ?? 20);
const PACED = 10;
const PACED_RATE = 5;
const now = () => performance.timeOrigin + performance.now();
// A top-20 order book update (~1 KB of JSON), the typical payload a trading UI subscribes to.
const level = (i: number, side: number) => [(64_123.45 + side * i * 0.01).toFixed(2), (1 + i / 7).toFixed(4)];
const payload = {
  symbol: 'BTCUSDT',
  bids: Array.from({ length: 20 }, (_, i) => level(i, -1)),
  asks: Array.from({ length: 20 }, (_, i) => level(i, 1)),
};

interface Result {
  deliveredPerSec: number;
  p50: number;
  p99: number;
  delivered: number;
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
    // burst
    await children.reset();
    const t0 = now();
    let busy = 0;
    let i = 0;
    for (; i < BURST; i++) {
      const s0 = performance.now();
      publish(i);
      busy += performance.now() - s0;
      await new Promise((r) => setImmediate(r));
    }
    const burst = await drain(BURST, 40_000);
    const delivered = burst.reduce((a, r) => a + r.total, 0);
    const lastAt = Math.max(...burst.map((r) => r.lastAt));
    const deliveredPerSec = (delivered / (lastAt - t0)) * 1000;
    // paced latency, on a drained system
    await children.reset();
    for (let k = 0; k < PACED; k++) {
      publish(i++);
      await new Promise((r) => setTimeout(r, 1000 / PACED_RATE));
    }
    const paced = await drain(PACED, 20_000);
    const p50 = Math.max(...paced.map((r) => r.latency.p50 ?? Number.NaN));
    const p99 = Math.max(...paced.map((r) => r.latency.p99 ?? Number.NaN));
    return { deliveredPerSec, p50, p99, delivered, publishCostMs: busy / BURST };
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

const method = `${CLIENTS} subscribers in ${PROCESSES} client processes, publisher in the bench process; ~1 KB order-book payload; burst: ${BURST} messages back to back (setImmediate between), delivered = client-received messages / (last receipt - first publish); latency: ${PACED} messages at ${PACED_RATE}/s after the burst drained, publish-to-receipt on every 10th client, worst child's percentile; machine shared with other work`;
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
        hubDelivered: subject.delivered,
        naiveDelivered: naive.delivered,
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
      method: `${method}; synchronous time inside publish() during the burst, mean per message`,
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
