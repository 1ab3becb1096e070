import type { ChildProcess } from 'node:child_process';
import { chmod, chown, copyFile, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './free-port.js';
import { execFileAsync, exited, spawnServer } from './process.js';
import { waitFor } from './services.js';

/** Options for {@link startPostgresCluster}. */
export interface PostgresClusterOptions {
  /** Port to listen on. @default a free port */
  port?: number;
  /** Extra server settings, passed as `-c name=value`. */
  settings?: Record<string, string | number>;
  /**
   * Make this cluster a streaming replica of `primary` (`pg_basebackup -R`) instead of
   * running `initdb`.
   */
  replicaOf?: PostgresCluster;
  /** Extra `initdb` arguments, e.g. `['--wal-segsize=1']` (ignored for a replica). */
  initdbArgs?: string[];
  /**
   * `ssl=on` with this certificate and key (PEM files; copied into the cluster's directory, owned by the server's
   * user, key mode 0600, as PostgreSQL requires). Plaintext connections stay allowed, so a test can tell a client
   * that refuses them from a server that does. @default none (no TLS)
   */
  tls?: { cert: string; key: string };
}

/** A disposable PostgreSQL cluster in a temporary directory, run as a child process. */
export interface PostgresCluster {
  readonly host: '127.0.0.1';
  readonly port: number;
  readonly dataDir: string;
  /** `postgres://postgres@127.0.0.1:<port>/postgres` */
  readonly url: string;
  /** Process id of the postmaster, or undefined while stopped. */
  readonly pid: number | undefined;
  /** Connection string for another database on this cluster. */
  urlFor(database: string): string;
  /** SIGKILL to the postmaster and every backend: a crash. Waits until all are gone. */
  kill(): Promise<void>;
  /** Starts the cluster again on the same port and data directory. */
  start(): Promise<void>;
  /** Promotes a replica to primary (`pg_ctl promote`) and waits until it accepts writes. */
  promote(): Promise<void>;
  /** Runs one SQL statement with psql and returns its unaligned output. */
  psql(sql: string, database?: string): Promise<string>;
  /** Stops the server (fast shutdown, or kill if that fails) and removes its directory. Idempotent. */
  stop(): Promise<void>;
}

let binDir: string | undefined;

/** The directory holding initdb, pg_ctl, postgres and pg_basebackup (the newest installed major version). */
export async function postgresBinDir(): Promise<string> {
  if (binDir !== undefined) return binDir;
  const versions = (await readdir('/usr/lib/postgresql'))
    .filter((v) => /^\d+$/.test(v))
    .sort((a, b) => Number(b) - Number(a));
  if (versions.length === 0) throw new Error('no PostgreSQL server binaries under /usr/lib/postgresql');
  binDir = `/usr/lib/postgresql/${versions[0]}/bin`;
  return binDir;
}

/** initdb and postgres refuse to run as root, so as root they run as the `postgres` user. */
async function runAs(): Promise<{ uid: number; gid: number } | undefined> {
  if (process.getuid?.() !== 0) return undefined;
  const uid = Number((await execFileAsync('id', ['-u', 'postgres'])).stdout.trim());
  const gid = Number((await execFileAsync('id', ['-g', 'postgres'])).stdout.trim());
  return { uid, gid };
}

/**
 * Creates and starts a disposable PostgreSQL cluster (trust auth, loopback only, no fsync)
 * in a temporary directory, or a streaming replica of another one.
 */
export async function startPostgresCluster(options: PostgresClusterOptions = {}): Promise<PostgresCluster> {
  const bin = await postgresBinDir();
  const user = await runAs();
  const port = options.port ?? (await freePort());
  const root = await mkdtemp(join(tmpdir(), 'cs-pg-'));
  const dataDir = join(root, 'data');
  if (user) await chown(root, user.uid, user.gid);
  const asUser = user ? { uid: user.uid, gid: user.gid } : {};

  if (options.replicaOf) {
    await execFileAsync(
      `${bin}/pg_basebackup`,
      [
        '-h',
        '127.0.0.1',
        '-p',
        String(options.replicaOf.port),
        '-U',
        'postgres',
        '-D',
        dataDir,
        '-R',
        '-X',
        'stream',
        '-c',
        'fast',
      ],
      { ...asUser, cwd: root },
    );
  } else {
    await execFileAsync(
      `${bin}/initdb`,
      ['-D', dataDir, '-U', 'postgres', '--auth=trust', '--no-sync', '-E', 'UTF8', '--locale=C'].concat(
        options.initdbArgs ?? [],
      ),
      { ...asUser, cwd: root },
    );
  }

  const tlsSettings: Record<string, string> = {};
  if (options.tls !== undefined) {
    for (const [kind, from] of [
      ['cert', options.tls.cert],
      ['key', options.tls.key],
    ] as const) {
      const to = join(root, `server.${kind}`);
      await copyFile(from, to);
      await chmod(to, 0o600);
      if (user) await chown(to, user.uid, user.gid);
      tlsSettings[`ssl_${kind}_file`] = to;
    }
    tlsSettings.ssl = 'on';
  }
  const settings: Record<string, string | number> = {
    listen_addresses: '127.0.0.1',
    port,
    unix_socket_directories: root,
    fsync: 'off',
    full_page_writes: 'off',
    max_connections: 200,
    wal_level: 'replica',
    max_wal_senders: 10,
    hot_standby: 'on',
    ...tlsSettings,
    ...options.settings,
  };
  const args = ['-D', dataDir, ...Object.entries(settings).flatMap(([k, v]) => ['-c', `${k}=${v}`])];

  let child: ChildProcess | undefined;
  let stopped = false;
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;

  const psql = async (sql: string, database = 'postgres') => {
    const { stdout } = await execFileAsync(`${bin}/psql`, [
      '-h',
      '127.0.0.1',
      '-p',
      String(port),
      '-U',
      'postgres',
      '-d',
      database,
      '-v',
      'ON_ERROR_STOP=1',
      '-At',
      '-c',
      sql,
    ]);
    return stdout.trim();
  };

  const launch = async () => {
    const spawned = spawnServer(`${bin}/postgres`, args, { ...asUser, cwd: root });
    child = spawned.child;
    try {
      await waitFor(
        async () => {
          if (child?.exitCode !== null) throw new Error('exited');
          await psql('select 1');
          return true;
        },
        { timeoutMs: 30_000, intervalMs: 50, what: `PostgreSQL on port ${port}` },
      );
    } catch (error) {
      child?.kill('SIGKILL');
      throw new Error(`PostgreSQL did not start on port ${port}: ${(error as Error).message}\n${spawned.output()}`);
    }
  };

  const kill = async () => {
    const current = child;
    child = undefined;
    if (current === undefined) return;
    const pid = current.pid;
    current.kill('SIGKILL');
    await exited(current);
    // Backends notice the postmaster's death and exit; make sure none outlives it holding the port.
    if (pid !== undefined) await execFileAsync('pkill', ['-KILL', '-P', String(pid)]).catch(() => undefined);
  };

  await launch();

  return {
    host: '127.0.0.1',
    port,
    dataDir,
    url,
    get pid() {
      return child?.pid;
    },
    urlFor: (database: string) => `postgres://postgres@127.0.0.1:${port}/${database}`,
    kill,
    async start() {
      if (stopped) throw new Error('this PostgreSQL cluster was stopped for good');
      if (child !== undefined) return;
      await launch();
    },
    async promote() {
      await execFileAsync(`${bin}/pg_ctl`, ['promote', '-D', dataDir, '-w'], { ...asUser, cwd: root });
      await waitFor(async () => (await psql('select pg_is_in_recovery()')) === 'f', {
        timeoutMs: 30_000,
        what: `promotion of ${port}`,
      });
    },
    psql,
    async stop() {
      if (stopped) return;
      stopped = true;
      const current = child;
      if (current !== undefined) {
        current.kill('SIGINT'); // fast shutdown
        try {
          await exited(current, 10_000);
          child = undefined;
        } catch {
          await kill();
        }
      }
      await rm(root, { recursive: true, force: true });
    },
  };
}
