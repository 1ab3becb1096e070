import { mkdirSync, mkdtempSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PoolManager } from '@cryptoscalp/db-pool';
import { type PostgresCluster, serviceUrls, startPostgresCluster, uniqueName, waitFor } from '@cryptoscalp/testkit';
import { afterAll, describe, expect, it } from 'vitest';
import { Journal, SNAPSHOT_ENTRY } from '../../src/journal/journal.js';
import type { Fill } from '../../src/model/types.js';
import { JournalWriter } from '../../src/persistence/journal-writer.js';
import { Portfolio } from '../../src/portfolio/portfolio.js';

const dbs: PoolManager[] = [];
const clusters: PostgresCluster[] = [];
const schemas: string[] = [];
const dirs: string[] = [];
function tmpJournal(): string {
  const dir = mkdtempSync(join(tmpdir(), 'trader-writer-'));
  dirs.push(dir);
  return join(dir, 'journal.jsonl');
}
afterAll(async () => {
  const admin = new PoolManager({ primary: { connectionString: serviceUrls.postgres } });
  for (const s of schemas) await admin.query(`drop schema if exists ${s} cascade`);
  await admin.close();
  for (const db of dbs) await db.close();
  for (const c of clusters) await c.stop();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

let n = 0;
/** Appends a plausible order lifecycle: submitted, accepted, two fills. */
function trade(journal: Journal, symbol: string, side: 'buy' | 'sell', qty: number, price: number): void {
  const id = `w-${String(++n).padStart(6, '0')}`;
  journal.append('order.submitted', { clientOrderId: id, symbol, side, type: 'market', qty });
  journal.append('order.accepted', { clientOrderId: id });
  const fill = (k: number, q: number): Fill => ({
    fillId: `${id}-${k}`,
    clientOrderId: id,
    symbol,
    side,
    price: price + k,
    qty: q,
    fee: 0.01,
    liquidity: 'taker',
    ts: Date.now(),
  });
  journal.append('fill', fill(1, qty / 2));
  journal.append('fill', fill(2, qty / 2));
}

function expectedPositions(path: string): Map<string, ReturnType<Portfolio['snapshot']>> {
  const p = new Portfolio();
  for (const e of Journal.read(path)) if (e.type === 'fill') p.applyFill(e.data as Fill);
  return new Map(p.snapshots().map((s) => [s.symbol, s]));
}

async function expectDbEqualsJournal(db: PoolManager, schema: string, path: string): Promise<void> {
  const entries = Journal.read(path);
  const fills = entries.filter((e) => e.type === 'fill');
  const orders = entries.filter((e) => e.type === 'order.submitted');
  const f = await db.query<{ n: string; d: string }>(
    `select count(*) as n, count(distinct fill_id) as d from ${schema}.fills`,
  );
  expect(Number(f.rows[0]?.n)).toBe(fills.length);
  expect(Number(f.rows[0]?.d)).toBe(fills.length);
  const o = await db.query<{ n: string; filled: string }>(
    `select count(*) as n, count(*) filter (where status = 'filled') as filled from ${schema}.orders`,
  );
  expect(Number(o.rows[0]?.n)).toBe(orders.length);
  expect(Number(o.rows[0]?.filled)).toBe(orders.length);
  const pos = await db.query<{
    symbol: string;
    qty: number;
    avg_price: number;
    realized: number;
    fees: number;
    fills: number;
  }>(`select symbol, qty, avg_price, realized, fees, fills from ${schema}.positions order by symbol`);
  const expected = expectedPositions(path);
  expect(pos.rows.map((r) => r.symbol)).toEqual([...expected.keys()].sort());
  for (const r of pos.rows) {
    const e = expected.get(r.symbol);
    expect(r.qty).toBeCloseTo(e?.qty ?? Number.NaN, 9);
    expect(r.avg_price).toBeCloseTo(e?.avgPrice ?? Number.NaN, 9);
    expect(r.realized).toBeCloseTo(e?.realized ?? Number.NaN, 9);
    expect(r.fees).toBeCloseTo(e?.fees ?? Number.NaN, 9);
    expect(r.fills).toBe(e?.fills);
  }
}

describe('JournalWriter (PostgreSQL through @cryptoscalp/db-pool)', () => {
  it('writes the journal exactly once, into a time-partitioned trade history, across restarts', async () => {
    const schema = uniqueName('trader_w');
    schemas.push(schema);
    const db = new PoolManager({ primary: { connectionString: serviceUrls.postgres }, pool: { max: 2 } });
    dbs.push(db);
    const path = tmpJournal();
    const { journal } = Journal.open(path, { fsync: 'never' });
    trade(journal, 'BTCUSDT', 'buy', 2, 100);
    trade(journal, 'ETHUSDT', 'sell', 1, 50);
    journal.append('risk.state', { from: 'RUNNING', to: 'REDUCING', reason: 'test', by: 'operator' });

    const w1 = new JournalWriter({ db, schema, instanceId: 'w', journalPath: path, currentSeq: () => journal.lastSeq });
    await w1.start(); // catches up from the file
    expect(w1.persistedSeq).toBe(journal.lastSeq);
    await expectDbEqualsJournal(db, schema, path);
    // Live entries arrive through enqueue.
    const before = journal.lastSeq;
    trade(journal, 'BTCUSDT', 'sell', 1, 120);
    for (const e of Journal.read(path, before)) w1.enqueue(e);
    await w1.flush();
    expect(w1.stats()).toMatchObject({ persistedSeq: journal.lastSeq, lag: 0, failures: 0 });
    await expectDbEqualsJournal(db, schema, path);
    await w1.close();
    await w1.close();

    // A restarted writer with the same entries re-enqueued writes nothing twice.
    const w2 = new JournalWriter({ db, schema, instanceId: 'w', journalPath: path });
    await w2.start();
    for (const e of Journal.read(path)) w2.enqueue(e);
    await w2.flush();
    await expectDbEqualsJournal(db, schema, path);
    const parts = await db.query<{ name: string }>(
      `select c.relname as name from pg_inherits i join pg_class c on c.oid = i.inhrelid where i.inhparent = '${schema}.fills'::regclass`,
    );
    expect(parts.rows.length).toBeGreaterThanOrEqual(3); // today + 2 premade days
    const risk = await db.query(`select to_state from ${schema}.risk_events`);
    expect(risk.rows).toEqual([{ to_state: 'REDUCING' }]);
    expect((await w2.healthCheck()).status).toBe('pass');
    await w2.close();
    journal.close();
  });

  it('works across journal segments, also once the first segment was deleted after PostgreSQL held it', async () => {
    const schema = uniqueName('trader_writer_seg');
    schemas.push(schema);
    const db = new PoolManager({ primary: { connectionString: serviceUrls.postgres }, pool: { max: 2 } });
    dbs.push(db);
    const path = tmpJournal();
    let durable = 0;
    const { journal } = Journal.open(path, { fsync: 'never', retainSegments: 1, durableSeq: () => durable });
    const origin = () => Journal.origin(path);
    trade(journal, 'BTCUSDT', 'buy', 2, 100);
    trade(journal, 'ETHUSDT', 'sell', 1, 50);
    const segmentStart = (idCounter: number) => {
      const positions = new Portfolio();
      for (const e of Journal.read(path)) if (e.type === 'fill') positions.applyFill(e.data as Fill);
      const first = origin();
      journal.rotate();
      journal.append(SNAPSHOT_ENTRY, { v: 1, origin: first, idCounter, portfolio: positions.toJSON(), openOrders: [] });
    };
    segmentStart(n);
    trade(journal, 'BTCUSDT', 'sell', 1, 120);
    const w1 = new JournalWriter({ db, schema, instanceId: 'w', journalPath: path, currentSeq: () => journal.lastSeq });
    await w1.start();
    expect(w1.persistedSeq).toBe(journal.lastSeq);
    await expectDbEqualsJournal(db, schema, path);
    const positions = expectedPositions(path);
    const firstOrigin = origin();
    await w1.close();

    // Another segment; the first is deleted (PostgreSQL holds it): the journal keeps its identity and the writer
    // restarted on it starts its positions from the snapshot entry.
    segmentStart(n);
    durable = w1.persistedSeq;
    expect(journal.prune()).toBe(1);
    expect(origin()).toBe(firstOrigin);
    trade(journal, 'ETHUSDT', 'buy', 3, 40);
    const w2 = new JournalWriter({ db, schema, instanceId: 'w', journalPath: path, currentSeq: () => journal.lastSeq });
    await w2.start();
    expect(w2.stats()).toMatchObject({ persistedSeq: journal.lastSeq, failures: 0 });
    const eth = positions.get('ETHUSDT') as ReturnType<Portfolio['snapshot']>;
    const dbEth = await db.query<{ qty: number; fills: number }>(
      `select qty, fills from ${schema}.positions where symbol = 'ETHUSDT'`,
    );
    // -1 before, +3 now; fills counted across the deleted segment too.
    expect(dbEth.rows[0]?.qty).toBeCloseTo(eth.qty + 3, 9);
    expect(dbEth.rows[0]?.fills).toBe(eth.fills + 2);
    await w2.close();
    journal.close();
  });

  it('writes again what a database restored to an earlier point lost, under a running writer', async () => {
    const schema = uniqueName('trader_w');
    schemas.push(schema);
    const db = new PoolManager({ primary: { connectionString: serviceUrls.postgres }, pool: { max: 2 } });
    dbs.push(db);
    const path = tmpJournal();
    const { journal } = Journal.open(path, { fsync: 'never' });
    trade(journal, 'BTCUSDT', 'buy', 2, 100);
    const w = new JournalWriter({ db, schema, instanceId: 'w', journalPath: path, currentSeq: () => journal.lastSeq });
    await w.start();
    // A backup of every table at this point (what a point-in-time restore brings back).
    const tables = ['orders', 'fills', 'positions', 'risk_events', 'writer_cursor'];
    for (const t of tables) await db.query(`create table ${schema}.bak_${t} as select * from ${schema}.${t}`);
    const backupSeq = journal.lastSeq;
    trade(journal, 'ETHUSDT', 'sell', 1, 50);
    trade(journal, 'BTCUSDT', 'sell', 1, 120);
    for (const e of Journal.read(path, backupSeq)) w.enqueue(e);
    await w.flush();
    expect(w.persistedSeq).toBe(journal.lastSeq);
    // The restore: every table back to the backup, while the writer runs on.
    await db.transaction(async (tx) => {
      for (const t of tables) {
        await tx.query(`delete from ${schema}.${t}`);
        await tx.query(`insert into ${schema}.${t} select * from ${schema}.bak_${t}`);
      }
    });
    const before = journal.lastSeq;
    trade(journal, 'SOLUSDT', 'buy', 3, 20);
    for (const e of Journal.read(path, before)) w.enqueue(e);
    await waitFor(
      async () => {
        await w.flush();
        return w.persistedSeq === journal.lastSeq;
      },
      { what: 'the writer caught up after the restore' },
    );
    await expectDbEqualsJournal(db, schema, path);
    expect(w.stats().cursorRegressions).toBe(1);
    await w.close();
    journal.close();
  });

  it('counts a failure while it recovers from a failed write (the journal unreadable) instead of rejecting its flush', async () => {
    // The flush timer calls flush() with `void`: a rejection would be unhandled and end the process.
    const schema = uniqueName('trader_w_unreadable');
    schemas.push(schema);
    const db = new PoolManager({ primary: { connectionString: serviceUrls.postgres }, pool: { max: 2 } });
    dbs.push(db);
    const path = tmpJournal();
    const { journal } = Journal.open(path, { fsync: 'never' });
    trade(journal, 'BTCUSDT', 'buy', 2, 100);
    let refuse = false;
    const writer = new JournalWriter({
      db,
      schema,
      instanceId: 'w',
      journalPath: path,
      retryMs: 100,
      currentSeq: () => journal.lastSeq,
      // The batch's transaction fails (as a lost lease or a database error would) while the flag is set.
      fence: async () => {
        if (refuse) throw new Error('refused by the test');
      },
    });
    await writer.start();
    expect(writer.persistedSeq).toBe(journal.lastSeq);

    // The write fails, and the journal file cannot be read while the writer recovers (a directory in its place).
    refuse = true;
    const seqBefore = journal.lastSeq;
    trade(journal, 'ETHUSDT', 'sell', 1, 50);
    const entries = Journal.read(path, seqBefore);
    renameSync(path, `${path}.away`);
    mkdirSync(path);
    for (const e of entries) writer.enqueue(e);
    await expect(writer.flush()).resolves.toBeUndefined();
    await new Promise((r) => setTimeout(r, 150));
    await expect(writer.flush()).resolves.toBeUndefined(); // the retry reads the journal: it fails, counted
    expect(writer.stats().failures).toBeGreaterThanOrEqual(2);
    expect(writer.stats().lastError).toMatch(/cannot read .*journal.jsonl/);
    expect((await writer.healthCheck()).status).toBe('warn');
    expect(writer.persistedSeq).toBe(seqBefore);

    // Both back: the writer catches up from the file, exactly once, positions included.
    rmSync(path, { recursive: true });
    renameSync(`${path}.away`, path);
    refuse = false;
    await waitFor(
      async () => {
        await writer.flush();
        return writer.persistedSeq === journal.lastSeq;
      },
      { timeoutMs: 10_000, intervalMs: 100, what: 'catch-up' },
    );
    await expectDbEqualsJournal(db, schema, path);
    expect((await writer.healthCheck()).status).toBe('pass');
    await writer.close();
    journal.close();
  });

  it('keeps going while PostgreSQL is down and catches up from the journal when it returns', async () => {
    const cluster = await startPostgresCluster();
    clusters.push(cluster);
    const db = new PoolManager({
      primary: { connectionString: cluster.urlFor('postgres') },
      pool: { max: 2, acquireTimeoutMs: 1000, connectTimeoutMs: 1000 },
      queryTimeoutMs: 2000,
      retry: { maxAttempts: 1 },
    });
    dbs.push(db);
    const path = tmpJournal();
    const { journal } = Journal.open(path, { fsync: 'never' });
    const writer = new JournalWriter({
      db,
      schema: 'trader',
      instanceId: 'w',
      journalPath: path,
      retryMs: 200,
      currentSeq: () => journal.lastSeq,
    });
    await writer.start();
    trade(journal, 'BTCUSDT', 'buy', 2, 100);
    for (const e of Journal.read(path)) writer.enqueue(e);
    await waitFor(() => writer.persistedSeq === journal.lastSeq, { what: 'first batch' });

    await cluster.kill();
    const seqBefore = journal.lastSeq;
    trade(journal, 'ETHUSDT', 'buy', 1, 50);
    trade(journal, 'BTCUSDT', 'sell', 1, 130);
    for (const e of Journal.read(path, seqBefore)) writer.enqueue(e);
    await waitFor(() => writer.stats().failures > 0, { timeoutMs: 30_000, what: 'write failure while down' });
    expect((await writer.healthCheck()).status).toBe('warn');
    expect(writer.persistedSeq).toBe(seqBefore);

    await cluster.start();
    await waitFor(() => writer.persistedSeq === journal.lastSeq, {
      timeoutMs: 60_000,
      intervalMs: 100,
      what: 'catch-up',
    });
    expect(writer.stats().catchUps).toBeGreaterThan(0);
    await expectDbEqualsJournal(db, 'trader', path);
    expect((await writer.healthCheck()).status).toBe('pass');
    await writer.close();
    journal.close();
  });
});
