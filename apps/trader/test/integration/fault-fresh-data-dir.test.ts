import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PoolManager } from '@cryptoscalp/db-pool';
import { serviceUrls, uniqueName, waitFor } from '@cryptoscalp/testkit';
import { afterAll, describe, expect, it } from 'vitest';
import type { PersistenceComponent } from '../../src/app/components/persistence-component.js';
import { createTrader, type Trader } from '../../src/app/trader.js';
import { loadConfig } from '../../src/config/load-config.js';
import { Journal } from '../../src/journal/journal.js';

const schema = uniqueName('fresh');
const instanceId = uniqueName('fresh-trader').replaceAll('_', '-');
const db = new PoolManager({ primary: { connectionString: serviceUrls.postgres } });
const dirs: string[] = [];
const running: Trader[] = [];

afterAll(async () => {
  for (const t of running) await t.stop('test end').catch(() => {});
  await db.query(`drop schema if exists ${schema} cascade`);
  await db.close();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
}, 60_000);

function dataDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'trader-fresh-'));
  dirs.push(d);
  return d;
}

function trader(dir: string, id = instanceId): Trader {
  const t = createTrader({
    config: loadConfig({
      env: {},
      overrides: {
        dataDir: dir,
        instanceId: id,
        symbols: ['BTCUSDT', 'ETHUSDT'],
        http: { port: 0, shutdownDelayMs: 0 },
        strategy: { warmupSamples: 30, limitOrderTtlMs: 300 },
        journal: { fsync: 'never' },
        database: { url: serviceUrls.postgres, schema },
      },
    }),
    log: () => {},
  });
  running.push(t);
  return t;
}

/** Runs a trader until it has `orders` orders, stops it (the writer flushes), returns its journal's orders. */
async function trade(dir: string, id: string, orders: number): Promise<string[]> {
  const t = trader(dir, id);
  await t.start();
  await waitFor(() => t.engine().counters.ordersSubmitted >= orders, { timeoutMs: 45_000, what: `${orders} orders` });
  await t.stop('test');
  expect((t.component<PersistenceComponent>('persistence').stats() as { lag: number }).lag).toBe(0);
  return Journal.read(join(dir, 'journal.jsonl'))
    .filter((e) => e.type === 'order.submitted')
    .map((e) => (e.data as { clientOrderId: string }).clientOrderId);
}

async function dbState() {
  const o = await db.query<{ n: string }>(`select count(*) as n from ${schema}.orders`);
  const f = await db.query<{ n: string; d: string }>(
    `select count(*) as n, count(distinct fill_id) as d from ${schema}.fills`,
  );
  const c = await db.query<{ instance_id: string; last_seq: string }>(
    `select instance_id, last_seq from ${schema}.writer_cursor order by instance_id`,
  );
  return {
    orders: Number(o.rows[0]?.n),
    fills: Number(f.rows[0]?.n),
    distinctFills: Number(f.rows[0]?.d),
    cursors: c.rows,
  };
}

describe('fault: a fresh data dir against a database that already has history', () => {
  const home = dataDir();
  const fresh = dataDir();
  let aOrders: string[] = [];

  it('refuses to start, names the fix, and writes nothing', async () => {
    aOrders = await trade(home, instanceId, 3);
    const before = await dbState();
    expect(before.orders).toBe(aOrders.length);

    const t = trader(fresh);
    await expect(t.start()).rejects.toThrow(
      new RegExp(
        `database already holds history for instance ${instanceId}.*Fix: start with the data dir that holds .*TRADER_INSTANCE_ID`,
      ),
    );
    expect(await dbState()).toEqual(before);
    // The refused start journaled nothing.
    expect(Journal.read(join(fresh, 'journal.jsonl'))).toEqual([]);

    // A cursor row from before the journal identity was stored: refused on its position and its order ids.
    await db.query(`update ${schema}.writer_cursor set journal_origin = null where instance_id = $1`, [instanceId]);
    await expect(trader(fresh).start()).rejects.toThrow(/writer cursor is at entry \d+, this journal ends at 0/);
    expect(await dbState()).toEqual(before);
  });

  it('its own data dir starts as before; a fresh data dir with its own instance id never collides', async () => {
    // No false alarm for the journal the history came from.
    const again = await trade(home, instanceId, 2);
    expect(again.slice(0, aOrders.length)).toEqual(aOrders);
    const bOrders = await trade(fresh, `${instanceId}-b`, 3);
    for (const id of bOrders) expect(again).not.toContain(id);
    const fills = (dir: string) => Journal.read(join(dir, 'journal.jsonl')).filter((e) => e.type === 'fill').length;
    const state = await dbState();
    // Every order and fill of both journals is in PostgreSQL: none skipped as a "duplicate".
    expect(state.orders).toBe(again.length + bOrders.length);
    expect(state.fills).toBe(fills(home) + fills(fresh));
    expect(state.distinctFills).toBe(state.fills);
  });
});
