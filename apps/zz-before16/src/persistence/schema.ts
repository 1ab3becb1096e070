import { TraderError } from '../errors.js';
import type { SqlRunner } from './sql-database.js';

/** Checks a schema name before it is put into SQL. */
export function checkSchemaName(schema: string): string {
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(schema)) {
    throw new TraderError('E_TRADER_INVALID_OPTION', `schema must be a lower-case SQL identifier, got ${schema}`, {
      field: 'schema',
    });
  }
  return schema;
}

/** Column list of the time-partitioned fills (trade history) table. */
export const FILLS_COLUMNS = `fill_id text not null, client_order_id text not null, symbol text not null, side text not null,
  price double precision not null, qty double precision not null, fee double precision not null,
  liquidity text not null, ts timestamptz not null, journal_seq bigint not null,
  primary key (fill_id, ts)`;

/**
 * The trader's tables (idempotent DDL): orders, fills (partitioned by `ts`, created by the writer with
 * `@cryptoscalp/db-pool`'s partition helpers), positions, risk events and the writer's journal cursor.
 */
export function schemaStatements(schema: string): string[] {
  const s = checkSchemaName(schema);
  return [
    `create schema if not exists ${s}`,
    `create table if not exists ${s}.orders (
      client_order_id text primary key, symbol text not null, side text not null, type text not null,
      qty double precision not null, price double precision, status text not null,
      filled_qty double precision not null default 0, avg_price double precision not null default 0,
      fees double precision not null default 0, reject_reason text, reason text,
      created_at timestamptz not null, updated_at timestamptz not null, journal_seq bigint not null)`,
    `create index if not exists orders_symbol_created on ${s}.orders (symbol, created_at desc)`,
    `create table if not exists ${s}.positions (
      symbol text primary key, qty double precision not null, avg_price double precision not null,
      realized double precision not null, fees double precision not null, volume double precision not null,
      fills integer not null, updated_at timestamptz not null, journal_seq bigint not null)`,
    `create table if not exists ${s}.risk_events (
      journal_seq bigint primary key, ts timestamptz not null, from_state text not null, to_state text not null,
      reason text not null, actor text not null)`,
    `create table if not exists ${s}.writer_cursor (
      instance_id text primary key, last_seq bigint not null, updated_at timestamptz not null)`,
  ];
}

/** Runs the DDL. */
export async function ensureSchema(db: SqlRunner, schema: string): Promise<void> {
  for (const sql of schemaStatements(schema)) await db.query(sql);
}
