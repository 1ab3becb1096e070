import { chmodSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { auditLogDdl } from '../http/audit-log.js';

/** The role the application's SQL runs as in the embedded database: no superuser, no owner of the audit log. */
export const EMBEDDED_APP_ROLE = 'trader_app';

/** A running embedded PostgreSQL: PGlite behind a wire-protocol Unix socket, so `pg` connects as usual. */
export interface EmbeddedPostgres {
  /** `postgres://trader_app@localhost/postgres?host=<socket dir>` (`pg` takes the `host` parameter: the socket). */
  readonly url: string;
  /** The directory of the socket (`.s.PGSQL.5432`), mode 0700: only the trader's OS user can connect. */
  readonly socketDir: string;
  /** Data directory, or `memory`. */
  readonly storage: string;
  stop(): Promise<void>;
}

/** Options of {@link startEmbeddedPostgres}. */
export interface EmbeddedPostgresOptions {
  /** PGlite's storage directory; absent: in memory. */
  dataDir?: string;
  /** The schema of the trader's tables and of the audit log, prepared for {@link EMBEDDED_APP_ROLE}. @default 'trader' */
  schema?: string;
  startTimeoutMs?: number;
}

/**
 * Starts PGlite (in memory, or persisted in `dataDir`) in a worker thread and serves it on a Unix socket in a fresh
 * directory of mode 0700 beside `dataDir` (in the OS temp dir when in memory, or when that path would exceed a socket
 * path's ~104 bytes): no TCP port, so no other local user can reach it. The worker keeps the database's WASM
 * execution off the trader's event loop.
 *
 * PGlite is a single session whose authenticated user is its superuser, and every socket connection shares it. Before
 * serving, the worker prepares `schema` as that superuser — the role {@link EMBEDDED_APP_ROLE}, the audit table with
 * its append-only triggers (owned by the superuser; the role may only SELECT and INSERT), the trader's other tables
 * handed to the role — then switches the session to the role (`SET SESSION AUTHORIZATION`). The application's SQL
 * therefore cannot disable the audit triggers or delete audit rows. A client that can reach the socket could switch
 * the session back, which is why the socket is reachable by the trader's OS user only (who can read the data files
 * anyway).
 */
export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions = {}): Promise<EmbeddedPostgres> {
  if (options.dataDir) mkdirSync(options.dataDir, { recursive: true });
  const schema = options.schema ?? 'trader';
  const socketDir = makeSocketDir(options.dataDir);
  const worker = new Worker(new URL('./embedded-postgres-worker.mjs', import.meta.url), {
    workerData: { dataDir: options.dataDir, socketPath: join(socketDir, '.s.PGSQL.5432'), setup: setupSql(schema) },
  });
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        void worker.terminate();
        reject(new Error('embedded PostgreSQL did not start in time'));
      }, options.startTimeoutMs ?? 120_000);
      const done = (error?: Error) => {
        clearTimeout(timer);
        worker.off('message', onMessage);
        worker.off('error', onError);
        worker.off('exit', onExit);
        if (error) reject(error);
        else resolve();
      };
      const onMessage = (m: { type?: string; error?: string }) => {
        if (m?.type === 'ready') done();
        else if (m?.type === 'failed') done(new Error(`embedded PostgreSQL failed to start: ${m.error}`));
      };
      const onError = (e: Error) => done(e);
      const onExit = (code: number) => done(new Error(`embedded PostgreSQL worker exited with ${code}`));
      worker.on('message', onMessage);
      worker.once('error', onError);
      worker.once('exit', onExit);
    });
  } catch (e) {
    await worker.terminate();
    rmSync(socketDir, { recursive: true, force: true });
    throw e;
  }
  worker.on('error', () => {});
  worker.unref();
  let stopped: Promise<void> | undefined;
  return {
    url: `postgres://${EMBEDDED_APP_ROLE}@localhost/postgres?host=${encodeURIComponent(socketDir)}`,
    socketDir,
    storage: options.dataDir ?? 'memory',
    stop() {
      stopped ??= new Promise<void>((resolve) => {
        const finish = () =>
          void worker.terminate().then(() => {
            rmSync(socketDir, { recursive: true, force: true });
            resolve();
          });
        const timer = setTimeout(finish, 5_000);
        worker.on('message', (m: { type?: string }) => {
          if (m?.type !== 'stopped') return;
          clearTimeout(timer);
          finish();
        });
        worker.postMessage({ type: 'stop' });
      });
      return stopped;
    },
  };
}

/** A new 0700 directory for the socket: beside the data, or in the temp dir when that path would be too long. */
function makeSocketDir(dataDir: string | undefined): string {
  // sun_path holds 104-108 bytes; the directory gets 6 random characters and the socket name 13 more.
  const parent = dataDir !== undefined && dirname(dataDir).length <= 80 ? dirname(dataDir) : tmpdir();
  const dir = mkdtempSync(join(parent, '.pg-'));
  chmodSync(dir, 0o700);
  return dir;
}

/** What the superuser runs before handing the session to the application's role (idempotent: runs at every start). */
function setupSql(schema: string): string {
  const s = `"${schema}"`;
  const role = EMBEDDED_APP_ROLE;
  return `DO $setup$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '${role}') THEN
    CREATE ROLE ${role} NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS;
  END IF;
  EXECUTE format('GRANT CREATE ON DATABASE %I TO ${role}', current_database());
END
$setup$;
CREATE SCHEMA IF NOT EXISTS ${s};
GRANT USAGE, CREATE ON SCHEMA ${s} TO ${role};
${auditLogDdl(schema)};
GRANT SELECT, INSERT ON ${s}.audit_log TO ${role};
GRANT USAGE ON SEQUENCE ${s}.audit_log_id_seq TO ${role};
DO $owners$
DECLARE r record;
BEGIN
  -- Tables an earlier version created as the superuser go to the application's role; the audit log stays put.
  FOR r IN SELECT c.oid::regclass AS t FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
           WHERE n.nspname = '${schema}' AND c.relkind IN ('r', 'p') AND c.relname <> 'audit_log'
             AND pg_get_userbyid(c.relowner) <> '${role}'
  LOOP
    EXECUTE format('ALTER TABLE %s OWNER TO ${role}', r.t);
  END LOOP;
END
$owners$;
SET SESSION AUTHORIZATION ${role};`;
}
