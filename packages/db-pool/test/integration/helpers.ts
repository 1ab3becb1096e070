import { serviceUrls, uniqueName } from '@cryptoscalp/testkit';
import pg from 'pg';
import { PoolManager, type PoolManagerOptions } from '../../src/index.js';

/** Runs SQL on the local PostgreSQL with a throwaway client. */
export async function admin<R = Record<string, unknown>>(
  sql: string,
  params?: unknown[],
  url = serviceUrls.postgres,
): Promise<R[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(sql, params)).rows as R[];
  } finally {
    await client.end();
  }
}

/** A schema of its own plus a manager whose sessions use it (search_path) and whose application_name is unique. */
export async function withSchema(
  label: string,
  options: Partial<PoolManagerOptions> = {},
): Promise<{ db: PoolManager; schema: string; app: string; cleanup: () => Promise<void> }> {
  const schema = uniqueName(label);
  await admin(`create schema ${schema}`);
  const app = schema;
  const db = new PoolManager({
    name: app,
    primary: { connectionString: serviceUrls.postgres, options: `-c search_path=${schema}` },
    ...options,
  });
  return {
    db,
    schema,
    app,
    cleanup: async () => {
      await db.close();
      await admin(`drop schema if exists ${schema} cascade`);
    },
  };
}

/** Backends of an application_name (pg_stat_activity). */
export async function backends(app: string): Promise<{ pid: number; state: string; query: string }[]> {
  return await admin('select pid, state, query from pg_stat_activity where application_name = $1', [app]);
}
