import { appendFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PoolManager } from '@cryptoscalp/db-pool';
import { serviceUrls, uniqueName, waitFor } from '@cryptoscalp/testkit';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load-config.js';
import { TradingEngine } from '../../src/engine/trading-engine.js';
import { Journal } from '../../src/journal/journal.js';
import type { JournalEvents } from '../../src/model/journal-events.js';
import type { Fill } from '../../src/model/types.js';
import { killTraderChildren, startTraderProcess } from './trader-process.js';

const schema = uniqueName('trader_crash');
const dataDir = mkdtempSync(join(tmpdir(), 'trader-crash-'));
const journalPath = join(dataDir, 'journal.jsonl');
const admin = new PoolManager({ primary: { connectionString: serviceUrls.postgres } });

afterAll(async () => {
  await killTraderChildren();
  await admin.query(`drop schema if exists ${schema} cascade`);
  await admin.close();
  rmSync(dataDir, { recursive: true, force: true });
});

const startTrader = (args: string[] = []) =>
  startTraderProcess(args, {
    TRADER_DATA_DIR: dataDir,
    DATABASE_URL: serviceUrls.postgres,
    TRADER_DATABASE_SCHEMA: schema,
    TRADER_HTTP_PORT: '0',
    TRADER_HTTP_SHUTDOWN_DELAY_MS: '0',
    TRADER_STRATEGY_WARMUP_SAMPLES: '60',
    TRADER_JOURNAL_FSYNC: 'always',
    TRADER_INSTANCE_ID: 'crash',
  });

describe('kill -9 mid-trading and restart', () => {
  it('replays the journal and reconciles: no duplicate order id, no lost fill, PostgreSQL positions equal the journal', async () => {
    const first = startTrader();
    await waitFor(() => Journal.read(journalPath).filter((e) => e.type === 'fill').length >= 5, {
      timeoutMs: 90_000,
      intervalMs: 200,
      what: `fills in the journal (output: ${first.output().slice(-500)})`,
    });
    first.child.kill('SIGKILL');
    expect(await first.exited).toBe(null);
    const beforeRestart = Journal.read(journalPath);
    // A crash can also leave a torn last line.
    appendFileSync(journalPath, '{"seq":999999,"ts":1,"type":"fi');

    const second = startTrader(['--duration', '4']);
    const code = await second.exited;
    expect(code, second.output()).toBe(0);
    expect(second.output()).toMatch(/replayed \d+ journal entries/);

    const entries = Journal.read(journalPath);
    // Everything journaled before the crash is still there, in order, and the sequence continued.
    expect(entries.slice(0, beforeRestart.length)).toEqual(beforeRestart);
    expect(entries.length).toBeGreaterThan(beforeRestart.length);
    const submitted = entries
      .filter((e) => e.type === 'order.submitted')
      .map((e) => (e.data as JournalEvents['order.submitted']).clientOrderId);
    expect(new Set(submitted).size).toBe(submitted.length);
    const fills = entries.filter((e) => e.type === 'fill').map((e) => e.data as Fill);
    expect(new Set(fills.map((f) => f.fillId)).size).toBe(fills.length);
    for (const f of fills) expect(submitted).toContain(f.clientOrderId);

    // The journal's own replay is the reference state.
    const { journal } = Journal.open(join(dataDir, `ref-${Math.random().toString(36).slice(2)}.jsonl`), {
      fsync: 'never',
    });
    const reference = new TradingEngine({
      config: loadConfig({ env: {}, overrides: { instanceId: 'crash' } }),
      journal,
    });
    reference.replay(entries, { reconcile: false });
    journal.close();

    const dbOrders = await admin.query<{ client_order_id: string; status: string; filled_qty: number }>(
      `select client_order_id, status, filled_qty from ${schema}.orders order by client_order_id`,
    );
    expect(dbOrders.rows.map((r) => r.client_order_id)).toEqual([...submitted].sort());
    for (const r of dbOrders.rows) {
      const o = reference.orders.get(r.client_order_id);
      expect(r.status).toBe(o?.status);
      expect(r.filled_qty).toBeCloseTo(o?.filledQty ?? Number.NaN, 9);
    }
    const dbFills = await admin.query<{ fill_id: string }>(`select fill_id from ${schema}.fills order by fill_id`);
    expect(dbFills.rows.map((r) => r.fill_id)).toEqual(fills.map((f) => f.fillId).sort());
    const dbPositions = await admin.query<{ symbol: string; qty: number; realized: number; fees: number }>(
      `select symbol, qty, realized, fees from ${schema}.positions order by symbol`,
    );
    for (const r of dbPositions.rows) {
      const p = reference.portfolio.snapshot(r.symbol);
      expect(r.qty).toBeCloseTo(p.qty, 9);
      expect(r.realized).toBeCloseTo(p.realized, 9);
      expect(r.fees).toBeCloseTo(p.fees, 9);
    }
    expect(dbPositions.rows.length).toBe(reference.portfolio.snapshots().length);
    // Orders open at the crash were reconciled as cancelled by the restart (the paper venue died with the process).
    const atCrash = new TradingEngine({
      config: loadConfig({ env: {}, overrides: { instanceId: 'crash' } }),
      journal: Journal.open(join(dataDir, `ref-${Math.random().toString(36).slice(2)}.jsonl`), { fsync: 'never' })
        .journal,
    });
    atCrash.replay(beforeRestart, { reconcile: false });
    for (const o of atCrash.orders.openOrders()) {
      expect(reference.orders.get(o.clientOrderId)?.status).toBe('cancelled');
      expect(
        entries.some(
          (e) =>
            e.type === 'order.cancelled' &&
            (e.data as { clientOrderId: string; reason: string }).clientOrderId === o.clientOrderId &&
            /reconciled/.test((e.data as { reason: string }).reason),
        ),
      ).toBe(true);
    }
    await atCrash.close();
    await reference.close();
  });
});
