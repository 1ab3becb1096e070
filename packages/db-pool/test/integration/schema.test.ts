import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  createPartitionedTable,
  ensureTimeSeriesTable,
  isQueryError,
  maintainPartitions,
  type PoolManager,
  timescaleAvailable,
} from '../../src/index.js';
import { withSchema } from './helpers.js';

describe('time-series schema helpers', () => {
  let db: PoolManager;
  let schema: string;
  let cleanup: () => Promise<void>;

  beforeEach(async () => {
    ({ db, schema, cleanup } = await withSchema('dbh'));
  });
  afterEach(async () => {
    await cleanup();
  });

  const partitions = async (table: string) =>
    (
      await db.query<{ name: string }>(
        'select c.relname as name from pg_inherits i join pg_class c on c.oid = i.inhrelid where i.inhparent = $1::regclass order by 1',
        [table],
      )
    ).rows.map((r) => r.name);

  it('creates partitions ahead and detaches/drops those past retention', async () => {
    const spec = { table: `${schema}.trades`, column: 'ts', interval: 'day' as const, premake: 2, retention: 2 };
    await createPartitionedTable(db, spec, 'ts timestamptz not null, sym text not null, px numeric not null');
    const first = await maintainPartitions(db, spec, new Date('2024-03-10T12:00:00Z'));
    expect(first.created).toEqual(['trades_p20240310', 'trades_p20240311', 'trades_p20240312']);
    expect(await maintainPartitions(db, spec, new Date('2024-03-10T13:00:00Z'))).toEqual({
      created: [],
      detached: [],
      dropped: [],
    });
    await db.query(`insert into ${spec.table} values ($1, 'BTC', 1), ($2, 'BTC', 2)`, [
      '2024-03-10T01:00:00Z',
      '2024-03-12T23:59:59Z',
    ]);
    const outside = await db
      .query(`insert into ${spec.table} values ($1, 'BTC', 3)`, ['2024-03-20T00:00:00Z'])
      .catch((e) => e);
    expect(isQueryError(outside)).toBe(true);
    expect(outside.sqlState).toBe('23514'); // no partition for the row

    const later = await maintainPartitions(db, spec, new Date('2024-03-14T00:30:00Z'));
    expect(later.created).toEqual(['trades_p20240314', 'trades_p20240315', 'trades_p20240316']);
    expect(later.detached.sort()).toEqual(['trades_p20240310', 'trades_p20240311']);
    expect(later.dropped.sort()).toEqual(['trades_p20240310', 'trades_p20240311']);
    expect(await partitions(spec.table)).toEqual([
      'trades_p20240312',
      'trades_p20240314',
      'trades_p20240315',
      'trades_p20240316',
    ]);
    const { rows } = await db.query<{ c: string }>(`select count(*)::text as c from ${spec.table}`);
    expect(rows[0]?.c).toBe('1');
  });

  it('detach-only keeps expired partitions as plain tables', async () => {
    const spec = {
      table: `${schema}.fills`,
      column: 'ts',
      interval: 'month' as const,
      premake: 0,
      retention: 0,
      onExpired: 'detach' as const,
    };
    await createPartitionedTable(db, spec, 'ts timestamptz not null, qty int');
    await maintainPartitions(db, spec, new Date('2024-01-15T00:00:00Z'));
    const r = await maintainPartitions(db, spec, new Date('2024-02-15T00:00:00Z'));
    expect(r).toEqual({ created: ['fills_p20240201'], detached: ['fills_p20240101'], dropped: [] });
    const { rows } = await db.query('select 1 from pg_tables where schemaname = $1 and tablename = $2', [
      schema,
      'fills_p20240101',
    ]);
    expect(rows).toHaveLength(1);
  });

  it('uses TimescaleDB when available, else native partitioning (here: not installed)', async () => {
    const available = await timescaleAvailable(db);
    const result = await ensureTimeSeriesTable(db, {
      table: `${schema}.candles`,
      column: 'ts',
      interval: 'hour',
      premake: 1,
      columnsSql: 'ts timestamptz not null, sym text not null, close numeric',
    });
    if (available) {
      expect(result.mode).toBe('hypertable');
    } else {
      expect(result).toMatchObject({ mode: 'partitioned', reason: 'timescaledb not available' });
      expect(result.maintenance?.created).toHaveLength(2);
      expect(await partitions(`${schema}.candles`)).toHaveLength(2);
    }
    const again = await ensureTimeSeriesTable(db, {
      table: `${schema}.candles`,
      column: 'ts',
      interval: 'hour',
      premake: 1,
      preferTimescale: false,
      columnsSql: 'ts timestamptz not null, sym text not null, close numeric',
    });
    expect(again.reason).toBe('disabled');
    expect(again.maintenance?.created).toEqual([]);
  });
});
