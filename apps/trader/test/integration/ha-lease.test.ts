import { PoolManager } from '@cryptoscalp/db-pool';
import { serviceUrls, uniqueName, waitFor } from '@cryptoscalp/testkit';
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

  it("a renewal does not wait for a writer's transaction holding the fence; a takeover does, then the writer is refused", async () => {
    const g = `g${++group}`;
    const pool = new pg.Pool({ connectionString: serviceUrls.postgres, max: 3 });
    const a = lease('a', g, { ttlMs: 1_500 });
    const b = lease('b', g, { ttlMs: 1_500 });
    const writer = await pool.connect();
    try {
      await a.prepare();
      expect(await a.tick()).toBe('active');
      // The leader's journal writer passed the fence and has not committed yet (a slow commit, a stalled loop).
      await writer.query('begin');
      await a.fence()({ query: async (t, p) => ({ rows: (await writer.query(t, p)).rows }) });
      const t0 = performance.now();
      expect(await a.tick()).toBe('active');
      expect(performance.now() - t0).toBeLessThan(1_000);
      await sleep(1_600); // the lease expires
      let acquired = false;
      const takeover = b.tick().then((s) => {
        acquired = true;
        return s;
      });
      await sleep(300);
      expect(acquired).toBe(false); // waits for the writer's commit
      await writer.query('commit');
      expect(await takeover).toBe('active');
      expect(b.epoch).toBe(a.epoch + 1);
      await writer.query('begin');
      const refused = await a
        .fence()({ query: async (t, p) => ({ rows: (await writer.query(t, p)).rows }) })
        .then(
          () => undefined,
          (e: unknown) => e,
        );
      await writer.query('rollback');
      expect(isTraderError(refused) && refused.field).toBe('ha.lease');
    } finally {
      writer.release();
      await pool.end();
    }
  });

  it('renewing on its own thread, the lease outlives an event loop blocked past the TTL; renewing on the loop, it does not', async () => {
    const block = (ms: number) => {
      const until = performance.now() + ms;
      while (performance.now() < until) JSON.stringify({ n: Math.random() });
    };
    // TTL 2 s, renewals every 300 ms, a loop blocked for 4 s (the machine may be loaded: the thread needs one
    // renewal through in each 1.8 s).
    const onLoop = lease('loop', `g${++group}`, { ttlMs: 2_000 });
    const gThread = `g${++group}`;
    const threaded = lease('thread', gThread, {
      ttlMs: 2_000,
      renewalThread: { connectionString: serviceUrls.postgres, intervalMs: 300 },
    });
    try {
      await onLoop.prepare();
      await threaded.prepare();
      expect(await onLoop.tick()).toBe('active');
      expect(await threaded.tick()).toBe('active');
      // The loop renews until the thread is up and connected, then hands the renewals over.
      await waitFor(
        async () => {
          expect(await threaded.tick()).toBe('active');
          return (threaded.slowestRenewalMs ?? 0) > 0;
        },
        { intervalMs: 100, what: 'a first renewal by the thread' },
      );
      block(4_000);
      expect(onLoop.validLocally()).toBe(false);
      expect(threaded.validLocally()).toBe(true);
      expect(await onLoop.tick()).toBe('lost');
      expect(await threaded.tick()).toBe('active');
      expect(threaded.slowestRenewalMs).toBeGreaterThan(0);
      // Still held in the database: another holder cannot take it.
      const other = lease('other', gThread, { ttlMs: 2_000 });
      expect(await other.tick()).toBe('standby');
      // A renewal the database refuses (another epoch in the row) is seen by the thread: lost for good.
      await db.query(`update ${schema}.engine_lease set epoch = epoch + 1 where lease_group = $1`, [gThread]);
      await waitFor(async () => (await threaded.tick()) === 'lost', { what: 'the refused renewal' });
      expect(threaded.validLocally()).toBe(false);
    } finally {
      await threaded.release();
      await onLoop.release();
    }
  });

  it('a released lease renewed on its own thread stops renewing and is taken over at once', async () => {
    const g = `g${++group}`;
    const a = lease('a', g, {
      ttlMs: 1_000,
      renewalThread: { connectionString: serviceUrls.postgres, intervalMs: 100 },
    });
    const b = lease('b', g, { ttlMs: 1_000 });
    await a.prepare();
    expect(await a.tick()).toBe('active');
    await waitFor(
      async () => {
        expect(await a.tick()).toBe('active');
        return (a.slowestRenewalMs ?? 0) > 0;
      },
      { intervalMs: 50, what: 'a first renewal by the thread' },
    );
    await a.release();
    expect(a.state).toBe('closed');
    expect(await b.tick()).toBe('active');
    await sleep(300); // a stopped thread renews nothing: b keeps it
    expect(await b.tick()).toBe('active');
    await b.release();
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
