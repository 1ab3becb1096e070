import {
  maintainPartitions,
  type PartitionMaintenanceResult,
  type SqlRunner,
  type TimePartitionSpec,
  validatePartitionSpec,
} from './partitioning.js';

/** Options of {@link ensureTimeSeriesTable}. */
export interface TimeSeriesTableOptions extends TimePartitionSpec {
  /** Column definitions, e.g. `ts timestamptz not null, sym text not null, px numeric`. */
  columnsSql: string;
  /** Use TimescaleDB when available. @default true */
  preferTimescale?: boolean;
}

/** Which mechanism {@link ensureTimeSeriesTable} used. */
export interface TimeSeriesTableResult {
  mode: 'hypertable' | 'partitioned';
  /** Why: `timescaledb available`, `timescaledb not available`, `disabled`. */
  reason: string;
  /** Native partitioning: what the first maintenance run did. */
  maintenance?: PartitionMaintenanceResult;
}

/** True when the TimescaleDB extension can be installed on this server (`pg_available_extensions`). */
export async function timescaleAvailable(db: SqlRunner): Promise<boolean> {
  const { rows } = (await db.query("select 1 from pg_available_extensions where name = 'timescaledb'")) as {
    rows: unknown[];
  };
  return rows.length > 0;
}

const INTERVAL_SQL = { hour: '1 hour', day: '1 day', week: '7 days', month: '1 month' } as const;

/**
 * A time-series table: a TimescaleDB hypertable (`create_hypertable`, chunk width = the
 * interval, retention through `add_retention_policy`) when the extension is available,
 * otherwise a natively range-partitioned table with the partitions created by
 * {@link maintainPartitions}. Idempotent.
 */
export async function ensureTimeSeriesTable(
  db: SqlRunner,
  options: TimeSeriesTableOptions,
): Promise<TimeSeriesTableResult> {
  validatePartitionSpec(options);
  const prefer = options.preferTimescale ?? true;
  const available = prefer && (await timescaleAvailable(db));
  if (available) {
    await db.query('create extension if not exists timescaledb');
    await db.query(`create table if not exists ${options.table} (${options.columnsSql})`);
    await db.query(
      `select create_hypertable($1::regclass, $2::name, chunk_time_interval => $3::interval, if_not_exists => true)`,
      [options.table, options.column, INTERVAL_SQL[options.interval]],
    );
    if (options.retention !== undefined) {
      await db.query(`select add_retention_policy($1::regclass, $2::interval, if_not_exists => true)`, [
        options.table,
        `${options.retention} ${options.interval === 'week' ? 'weeks' : `${options.interval}s`}`,
      ]);
    }
    return { mode: 'hypertable', reason: 'timescaledb available' };
  }
  await db.query(
    `create table if not exists ${options.table} (${options.columnsSql}) partition by range (${options.column})`,
  );
  const maintenance = await maintainPartitions(db, options);
  return { mode: 'partitioned', reason: prefer ? 'timescaledb not available' : 'disabled', maintenance };
}
