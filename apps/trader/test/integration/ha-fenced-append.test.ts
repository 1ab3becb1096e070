import { type RedisServer, startRedisServer, uniqueName } from '@cryptoscalp/testkit';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisEventLog, raiseEventLogFence } from '../../src/bus/redis-event-log.js';
import { traderErrorFrom, traderErrorOf } from '../unit/bus-contract.js';

// The fenced append script on a disposable Redis with AOF, as the engines of an active/standby group use it.
let server: RedisServer;
let admin: Redis;
const prefix = uniqueName('fence');
let n = 0;
const nextKey = () => `${prefix}:${++n}`;

beforeAll(async () => {
  server = await startRedisServer({ args: ['--appendonly', 'yes', '--appendfsync', 'everysec'] });
  admin = new Redis(server.url);
}, 30_000);

afterAll(async () => {
  admin?.disconnect();
  await server?.stop();
});

describe('fenced append (leader epoch)', () => {
  it('raises the fence only upwards', async () => {
    const key = nextKey();
    expect(await raiseEventLogFence(admin, key, 3)).toBe(3);
    expect(await raiseEventLogFence(admin, key, 2)).toBe(3);
    expect(await admin.get(`${key}:fence`)).toBe('3');
    expect(await raiseEventLogFence(admin, key, 4)).toBe(4);
  });

  it('writes while the fence holds its epoch, and nothing once a newer leader raised it', async () => {
    const key = nextKey();
    await raiseEventLogFence(admin, key, 1);
    const old = new RedisEventLog<string>({ redis: server.url, key, fenceEpoch: 1, name: 'old-leader' });
    await old.start();
    old.append('a');
    old.append('b');
    await old.flush();
    // The new leader raises the fence before it writes anything: the old one is refused even with no new record.
    await raiseEventLogFence(admin, key, 2);
    expect(old.append('c')).toBe(3);
    const refused = await traderErrorOf(old.flush());
    expect(refused.code).toBe('E_TRADER_BUS');
    expect(refused.message).toContain('leader epoch 2 holds the fence, this writer has 1');
    expect(await admin.xlen(`${key}:log`)).toBe(2);
    expect(await old.healthCheck()).toMatchObject({ status: 'fail', output: expect.stringContaining('epoch 2') });
    expect(old.stats()).toMatchObject({ fenced: 1, written: 2, pending: 1 });
    expect(traderErrorFrom(() => old.append('d')).code).toBe('E_TRADER_BUS');
    // The new leader continues the offsets.
    const next = new RedisEventLog<string>({ redis: server.url, key, fenceEpoch: 2, name: 'new-leader' });
    await next.start();
    expect(next.append('x')).toBe(3);
    await next.flush();
    expect((await next.read(0, 10)).map((r) => r.data)).toEqual(['a', 'b', 'x']);
    await next.close();
    expect((await traderErrorOf(old.close())).message).toContain('1 records unwritten');
  });

  it('refuses a writer whose epoch is ahead of the fence too (the fence must equal it)', async () => {
    const key = nextKey();
    await raiseEventLogFence(admin, key, 5);
    const log = new RedisEventLog<string>({ redis: server.url, key, fenceEpoch: 6 });
    await log.start();
    log.append('early');
    expect((await traderErrorOf(log.flush())).message).toContain('leader epoch 5 holds the fence, this writer has 6');
    expect(await admin.exists(`${key}:log`)).toBe(0);
    await log.close().catch(() => undefined);
  });

  it('rejects a bad fenceEpoch naming the field', () => {
    expect(traderErrorFrom(() => new RedisEventLog({ redis: server.url, key: 'k', fenceEpoch: 0 })).field).toBe(
      'fenceEpoch',
    );
  });
});
