import { parseArgs } from 'node:util';
import pg from 'pg';
import { loadConfig } from '../config/load-config.js';

/** A usage mistake on an admin subcommand: printed with the usage text, exit 2. */
export class AdminUsageError extends Error {}

/** The options every admin subcommand shares: where the trader's database is. */
export const DATABASE_OPTIONS = {
  'database-url': { type: 'string' },
  schema: { type: 'string' },
  config: { type: 'string' },
  env: { type: 'string' },
} as const;

/** Usage lines of {@link DATABASE_OPTIONS}. */
export const DATABASE_USAGE = `  --database-url URL  PostgreSQL URL; default: the trader's (DATABASE_URL, --config, --env)
  --schema NAME       the trader's schema; default: the trader's (database.schema, 'trader')
  --config FILE, --env NAME   as for \`trader\` itself`;

/**
 * Parses `argv` strictly (unknown options and stray arguments are usage errors) with the database options added.
 * @throws AdminUsageError naming the bad option.
 */
export function parseAdminArgs(
  argv: readonly string[],
  options: Record<string, { type: 'string' | 'boolean' }>,
): AdminArgs {
  try {
    return parseArgs({
      args: [...argv],
      options: { ...DATABASE_OPTIONS, ...options },
      strict: true,
      allowPositionals: false,
    }).values as AdminArgs;
  } catch (e) {
    throw new AdminUsageError((e as Error).message);
  }
}

/** Parsed options: a string per string option given, `true` per flag given. */
export type AdminArgs = Record<string, string | boolean | undefined>;

/**
 * A pool on the trader's PostgreSQL and its schema. The embedded database (no URL) lives inside the running trader's
 * process, so these commands need a PostgreSQL URL.
 * @throws AdminUsageError without one.
 */
export function openDatabase(values: AdminArgs, env: NodeJS.ProcessEnv): { pool: pg.Pool; schema: string } {
  const text = (k: string) => (typeof values[k] === 'string' ? (values[k] as string) : undefined);
  const argv = [
    ...(text('config') === undefined ? [] : ['--config', text('config') as string]),
    ...(text('env') === undefined ? [] : ['--env', text('env') as string]),
  ];
  const config = loadConfig({ env, argv });
  const url = text('database-url') ?? config.database.url;
  if (url === '')
    throw new AdminUsageError(
      'needs a PostgreSQL URL (--database-url or DATABASE_URL); the embedded database is reachable only inside the running trader',
    );
  return { pool: new pg.Pool({ connectionString: url, max: 2 }), schema: text('schema') ?? config.database.schema };
}
