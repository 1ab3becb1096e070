import { uniqueName } from '@cryptoscalp/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClickHouseBackend } from '../../src/index.js';
import { clickhouseInstalled, startClickHouse } from './clickhouse-server.js';

/** Runs only where Debian's clickhouse-server is installed; CI does not depend on it. */
describe.skipIf(!clickhouseInstalled())('ClickHouseBackend against a disposable clickhouse-server', () => {
  let server: Awaited<ReturnType<typeof startClickHouse>>;
  beforeAll(async () => {
    server = await startClickHouse();
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('batches inserts, queries, reports health and stats', async () => {
    const ch = new ClickHouseBackend({ url: server.url, batch: { maxRows: 100, maxDelayMs: 50 } });
    const table = uniqueName('ticks');
    try {
      await ch.command(`create table ${table} (ts DateTime, sym String, px Float64) engine = MergeTree() order by ts`);
      const writes: Promise<void>[] = [];
      for (let i = 0; i < 250; i++) {
        writes.push(ch.insert(table, { ts: '2024-03-10 00:00:00', sym: i % 2 === 0 ? 'BTC' : 'ETH', px: i }));
      }
      await Promise.all(writes);
      const stats = ch.stats() as { batches: number; rowsWritten: number };
      expect(stats.rowsWritten).toBe(250);
      expect(stats.batches).toBe(3); // 100 + 100 + 50 (the last one by delay)
      const rows = await ch.query<{ c: string }>(`select count() as c from ${table} where sym = 'BTC'`);
      expect(Number(rows[0]?.c)).toBe(125);
      // Debian's 18.16 predates bound query parameters ({name:Type}, ClickHouse 19.x+): they are not verified here.
      const [{ v } = { v: '' }] = await ch.query<{ v: string }>('select version() as v');
      if (Number(v.split('.')[0]) >= 20) {
        const p = await ch.query<{ c: string }>(`select count() as c from ${table} where sym = {sym:String}`, {
          sym: 'ETH',
        });
        expect(Number(p[0]?.c)).toBe(125);
      }
      const health = await ch.healthCheck();
      expect(health.status).toBe('pass');
      expect(health.observedUnit).toBe('ms');
      const bad = await ch.insert(`${table}_missing`, { a: 1 }).catch((e) => e);
      expect(bad.code).toBe('E_DB_CLICKHOUSE');
      expect((await ch.healthCheck()).status).toBe('warn'); // last batch failed
    } finally {
      await ch.close();
    }
  });

  it('reports fail when the server is gone', async () => {
    const other = await startClickHouse();
    const ch = new ClickHouseBackend({ url: other.url, requestTimeoutMs: 2_000 });
    try {
      expect((await ch.healthCheck()).status).toBe('pass');
      await other.stop();
      const h = await ch.healthCheck();
      expect(h.status).toBe('fail');
      expect(h.output).toContain('unreachable');
    } finally {
      await ch.close();
    }
  });
});
