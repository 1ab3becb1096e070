import { PoolManager } from '@cryptoscalp/db-pool';
import { serviceUrls, uniqueName } from '@cryptoscalp/testkit';
import pg from 'pg';
import { Gauge, Registry } from 'prom-client';
import { afterAll, describe, expect, it } from 'vitest';
import { isTraderError } from '../../src/errors.js';
import { EngineLease, type EngineLeaseOptions } from '../../src/ha/engine-lease.js';
import { LeaderComponent } from '../../src/ha/ha-components.js';

// The lease state machine against the local PostgreSQL (own schema); the local validity on a clock the test moves.
const schema = uniqueName('trader_lease');
const db = new PoolManager({ primary: { connectionString: serviceUrls.postgres } });
let group = 0;

afterAll(async () => {
  await db.query(`drop schema if exists ${schema} cascade`);
  await db.close();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function lease(holder: string, g: string, extra: Partial<EngineLeaseOptions> = {}): EngineLease {
  return new EngineLease({ db, schema, group: g, holder, ttlMs: 600, ...extra });
}

describe('engine lease', () => {
  it('one holder at a time; the epoch grows on every takeover; an expired holder is lost for good', async () => {
    const g = `g${++group}`;
    const a = lease('a', g);
    const b = lease('b', g);
    await a.prepare();
    await b.prepare();
    expect(await a.tick()).toBe('active');
    expect(a.epoch).toBe(1);
    expect(await b.tick()).toBe('standby');
    expect(await a.tick()).toBe('active'); // renewed, same epoch
    expect(a.epoch).toBe(1);
    expect(await b.tick()).toBe('standby');
    await sleep(700); // past the TTL by the database's clock
    expect(await b.tick()).toBe('active');
    expect(b.epoch).toBe(2);
    expect(await a.tick()).toBe('lost');
    expect(a.validLocally()).toBe(false);
    expect(await a.tick()).toBe('lost');
    const { rows } = await db.query(`select holder, epoch from ${schema}.engine_lease where lease_group = $1`, [g]);
    expect(rows).toEqual([{ holder: 'b', epoch: '2' }]);
  });

  it('is valid locally until sentAt + ttl - margin on the monotonic clock', async () => {
    let now = 1_000;
    const a = lease('a', `g${++group}`, { now: () => now, marginMs: 100 });
    await a.prepare();
    expect(a.validLocally()).toBe(false);
    expect(await a.tick()).toBe('active');
    now = 1_499;
    expect(a.validLocally()).toBe(true);
    expect(a.remainingMs()).toBe(1);
    now = 1_500;
    expect(a.validLocally()).toBe(false);
  });

  it('a released lease is taken over at once, with the next epoch', async () => {
    const g = `g${++group}`;
    const a = lease('a', g, { ttlMs: 60_000 });
    const b = lease('b', g, { ttlMs: 60_000 });
    await a.prepare();
    expect(await a.tick()).toBe('active');
    expect(await b.tick()).toBe('standby');
    await a.release();
    expect(a.state).toBe('closed');
    expect(await b.tick()).toBe('active');
    expect(b.epoch).toBe(a.epoch + 1);
  });

  it('the writer fence passes for the holder and refuses an older epoch inside the transaction', async () => {
    const g = `g${++group}`;
    const a = lease('a', g);
    const b = lease('b', g);
    await a.prepare();
    await a.tick();
    await db.transaction((tx) => a.fence()(tx));
    await sleep(700);
    await b.tick();
    const refused = await db
      .transaction((tx) => a.fence()(tx))
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(isTraderError(refused) && refused.field).toBe('ha.lease');
    await db.transaction((tx) => b.fence()(tx));
  });

  it('a holder that cannot reach the database keeps the lease only while it is valid locally', async () => {
    const g = `g${++group}`;
    const pool = new pg.Pool({ connectionString: serviceUrls.postgres, max: 1 });
    const a = new EngineLease({ db: pool, schema, group: g, holder: 'a', ttlMs: 400 });
    await a.prepare();
    expect(await a.tick()).toBe('active');
    await pool.end(); // the database is gone for this holder
    expect(await a.tick()).toBe('active');
    expect(a.failures).toBe(1);
    expect(a.lastError).toBeDefined();
    await sleep(400);
    expect(await a.tick()).toBe('lost');
  });

  it('rejects bad options naming the field', () => {
    const field = (o: Partial<EngineLeaseOptions>) => {
      try {
        lease('a', 'g', o);
      } catch (e) {
        return isTraderError(e) ? e.field : undefined;
      }
      return undefined;
    };
    expect(field({ ttlMs: 0 })).toBe('ttlMs');
    expect(field({ marginMs: 600 })).toBe('marginMs');
    expect(field({ holder: '' })).toBe('holder');
    expect(field({ schema: 'bad schema' })).toBeDefined();
  });

  it("the active engine's ha component: active gauge, role and epoch in health, fail once lost, released on stop", async () => {
    const g = `g${++group}`;
    const active = new Gauge({ name: 'ha_test_engine_active', help: 'test', registers: [new Registry()] });
    const a = lease('a', g, { ttlMs: 60_000 });
    await a.prepare();
    expect(await a.tick()).toBe('active');
    const leader = new LeaderComponent(a, active);
    leader.start();
    expect((await active.get()).values[0]?.value).toBe(1);
    const health = await leader.healthCheck();
    expect(health).toMatchObject({ status: 'pass', observedValue: 1, details: { role: 'active', epoch: 1 } });
    expect(health.output).toMatch(/^active: lease epoch 1, valid for \d+ ms$/);
    await leader.stop();
    expect((await active.get()).values[0]?.value).toBe(0);
    const b = lease('b', g);
    await b.prepare();
    expect(await b.tick()).toBe('active'); // released: taken over at once, long before the 60 s TTL
    expect(b.epoch).toBe(2);
    expect(await a.tick()).toBe('closed'); // a released lease stays released
    expect(await leader.healthCheck()).toMatchObject({ status: 'fail', details: { role: 'demoted', epoch: 1 } });
  });
});
