import { serviceUrls, uniqueName, waitFor } from '@cryptoscalp/testkit';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { RedisCommandBus } from '../../src/bus/redis-command-bus.js';
import { RedisEventLog } from '../../src/bus/redis-event-log.js';
import {
  commandBusContract,
  eventLogContract,
  startAll,
  type TestEvent,
  traderErrorFrom,
  traderErrorOf,
} from '../unit/bus-contract.js';

const url = serviceUrls.redis;
const prefix = uniqueName('bus');
const admin = new Redis(url);
admin.on('error', () => {});
let n = 0;
const nextKey = () => `${prefix}:${++n}`;

afterAll(async () => {
  // Every stream, epoch, snapshot and reply key of this file starts with the prefix.
  let cursor = '0';
  do {
    const [next, keys] = await admin.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length > 0) await admin.del(...keys);
  } while (cursor !== '0');
  await admin.quit();
});

describe('RedisEventLog: EventLog contract (writer and reader are separate instances)', () => {
  eventLogContract(async () => {
    const key = nextKey();
    const writer = new RedisEventLog<TestEvent>({ redis: url, key });
    const reader = new RedisEventLog<TestEvent>({ redis: url, key });
    return { writer, reader, ...(await startAll(writer, reader)) };
  });
});

describe('RedisCommandBus: CommandBus contract (gateway and engine are separate instances)', () => {
  commandBusContract(async () => {
    const key = nextKey();
    const gateway = new RedisCommandBus({ redis: url, key, origin: 'gw-a' });
    const engine = new RedisCommandBus({ redis: url, key, origin: 'engine' });
    return { gateway, engine, ...(await startAll(gateway, engine)) };
  });
});

describe('RedisEventLog', () => {
  it('stores each record as stream entry <offset>-0', async () => {
    const key = nextKey();
    const log = new RedisEventLog<{ a: number }>({ redis: url, key });
    await log.start();
    log.append({ a: 1 });
    log.append({ a: 2 });
    await log.flush();
    const entries = await admin.xrange(`${key}:log`, '-', '+');
    expect(entries.map(([id]) => id)).toEqual(['1-0', '2-0']);
    expect(entries[1]?.[1]).toContain('{"a":2}');
    await log.close();
  });

  it('continues the offsets after a writer restart', async () => {
    const key = nextKey();
    const first = new RedisEventLog<number>({ redis: url, key });
    await first.start();
    const epoch = first.epoch;
    expect([first.append(10), first.append(20), first.append(30)]).toEqual([1, 2, 3]);
    await first.close();
    const second = new RedisEventLog<number>({ redis: url, key });
    await second.start();
    expect(second.epoch).toBe(epoch);
    expect(second.append(40)).toBe(4);
    await second.flush();
    expect((await second.read(0, 10)).map((r) => [r.offset, r.data])).toEqual([
      [1, 10],
      [2, 20],
      [3, 30],
      [4, 40],
    ]);
    await second.close();
  });

  it('refuses a second writer that raced for the same offsets, and reports it in health (fencing)', async () => {
    const key = nextKey();
    const a = new RedisEventLog<string>({ redis: url, key, name: 'writer-a' });
    const b = new RedisEventLog<string>({ redis: url, key, name: 'writer-b' });
    await a.start();
    await b.start(); // both learnt last offset 0
    expect(a.append('from a')).toBe(1);
    await a.flush();
    expect(b.append('from b')).toBe(1);
    const refused = await traderErrorOf(b.flush());
    expect(refused.code).toBe('E_TRADER_BUS');
    expect(refused.message).toContain('another writer appended offset 1');
    const health = await b.healthCheck();
    expect(health.status).toBe('fail');
    expect(health.output).toBe('another writer appended offset 1');
    expect(b.stats()).toMatchObject({ fenced: 1, fencedByOffset: 1, written: 0, pending: 1 });
    expect(traderErrorFrom(() => b.append('more')).code).toBe('E_TRADER_BUS');
    // The log holds only the first writer's record; the first writer goes on.
    expect(a.append('again a')).toBe(2);
    await a.flush();
    expect((await a.read(0, 10)).map((r) => r.data)).toEqual(['from a', 'again a']);
    expect((await a.healthCheck()).status).toBe('pass');
    await a.close();
    // The fenced writer's unwritten record is reported, not silently dropped.
    expect((await traderErrorOf(b.close())).message).toContain('1 records unwritten');
  });

  it('keeps the epoch while the log exists; a recreated log gets a new one and ignores the old snapshot', async () => {
    const key = nextKey();
    const log = new RedisEventLog<number>({ redis: url, key });
    await log.start();
    log.append(1);
    await log.flush();
    await log.saveSnapshot(1, '{"s":1}');
    expect(await admin.hget(`${key}:snapshot`, 'epoch')).toBe(log.epoch);
    const again = new RedisEventLog<number>({ redis: url, key });
    await again.start();
    expect(again.epoch).toBe(log.epoch);
    expect(await again.loadSnapshot()).toEqual({ offset: 1, json: '{"s":1}' });
    await again.close();
    await log.close();
    await admin.del(`${key}:log`, `${key}:epoch`);
    const recreated = new RedisEventLog<number>({ redis: url, key });
    await recreated.start();
    expect(recreated.epoch).not.toBe(log.epoch);
    expect(await recreated.lastOffset()).toBe(0);
    expect(await recreated.loadSnapshot()).toBeUndefined();
    await recreated.close();
  });

  it('counts a gap when a tail starts behind the trimmed part of the stream', async () => {
    const key = nextKey();
    const log = new RedisEventLog<number>({ redis: url, key, maxLength: 10 });
    await log.start();
    for (let i = 1; i <= 1_000; i++) log.append(i);
    await log.flush();
    const held = await log.read(0, 2_000);
    const firstHeld = held[0]?.offset ?? 0;
    expect(firstHeld).toBeGreaterThan(1); // MAXLEN ~ trims whole stream nodes
    const got: number[] = [];
    const tail = log.tail(0, (records) => got.push(...records.map((r) => r.offset)));
    await waitFor(() => got.length === held.length, { what: 'held records delivered' });
    await tail.stop();
    expect(got[0]).toBe(firstHeld);
    expect(log.stats()).toMatchObject({ gaps: 1, skipped: firstHeld - 1 });
    const health = await log.healthCheck();
    expect(health.status).toBe('warn');
    expect(health.output).toContain('gap');
    await log.close();
  });

  it("uses a caller's ioredis client without closing it; tails run on a duplicate", async () => {
    const key = nextKey();
    const client = new Redis(url);
    client.on('error', () => {});
    const log = new RedisEventLog<number>({ redis: client, key });
    await log.start();
    const got: number[] = [];
    const tail = log.tail(0, (records) => got.push(...records.map((r) => r.data)));
    for (let i = 1; i <= 5; i++) log.append(i * 10);
    await waitFor(() => got.length === 5, { what: 'records via the duplicate connection' });
    await tail.stop();
    await log.close();
    expect(got).toEqual([10, 20, 30, 40, 50]);
    expect(client.status).toBe('ready');
    expect(await client.xlen(`${key}:log`)).toBe(5);
    expect(client.listenerCount('error')).toBe(1);
    await client.quit();
  });

  it('rejects unknown and invalid options at construction, naming the field', () => {
    const unknown = traderErrorFrom(() => new RedisEventLog({ redis: url, key: 'k', maxLen: 10 } as never));
    expect(unknown.code).toBe('E_TRADER_INVALID_OPTION');
    expect(unknown.field).toBe('maxLen');
    expect(traderErrorFrom(() => new RedisEventLog({ redis: url } as never)).field).toBe('key');
    expect(traderErrorFrom(() => new RedisEventLog({ redis: 'http://x', key: 'k' })).field).toBe('redis');
    expect(traderErrorFrom(() => new RedisEventLog({ redis: url, key: 'k', maxLength: 0 })).field).toBe('maxLength');
    expect(traderErrorFrom(() => new RedisEventLog({ redis: url, key: 'k', maxPending: 1.5 })).field).toBe(
      'maxPending',
    );
    expect(traderErrorFrom(() => new RedisCommandBus({ redis: url, key: 'k', replyTtl: 1 } as never)).field).toBe(
      'replyTtl',
    );
    expect(traderErrorFrom(() => new RedisCommandBus({ redis: url, key: '' })).field).toBe('key');
  });

  it('refuses append before start()', async () => {
    const log = new RedisEventLog<number>({ redis: url, key: nextKey() });
    expect(traderErrorFrom(() => log.append(1)).code).toBe('E_TRADER_BUS');
    await log.close();
  });
});

describe('RedisCommandBus', () => {
  it('routes each reply to the gateway that sent the command', async () => {
    const key = nextKey();
    const engine = new RedisCommandBus({ redis: url, key, origin: 'engine' });
    const gateways = ['gw-1', 'gw-2', 'gw-3'].map((origin) => new RedisCommandBus({ redis: url, key, origin }));
    await Promise.all([engine, ...gateways].map((b) => b.start()));
    engine.serve((c) => `${c.origin}:${(c.payload as { i: number }).i}`);
    const replies = await Promise.all(
      gateways.flatMap((g) => [1, 2, 3].map((i) => g.send('who', { i }, { timeoutMs: 3_000 }))),
    );
    expect(replies.map((r) => (r.ok ? r.result : r.error.code))).toEqual([
      'gw-1:1',
      'gw-1:2',
      'gw-1:3',
      'gw-2:1',
      'gw-2:2',
      'gw-2:3',
      'gw-3:1',
      'gw-3:2',
      'gw-3:3',
    ]);
    for (const g of gateways) expect(g.stats()).toMatchObject({ replied: 3, lateReplies: 0 });
    await Promise.all([engine, ...gateways].map((b) => b.close()));
  });

  it('an engine that starts late still handles commands sent before it, while they are within their deadline', async () => {
    const key = nextKey();
    const gateway = new RedisCommandBus({ redis: url, key });
    await gateway.start();
    const early = gateway.send('early', { x: 1 }, { timeoutMs: 5_000 });
    await new Promise((r) => setTimeout(r, 300));
    const engine = new RedisCommandBus({ redis: url, key, origin: 'engine' });
    engine.serve((c) => c.type);
    await engine.start();
    expect(await early).toMatchObject({ ok: true, result: 'early' });
    await engine.close();
    // A restarted engine resumes after the last command it was given: nothing is handled twice.
    const restarted = new RedisCommandBus({ redis: url, key, origin: 'engine' });
    const seen: string[] = [];
    restarted.serve((c) => {
      seen.push(c.type);
      return c.type;
    });
    await restarted.start();
    expect(await gateway.send('after-restart', {}, { timeoutMs: 3_000 })).toMatchObject({ ok: true });
    expect(seen).toEqual(['after-restart']);
    await restarted.close();
    await gateway.close();
  });
});
