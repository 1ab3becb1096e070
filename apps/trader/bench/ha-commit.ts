// The cost of the active/standby durability rule: an order goes to the venue only once its `order.submitted` entry
// is durable in the event stream. Method: a fenced RedisEventLog on a disposable redis-server with AOF (everysec,
// then always), the FencedExecution wrapper over a venue that records when it receives the order. One order every
// 2 ms: append its entry (as the event publisher does in the journal listener) and submit it; the figure is the
// time from the append to the venue receiving the order, i.e. what the rule adds to tick-to-order. Baselines in the
// same run, same server: the unfenced path (submit right after the append, what an engine without HA does) and a
// raw ioredis XADD round trip of the same record (the floor of any durable commit).
// Run: npx tsx apps/trader/bench/ha-commit.ts   (BENCH_ORDERS=2000 per variant by default)
import { performance } from 'node:perf_hooks';
import { percentiles, reportBench, startRedisServer, uniqueName } from '@cryptoscalp/testkit';
import { Redis } from 'ioredis';
import { RedisEventLog, raiseEventLogFence } from '../src/bus/redis-event-log.js';
import { FencedExecution } from '../src/ha/fenced-execution.js';
import type { ExecutionClient } from '../src/model/execution-client.js';
import type { Order } from '../src/model/types.js';

const ORDERS = Number(process.env.BENCH_ORDERS ?? 2_000);
const SPACING_MS = 2;

const order = (i: number): Order =>
  ({
    clientOrderId: `bench-${String(i).padStart(10, '0')}`,
    symbol: 'BTCUSDT',
    side: 'buy',
    type: 'limit',
    qty: 0.0123,
    price: 64_000.5,
    status: 'submitted',
    filledQty: 0,
  }) as unknown as Order;

const entry = (o: Order, seq: number) => ({
  k: 'entry',
  entry: { seq, ts: Date.now(), type: 'order.submitted', data: { ...o, reason: 'p(up) 0.61' } },
});

/** A venue that only notes when each order arrived. */
function recordingVenue(arrived: Map<string, number>): ExecutionClient {
  return {
    name: 'recording',
    venueStateSurvivesRestart: false,
    submit: (o) => {
      arrived.set(o.clientOrderId, performance.now());
    },
    cancel: () => {},
    onEvent: () => {},
    close: async () => {},
  };
}

const pace = () => new Promise((r) => setTimeout(r, SPACING_MS));

/** Append -> venue, in ms, with the commit wait (`fenced`) or without it. */
async function appendToVenue(url: string, fenced: boolean): Promise<number[]> {
  const key = `bench:${uniqueName('ha')}`;
  const admin = new Redis(url);
  await raiseEventLogFence(admin, key, 1);
  const log = new RedisEventLog<unknown>({ redis: url, key, fenceEpoch: 1 });
  await log.start();
  const arrived = new Map<string, number>();
  const venue = recordingVenue(arrived);
  const exec = fenced
    ? new FencedExecution({ inner: venue, commit: () => log.flush(), leaseValid: () => true, onRefused: () => {} })
    : venue;
  const sent = new Map<string, number>();
  for (let i = 0; i < ORDERS; i++) {
    const o = order(i);
    sent.set(o.clientOrderId, performance.now());
    log.append(entry(o, i + 1));
    exec.submit(o);
    await pace();
  }
  await log.flush();
  await new Promise((r) => setTimeout(r, 50));
  await log.close();
  admin.disconnect();
  return [...sent].map(([id, t]) => (arrived.get(id) as number) - t);
}

/** A raw XADD of the same record, one at a time, round trip in ms. */
async function rawXadd(url: string): Promise<number[]> {
  const redis = new Redis(url);
  const key = `bench:${uniqueName('raw')}`;
  const out: number[] = [];
  for (let i = 0; i < ORDERS; i++) {
    const json = JSON.stringify(entry(order(i), i + 1));
    const t0 = performance.now();
    await redis.xadd(key, `${i + 1}-0`, 't', Date.now(), 'w', 'raw', 'd', json);
    out.push(performance.now() - t0);
    await pace();
  }
  await redis.del(key);
  redis.disconnect();
  return out;
}

const round = (n: number) => Math.round(n * 1000) / 1000;
const figures = [];
for (const fsync of ['everysec', 'always'] as const) {
  const server = await startRedisServer({ args: ['--appendonly', 'yes', '--appendfsync', fsync] });
  try {
    const raw = percentiles(await rawXadd(server.url), [50, 99, 99.9]);
    const direct = percentiles(await appendToVenue(server.url, false), [50, 99, 99.9]);
    const rule = percentiles(await appendToVenue(server.url, true), [50, 99, 99.9]);
    console.log(
      `AOF ${fsync}: append -> venue with the commit wait p50 ${round(rule.p50 as number)} / p99 ${round(rule.p99 as number)} / p99.9 ${round(rule['p99.9'] as number)} ms; without it p50 ${round(direct.p50 as number)} / p99 ${round(direct.p99 as number)} ms; raw XADD round trip p50 ${round(raw.p50 as number)} / p99 ${round(raw.p99 as number)} ms`,
    );
    figures.push({
      name: `append -> venue with the durability rule p99 (AOF ${fsync})`,
      value: rule.p99 as number,
      unit: 'ms',
      baseline: { name: 'raw ioredis XADD round trip p99, same server', value: raw.p99 as number },
      higherIsBetter: false,
      method: `${ORDERS} orders, one every ${SPACING_MS} ms, disposable redis-server appendfsync ${fsync}`,
      extra: {
        p50: rule.p50 as number,
        p999: rule['p99.9'] as number,
        withoutRuleP50: direct.p50 as number,
        withoutRuleP99: direct.p99 as number,
        rawP50: raw.p50 as number,
      },
    });
  } finally {
    await server.stop();
  }
}
reportBench({ package: '@cryptoscalp/trader', bench: 'ha-commit', figures });
