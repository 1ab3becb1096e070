import { existsSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { exited, spawnServer, waitFor } from '@cryptoscalp/testkit';
import { Redis } from 'ioredis';
import pg from 'pg';

/**
 * The trader's directory: apps/trader, or `REHEARSAL_TRADER_DIR` (a copy of it holding `dist/`, for a drill that must
 * not see a build running beside it).
 */
const traderDir = process.env.REHEARSAL_TRADER_DIR
  ? `${process.env.REHEARSAL_TRADER_DIR.replace(/\/$/, '')}/`
  : fileURLToPath(new URL('../../apps/trader/', import.meta.url));
/** The built trader: `npm run build -w @cryptoscalp/trader` makes it. */
export const traderMain = `${traderDir}dist/main.js`;

/** A trader process of one role, started from the build. */
export interface TraderRole {
  readonly pid: number;
  /** Its HTTP base URL (`http://127.0.0.1:<port>`). */
  readonly url: string;
  output(): string;
  /** SIGTERM (the trader drains: readiness 503 for http.shutdownDelayMs, then stops), SIGKILL after `graceMs`. */
  stop(graceMs?: number): Promise<number | null>;
}

/**
 * Starts `node apps/trader/dist/main.js --role <role> --port <port>` with exactly `env` (plus PATH and HOME) and
 * waits for `trader: running`. Every process it starts is also in `started`, so a `finally` can stop them by PID.
 */
export async function startTraderRole(
  role: 'engine' | 'gateway' | 'all',
  port: number,
  env: Record<string, string>,
  started: Set<TraderRole>,
  extraArgs: readonly string[] = [],
  /** Scheduling niceness to start it with (`nice -n`; 0: as this process). */
  nice = 0,
  /** Node's own flags (`--cpu-prof`, which NODE_OPTIONS does not take). */
  nodeArgs: readonly string[] = [],
): Promise<TraderRole> {
  if (!existsSync(traderMain)) throw new Error(`${traderMain} is missing: run npm run build -w @cryptoscalp/trader`);
  const argv = [process.execPath, ...nodeArgs, traderMain, '--role', role, '--port', String(port), ...extraArgs];
  // nice execs node: the PID is the trader's.
  const [command, ...args] = (nice === 0 ? argv : ['nice', '-n', String(nice), ...argv]) as [string, ...string[]];
  const server = spawnServer(command, args, {
    cwd: traderDir,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
  });
  const { child } = server;
  const stop = async (graceMs = 20_000): Promise<number | null> => {
    if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
    child.kill('SIGTERM');
    try {
      await exited(child, graceMs);
    } catch {
      child.kill('SIGKILL');
      await exited(child, 5_000);
    }
    return child.exitCode;
  };
  const proc: TraderRole = { pid: child.pid as number, url: `http://127.0.0.1:${port}`, output: server.output, stop };
  started.add(proc);
  await waitFor(() => server.output().includes('trader: running') || child.exitCode !== null, {
    timeoutMs: 90_000,
    intervalMs: 50,
    what: `trader ${role} on port ${port}: running`,
  });
  if (!server.output().includes('trader: running'))
    throw new Error(`trader ${role} exited before running:\n${server.output()}`);
  return proc;
}

/** Drops a trader's PostgreSQL schema (its tables and audit log) after a run on a shared server. */
export async function dropTraderSchema(databaseUrl: string, schema: string): Promise<void> {
  if (!/^[a-z_][a-z0-9_]*$/.test(schema)) throw new Error(`not a plain schema name: ${schema}`);
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    await client.query(`drop schema if exists ${schema} cascade`);
  } finally {
    await client.end();
  }
}

/**
 * Removes what one run of traders left behind on the shared servers and disk: the Redis keys under `keyPrefixes`
 * (bus, cache), the PostgreSQL schema and the run's directory. Call it after every process of the run was stopped.
 */
export async function removeRunState(o: {
  redisUrl: string;
  databaseUrl: string;
  keyPrefixes: readonly string[];
  schema: string;
  dir: string;
}): Promise<void> {
  const redis = new Redis(o.redisUrl);
  try {
    for (const prefix of o.keyPrefixes) {
      const keys = await redis.keys(`${prefix}*`);
      if (keys.length > 0) await redis.del(...keys);
    }
  } finally {
    redis.disconnect();
  }
  await dropTraderSchema(o.databaseUrl, o.schema);
  rmSync(o.dir, { recursive: true, force: true });
}
