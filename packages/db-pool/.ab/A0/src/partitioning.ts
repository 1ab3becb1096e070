import { InvalidOptionError } from './errors.js';

/** Anything that runs SQL: a {@link PoolManager}, a pg.Pool or pg.Client. */
export interface SqlRunner {
  query(text: string, params?: unknown[]): Promise<{ rows: unknown[] }>;
}

/** Partition width. */
export type PartitionInterval = 'hour' | 'day' | 'week' | 'month';

/** Declarative time range partitioning of one table. */
export interface TimePartitionSpec {
  /** Parent table, optionally schema-qualified (`public.trades`). Plain identifiers only. */
  table: string;
  /** The time column partitioned on (timestamptz or timestamp). */
  column: string;
  /** Width of each partition. */
  interval: PartitionInterval;
  /** Partitions created ahead of the current one. @default 3 */
  premake?: number;
  /** Partitions kept before the current one; older ones are detached (and dropped). Undefined keeps everything. @default undefined */
  retention?: number;
  /** What happens to partitions past retention. @default 'drop' */
  onExpired?: 'detach' | 'drop';
}

/** What {@link maintainPartitions} changed. */
export interface PartitionMaintenanceResult {
  created: string[];
  detached: string[];
  dropped: string[];
}

const IDENT = /^[a-z_][a-z0-9_]*$/;

function checkIdent(field: string, value: string, qualified: boolean): void {
  const parts = qualified ? value.split('.') : [value];
  if (parts.length > 2 || !parts.every((p) => IDENT.test(p))) {
    throw new InvalidOptionError(field, 'must be a plain lower-case identifier (optionally schema-qualified)');
  }
}

/** Validates a spec (identifiers, interval, counts); throws InvalidOptionError naming the field. */
export function validatePartitionSpec(
  spec: TimePartitionSpec,
): Required<Omit<TimePartitionSpec, 'retention'>> & { retention: number | undefined } {
  checkIdent('table', spec.table, true);
  checkIdent('column', spec.column, false);
  if (!['hour', 'day', 'week', 'month'].includes(spec.interval))
    throw new InvalidOptionError('interval', "must be 'hour', 'day', 'week' or 'month'");
  const premake = spec.premake ?? 3;
  if (!Number.isInteger(premake) || premake < 0 || premake > 1000)
    throw new InvalidOptionError('premake', 'must be an integer 0..1000');
  if (spec.retention !== undefined && (!Number.isInteger(spec.retention) || spec.retention < 0))
    throw new InvalidOptionError('retention', 'must be a non-negative integer');
  const onExpired = spec.onExpired ?? 'drop';
  if (onExpired !== 'detach' && onExpired !== 'drop')
    throw new InvalidOptionError('onExpired', "must be 'detach' or 'drop'");
  return { ...spec, premake, retention: spec.retention, onExpired };
}

/** Start (UTC) of the partition containing `t`. */
export function partitionStart(t: Date, interval: PartitionInterval): Date {
  const d = new Date(
    Date.UTC(t.getUTCFullYear(), t.getUTCMonth(), t.getUTCDate(), interval === 'hour' ? t.getUTCHours() : 0),
  );
  if (interval === 'week') d.setUTCDate(d.getUTCDate() - ((d.getUTCDay() + 6) % 7)); // ISO weeks start on Monday
  if (interval === 'month') d.setUTCDate(1);
  return d;
}

/** Start of the partition `n` intervals after the one starting at `start`. */
export function addIntervals(start: Date, interval: PartitionInterval, n: number): Date {
  const d = new Date(start);
  if (interval === 'hour') d.setUTCHours(d.getUTCHours() + n);
  else if (interval === 'day') d.setUTCDate(d.getUTCDate() + n);
  else if (interval === 'week') d.setUTCDate(d.getUTCDate() + 7 * n);
  else d.setUTCMonth(d.getUTCMonth() + n);
  return d;
}

/** Partition name: `<table>_p<yyyymmdd>[hh]`. */
export function partitionName(table: string, start: Date, interval: PartitionInterval): string {
  const base = table.includes('.') ? table.split('.')[1]! : table;
  const iso = start.toISOString();
  const stamp = iso.slice(0, 4) + iso.slice(5, 7) + iso.slice(8, 10) + (interval === 'hour' ? iso.slice(11, 13) : '');
  return `${base}_p${stamp}`;
}

function parseStamp(name: string, base: string): Date | undefined {
  const m = new RegExp(`^${base}_p(\\d{4})(\\d{2})(\\d{2})(\\d{2})?$`).exec(name);
  if (m === null) return undefined;
  return new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4] ?? 0)));
}

function schemaOf(table: string): string | undefined {
  return table.includes('.') ? table.split('.')[0] : undefined;
}

/**
 * Creates the partitioned parent table if it does not exist:
 * `create table if not exists <table> (<columnsSql>) partition by range (<column>)`.
 * A primary key or unique constraint must include the time column.
 */
export async function createPartitionedTable(
  db: SqlRunner,
  spec: TimePartitionSpec,
  columnsSql: string,
): Promise<void> {
  const s = validatePartitionSpec(spec);
  await db.query(`create table if not exists ${s.table} (${columnsSql}) partition by range (${s.column})`);
}

/**
 * Partition maintenance: creates the current partition and `premake` ahead, and detaches
 * (then drops, unless `onExpired: 'detach'`) partitions that ended more than `retention`
 * intervals before the current one. Idempotent; run it on a schedule (e.g. hourly).
 */
export async function maintainPartitions(
  db: SqlRunner,
  spec: TimePartitionSpec,
  now: Date = new Date(),
): Promise<PartitionMaintenanceResult> {
  const s = validatePartitionSpec(spec);
  const result: PartitionMaintenanceResult = { created: [], detached: [], dropped: [] };
  const schema = schemaOf(s.table);
  const base = s.table.includes('.') ? s.table.split('.')[1]! : s.table;
  const existing = (await db.query(
    `select c.relname as name from pg_inherits i join pg_class c on c.oid = i.inhrelid where i.inhparent = $1::regclass`,
    [s.table],
  )) as { rows: { name: string }[] };
  const have = new Set(existing.rows.map((r) => r.name));
  const current = partitionStart(now, s.interval);
  for (let i = 0; i <= s.premake; i++) {
    const from = addIntervals(current, s.interval, i);
    const to = addIntervals(from, s.interval, 1);
    const name = partitionName(s.table, from, s.interval);
    if (have.has(name)) continue;
    const qualified = schema === undefined ? name : `${schema}.${name}`;
    await db.query(
      `create table if not exists ${qualified} partition of ${s.table} for values from ('${from.toISOString()}') to ('${to.toISOString()}')`,
    );
    result.created.push(name);
  }
  if (s.retention !== undefined) {
    const oldestKept = addIntervals(current, s.interval, -s.retention);
    for (const name of have) {
      const start = parseStamp(name, base);
      if (start === undefined || start >= oldestKept) continue;
      const qualified = schema === undefined ? name : `${schema}.${name}`;
      await db.query(`alter table ${s.table} detach partition ${qualified}`);
      result.detached.push(name);
      if (s.onExpired === 'drop') {
        await db.query(`drop table ${qualified}`);
        result.dropped.push(name);
      }
    }
  }
  return result;
}
