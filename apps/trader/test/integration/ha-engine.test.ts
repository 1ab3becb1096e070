import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PoolManager } from '@cryptoscalp/db-pool';
import { type RedisServer, serviceUrls, startRedisServer, uniqueName, waitFor } from '@cryptoscalp/testkit';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { loadConfig } from '../../src/config/load-config.js';
import { TradingEngine } from '../../src/engine/trading-engine.js';
import { Journal, type JournalEntry } from '../../src/journal/journal.js';
import type { JournalEvents } from '../../src/model/journal-events.js';
import type { Fill } from '../../src/model/types.js';
import { killTraderChildren, startTraderProcess, type TraderProcess } from './trader-process.js';

// Engine active/standby as real processes: two engines and a gateway on a disposable Redis with AOF and the local
// PostgreSQL (own schema). The active engine is SIGKILLed under trading, then its successor is SIGSTOPped past the
// lease and resumed. Default strategy settings (200 warm-up samples): the standby restores the strategy state the
// leader journaled, so the new leader trades within 5 s without warming up again.
const schema = uniqueName('trader_ha');
const busKey = `test:${uniqueName('ha')}`;
const root = mkdtempSync(join(tmpdir(), 'trader-ha-'));
const admin = new PoolManager({ primary: { connectionString: serviceUrls.postgres } });
let redisServer: RedisServer;
let redis: Redis;

beforeAll(async () => {
  redisServer = await startRedisServer({ args: ['--appendonly', 'yes', '--appendfsync', 'everysec'] });
  redis = new Redis(redisServer.url);
}, 30_000);

afterAll(async () => {
  await killTraderChildren();
  redis?.disconnect();
  await redisServer?.stop();
  await admin.query(`drop schema if exists ${schema} cascade`);
  await admin.close();
  rmSync(root, { recursive: true, force: true });
}, 60_000);

const env = (extra: Record<string, string> = {}): Record<string, string> => ({
  TRADER_BUS_REDIS_URL: redisServer.url,
  DATABASE_URL: serviceUrls.postgres,
  TRADER_DATABASE_SCHEMA: schema,
  TRADER_BUS_KEY: busKey,
  TRADER_JWT_SECRET: 'ha-test-secret-0123456789abcdef0123456789abcd',
  TRADER_HTTP_SHUTDOWN_DELAY_MS: '0',
  TRADER_INSTANCE_ID: 'ha',
  ...extra,
});

const engine = (name: string): TraderProcess =>
  startTraderProcess(
    ['--role', 'engine', '--port', '0', '--data-dir', join(root, name)],
    env({ TRADER_HA_ENABLED: 'true' }),
  );

/** The engine-active gauge of one engine's `/metrics`, or undefined when it does not answer. */
async function activeGauge(base: string): Promise<number | undefined> {
  try {
    const text = await (await fetch(`${base}/metrics`)).text();
    const m = /^cryptoscalp_trader_engine_active (\d)/m.exec(text);
    return m === null ? undefined : Number(m[1]);
  } catch {
    return undefined;
  }
}

/** The `ha` check of one engine's `/health/status`: its status and output (role and epoch). */
async function haStatus(base: string): Promise<{ status: string; output: string }> {
  const body = (await (await fetch(`${base}/health/status`)).json()) as {
    checks: Record<string, { status: string; output: string }[]>;
  };
  const check = body.checks['ha:responseTime']?.[0];
  if (check === undefined) throw new Error(`no ha check in ${JSON.stringify(body)}`);
  return check;
}

interface StreamEntry {
  offset: number;
  ts: number;
  writer: string;
  entry: JournalEntry;
}

/** Every `entry` record of the stream, with the writer that appended it. */
async function streamEntries(): Promise<StreamEntry[]> {
  const rows = (await redis.xrange(`${busKey}:events:log`, '-', '+')) as [string, string[]][];
  const out: StreamEntry[] = [];
  for (const [id, fields] of rows) {
    const f = new Map<string, string>();
    for (let i = 0; i + 1 < fields.length; i += 2) f.set(fields[i] as string, fields[i + 1] as string);
    const data = JSON.parse(f.get('d') as string) as { k: string; entry?: JournalEntry };
    if (data.k !== 'entry') continue;
    out.push({
      offset: Number(id.split('-')[0]),
      ts: Number(f.get('t')),
      writer: f.get('w') as string,
      entry: data.entry as JournalEntry,
    });
  }
  return out;
}

const entriesBefore = (all: StreamEntry[], offset: number): JournalEntry[] =>
  all.filter((s) => s.offset <= offset).map((s) => s.entry);

const ids = (entries: JournalEntry[], type: string, field: string) =>
  entries.filter((e) => e.type === type).map((e) => (e.data as Record<string, string>)[field] as string);

describe('engine active/standby', () => {
  it('one active engine; SIGKILL: the standby trades within 5 s with nothing lost or duplicated; SIGSTOP: the resumed old leader writes nothing', async () => {
    const a = engine('a');
    const b = engine('b');
    const gateway = startTraderProcess(['--role', 'gateway', '--port', '0'], env({ TRADER_INSTANCE_ID: 'gw' }));
    const [urlA, urlB] = await Promise.all([a.ready(), b.ready()]);
    await gateway.ready();
    // On a failure, what the engines said is the first thing to read.
    onTestFailed(() => {
      for (const [name, p] of [
        ['a', a],
        ['b', b],
      ] as const)
        console.log(`engine ${name}:\n${p.output().slice(-4_000)}`);
    });

    // Exactly one active: the gauges and /health/status agree.
    await waitFor(async () => ((await activeGauge(urlA)) ?? 0) + ((await activeGauge(urlB)) ?? 0) === 1, {
      timeoutMs: 15_000,
      intervalMs: 100,
      what: 'one active engine',
    });
    const aActive = (await activeGauge(urlA)) === 1;
    const [active, standby, activeUrl, standbyUrl] = aActive ? [a, b, urlA, urlB] : [b, a, urlB, urlA];
    expect(await activeGauge(standbyUrl)).toBe(0);
    const activeHa = await haStatus(activeUrl);
    const standbyHa = await haStatus(standbyUrl);
    expect(activeHa).toMatchObject({ status: 'pass', output: expect.stringMatching(/^active: lease epoch \d+/) });
    expect(standbyHa).toMatchObject({ status: 'pass', output: expect.stringMatching(/^standby: /) });
    expect((await fetch(`${standbyUrl}/health/readiness`)).status).toBe(200);
    const firstEpoch = Number(/epoch (\d+)/.exec(activeHa.output)?.[1]);
    expect(firstEpoch).toBeGreaterThan(0);

    // Trading: wait for fills in the stream, then SIGKILL the active engine.
    await waitFor(
      async () =>
        ids(
          (await streamEntries()).map((s) => s.entry),
          'fill',
          'fillId',
        ).length >= 5,
      {
        timeoutMs: 60_000,
        intervalMs: 200,
        what: 'fills from the first leader',
      },
    );
    // Still the same leadership: the active engine runs and the standby never took over.
    expect(active.child.exitCode).toBeNull();
    expect(standby.output()).not.toMatch(/active engine: lease epoch/);
    const killedAt = Date.now();
    active.child.kill('SIGKILL');
    await active.exited;
    await waitFor(() => /active engine: lease epoch/.test(standby.output()), {
      timeoutMs: 10_000,
      intervalMs: 20,
      what: 'takeover',
    });
    const line = /lease epoch (\d+) acquired at (\d+), taken over in (\d+) ms/.exec(standby.output());
    expect(line).not.toBeNull();
    const [, epoch2, acquiredAt, takeoverMs] = (line as RegExpExecArray).map(Number) as number[];
    expect(epoch2).toBeGreaterThan(firstEpoch);
    const lastOldOffset = Math.max(
      ...(await streamEntries()).filter((s) => s.ts <= (acquiredAt as number)).map((s) => s.offset),
    );
    // Trading again: the first order the new leader submitted.
    let firstOrderAt = 0;
    await waitFor(
      async () => {
        const fresh = (await streamEntries()).filter(
          (s) => s.offset > lastOldOffset && s.entry.type === 'order.submitted',
        );
        firstOrderAt = fresh[0]?.ts ?? 0;
        return fresh.length > 0;
      },
      { timeoutMs: 15_000, intervalMs: 50, what: 'an order from the new leader' },
    ).catch((e: unknown) => {
      throw new Error(`${(e as Error).message}; the new leader said:\n${standby.output().slice(-3_000)}`);
    });
    // The new leader restored the strategy its predecessor journaled: it did not warm up again.
    expect(entriesBefore(await streamEntries(), lastOldOffset).some((e) => e.type === 'strategy.state')).toBe(true);
    const detectMs = (acquiredAt as number) - killedAt;
    const tradingMs = firstOrderAt - killedAt;
    console.log(
      `HA_RESULT SIGKILL: lease acquired ${detectMs} ms after the kill, takeover ${takeoverMs} ms, first order ${Math.round(tradingMs)} ms after the kill`,
    );
    expect(tradingMs).toBeLessThan(5_000);
    expect(await activeGauge(standbyUrl)).toBe(1);

    // SIGSTOP the new leader past the lease; a restarted first engine (a standby) takes over; then SIGCONT.
    const restarted = engine(aActive ? 'a' : 'b');
    onTestFailed(() => console.log(`restarted engine:\n${restarted.output().slice(-4_000)}`));
    const restartedUrl = await restarted.ready();
    expect(restarted.output()).toMatch(/trader: standby/);
    await waitFor(
      async () =>
        ids(
          (await streamEntries()).filter((s) => s.offset > lastOldOffset).map((s) => s.entry),
          'fill',
          'fillId',
        ).length >= 2,
      {
        timeoutMs: 30_000,
        intervalMs: 200,
        what: 'fills from the second leader',
      },
    );
    const pausedWriter = (await streamEntries()).at(-1)?.writer as string;
    standby.child.kill('SIGSTOP');
    const pausedAt = Date.now();
    try {
      await waitFor(() => /active engine: lease epoch/.test(restarted.output()), {
        timeoutMs: 15_000,
        intervalMs: 20,
        what: 'takeover from the paused leader',
      });
    } finally {
      standby.child.kill('SIGCONT');
    }
    const third = /lease epoch (\d+) acquired at (\d+)/.exec(restarted.output()) as RegExpExecArray;
    expect(Number(third[1])).toBeGreaterThan(epoch2 as number);
    console.log(`HA_RESULT SIGSTOP: lease acquired ${Number(third[2]) - pausedAt} ms after the pause`);
    const code = await Promise.race([standby.exited, new Promise((r) => setTimeout(() => r('running'), 15_000))]);
    expect(code).toBe(75);
    expect(standby.output()).toMatch(/trader: demoted/);
    expect(await activeGauge(restartedUrl)).toBe(1);
    // Let the third leader trade a little, then stop everything gracefully.
    await new Promise((r) => setTimeout(r, 1_500));
    expect(await restarted.stop()).toBe(0);
    expect(await gateway.stop()).toBe(0);

    // Nothing from the paused leader after the takeover: no record of its writer past the third leader's first.
    const all = await streamEntries();
    const thirdAcquired = Number(third[2]);
    const firstOfThird = all.find((s) => s.ts >= thirdAcquired && s.writer !== pausedWriter);
    expect(firstOfThird).toBeDefined();
    expect(all.filter((s) => s.offset > (firstOfThird as StreamEntry).offset && s.writer === pausedWriter)).toEqual([]);

    // The stream is one gapless journal: no duplicate client order id or fill id across the three leaderships.
    const entries = all.map((s) => s.entry);
    expect(entries.map((e) => e.seq)).toEqual(entries.map((_, i) => i + 1));
    const submitted = ids(entries, 'order.submitted', 'clientOrderId');
    expect(new Set(submitted).size).toBe(submitted.length);
    const fills = entries.filter((e) => e.type === 'fill').map((e) => e.data as Fill);
    expect(new Set(fills.map((f) => f.fillId)).size).toBe(fills.length);
    // The last leader's journal equals the stream: every committed fill of the earlier leaders is in it once.
    const lastJournal = Journal.read(join(root, aActive ? 'a' : 'b', 'journal.jsonl'));
    expect(lastJournal).toEqual(entries);

    // PostgreSQL equals the stream: orders, fills exactly once, positions equal a replay of the stream.
    const dbFills = await admin.query<{ fill_id: string }>(`select fill_id from ${schema}.fills order by fill_id`);
    expect(dbFills.rows.map((r) => r.fill_id)).toEqual(fills.map((f) => f.fillId).sort());
    const dbOrders = await admin.query<{ client_order_id: string }>(
      `select client_order_id from ${schema}.orders order by client_order_id`,
    );
    expect(dbOrders.rows.map((r) => r.client_order_id)).toEqual([...submitted].sort());
    const { journal } = Journal.open(join(root, 'reference.jsonl'), { fsync: 'never' });
    const reference = new TradingEngine({ config: loadConfig({ env: {}, overrides: { instanceId: 'ha' } }), journal });
    reference.replay(entries, { reconcile: false });
    const dbPositions = await admin.query<{ symbol: string; qty: number; realized: number; fees: number }>(
      `select symbol, qty, realized, fees from ${schema}.positions order by symbol`,
    );
    expect(dbPositions.rows.length).toBe(reference.portfolio.snapshots().length);
    for (const r of dbPositions.rows) {
      const p = reference.portfolio.snapshot(r.symbol);
      expect(r.qty).toBeCloseTo(p.qty, 9);
      expect(r.realized).toBeCloseTo(p.realized, 9);
      expect(r.fees).toBeCloseTo(p.fees, 9);
    }
    await reference.close();
    // What the resumed leader did locally: journaled (its own file) but never committed, so nowhere else.
    const lastCommitted = Math.max(...all.filter((s) => s.writer === pausedWriter).map((s) => s.entry.seq));
    const pausedJournal = Journal.read(join(root, aActive ? 'b' : 'a', 'journal.jsonl'));
    expect(pausedJournal.filter((e) => e.seq <= lastCommitted)).toEqual(entries.slice(0, lastCommitted));
    console.log(
      `HA_RESULT SIGSTOP: the resumed leader had ${pausedJournal.length - lastCommitted} uncommitted local entries; ${/trader: demoted: [^\n]*/.exec(standby.output())?.[0]}`,
    );
    // Orders open at each takeover were reconciled (cancelled) by the new leader from the journal.
    const cancelled = entries.filter(
      (e) => e.type === 'order.cancelled' && /reconciled/.test((e.data as JournalEvents['order.cancelled']).reason),
    );
    console.log(
      `HA_RESULT stream: ${entries.length} entries, ${submitted.length} orders, ${fills.length} fills, ${cancelled.length} reconciled at takeovers`,
    );
  }, 120_000);
});
