import { type PostgresCluster, startPostgresCluster } from '@cryptoscalp/testkit';
import pg from 'pg';
import { TcpProxy } from './tcp-proxy.js';

/** What the failover watchdog did, for the chaos report. */
export interface PgFailover {
  /** When the watchdog declared the primary dead (ms since epoch). */
  readonly detectedAt: number;
  /** When the proxy pointed at the promoted replica. */
  readonly promotedAt: number;
  readonly from: number;
  readonly to: number;
}

/** Options of {@link PgHa.start}. */
export interface PgHaOptions {
  /** Probe interval of the watchdog. @default 500 */
  probeIntervalMs?: number;
  /** Consecutive failed probes (each bounded by `probeTimeoutMs`) before a failover. @default 4 */
  failuresToFailover?: number;
  /** One probe's connect and query timeout. @default 2000 */
  probeTimeoutMs?: number;
  /** Progress lines. */
  log?: (line: string) => void;
}

/**
 * A PostgreSQL primary and a synchronous streaming replica (disposable clusters, `pg_basebackup -R`), a TCP proxy
 * that clients use as the one database address, and a watchdog doing what Patroni does: when the primary stops
 * answering it is fenced (SIGKILL), the replica promoted, the proxy switched, and a new replica of the new primary
 * built in the background. Replication is synchronous while a replica streams (`synchronous_standby_names = '*'`),
 * so a commit the trader saw acknowledged is on the promoted replica.
 */
export class PgHa {
  #primary: PostgresCluster;
  #replica: PostgresCluster | undefined;
  #timer: NodeJS.Timeout | undefined;
  #failures = 0;
  #probing = false;
  #failingOver: Promise<void> | undefined;
  #rebuilding: Promise<void> | undefined;
  #closed = false;
  readonly failovers: PgFailover[] = [];
  readonly #retired: PostgresCluster[] = [];

  private constructor(
    primary: PostgresCluster,
    replica: PostgresCluster,
    readonly proxy: TcpProxy,
    private readonly options: Required<PgHaOptions>,
  ) {
    this.#primary = primary;
    this.#replica = replica;
  }

  /** Starts the primary, its replica, the proxy and the watchdog. Everything started is stopped on a failure. */
  static async start(options: PgHaOptions = {}): Promise<PgHa> {
    const o = { probeIntervalMs: 500, failuresToFailover: 4, probeTimeoutMs: 2_000, log: () => {}, ...options };
    const primary = await startPostgresCluster({ settings: SETTINGS });
    let replica: PostgresCluster | undefined;
    let proxy: TcpProxy | undefined;
    try {
      replica = await startPostgresCluster({ replicaOf: primary, settings: SETTINGS });
      await makeSynchronous(primary);
      proxy = await TcpProxy.start(primary.port);
    } catch (e) {
      await proxy?.close();
      await replica?.stop();
      await primary.stop();
      throw e;
    }
    const ha = new PgHa(primary, replica, proxy, o);
    ha.#timer = setInterval(() => void ha.probe(), o.probeIntervalMs);
    return ha;
  }

  /** `postgres://postgres@127.0.0.1:<proxy>/postgres`: the address that follows the primary. */
  get url(): string {
    return `postgres://postgres@127.0.0.1:${this.proxy.port}/postgres`;
  }

  /** The current primary. */
  get primary(): PostgresCluster {
    return this.#primary;
  }

  /** The streaming replica, or undefined while a new one is being built after a failover. */
  get replica(): PostgresCluster | undefined {
    return this.#replica;
  }

  /** True while the watchdog fails over or a new replica is being built. */
  get busy(): boolean {
    return this.#failingOver !== undefined || this.#rebuilding !== undefined;
  }

  /** Resolves once a replica streams again (after a failover). */
  async settled(): Promise<void> {
    while (this.#failingOver !== undefined || this.#rebuilding !== undefined) {
      await this.#failingOver;
      await this.#rebuilding;
    }
  }

  private async probe(): Promise<void> {
    if (this.#probing || this.#failingOver !== undefined || this.#closed) return;
    this.#probing = true;
    const primary = this.#primary;
    try {
      const ok = await answers(primary.port, this.options.probeTimeoutMs);
      if (primary !== this.#primary) return;
      this.#failures = ok ? 0 : this.#failures + 1;
      if (this.#failures >= this.options.failuresToFailover && this.#replica !== undefined) {
        this.#failures = 0;
        this.#failingOver = this.failover().finally(() => {
          this.#failingOver = undefined;
        });
      }
    } finally {
      this.#probing = false;
    }
  }

  private async failover(): Promise<void> {
    const old = this.#primary;
    const next = this.#replica as PostgresCluster;
    const detectedAt = Date.now();
    this.options.log(`pg: primary ${old.port} does not answer: fencing it and promoting ${next.port}`);
    // Fence first: a paused primary that resumed would otherwise take writes beside the promoted one.
    await old.kill();
    await next.promote();
    // The new primary has no replica yet: it must not wait for one on every commit.
    await next.psql('alter system reset synchronous_standby_names');
    await next.psql('select pg_reload_conf()');
    this.#primary = next;
    this.#replica = undefined;
    await this.proxy.setTarget(next.port);
    const promotedAt = Date.now();
    this.failovers.push({ detectedAt, promotedAt, from: old.port, to: next.port });
    this.options.log(`pg: ${next.port} is the primary (${promotedAt - detectedAt} ms after detection)`);
    this.#retired.push(old);
    this.#rebuilding = this.rebuild(next).finally(() => {
      this.#rebuilding = undefined;
    });
  }

  /** A new replica of `primary`, then synchronous replication again. */
  private async rebuild(primary: PostgresCluster): Promise<void> {
    try {
      const replica = await startPostgresCluster({ replicaOf: primary, settings: SETTINGS });
      if (this.#closed || primary !== this.#primary) {
        await replica.stop();
        return;
      }
      this.#replica = replica;
      await makeSynchronous(primary);
      this.options.log(`pg: new replica ${replica.port} streams from ${primary.port}`);
    } catch (e) {
      this.options.log(`pg: building a new replica failed: ${(e as Error).message}`);
    }
  }

  /** Stops the watchdog, the proxy and every cluster (by their PIDs) and removes their directories. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#timer);
    await this.#failingOver?.catch(() => undefined);
    await this.#rebuilding?.catch(() => undefined);
    await this.proxy.close();
    for (const c of [this.#replica, this.#primary, ...this.#retired]) {
      if (c === undefined) continue;
      // A paused postmaster ignores SIGINT: resume it first (harmless when it runs).
      if (c.pid !== undefined) {
        try {
          process.kill(c.pid, 'SIGCONT');
        } catch {
          // gone
        }
      }
      await c.stop();
    }
  }
}

const SETTINGS = {
  // A replica that fell behind while the primary was busy catches up from kept WAL instead of a new base backup.
  wal_keep_size: '256MB',
  synchronous_commit: 'on',
};

/** Waits until a replica streams from `primary`, then makes its commits wait for it. */
async function makeSynchronous(primary: PostgresCluster): Promise<void> {
  const deadline = Date.now() + 30_000;
  while ((await primary.psql("select count(*) from pg_stat_replication where state = 'streaming'")) === '0') {
    if (Date.now() > deadline) throw new Error(`no replica streams from ${primary.port} after 30 s`);
    await new Promise((r) => setTimeout(r, 100));
  }
  await primary.psql("alter system set synchronous_standby_names = '*'");
  await primary.psql('select pg_reload_conf()');
}

/** One `select 1` on a fresh connection within `timeoutMs`. */
async function answers(port: number, timeoutMs: number): Promise<boolean> {
  const client = new pg.Client({
    host: '127.0.0.1',
    port,
    user: 'postgres',
    database: 'postgres',
    connectionTimeoutMillis: timeoutMs,
    query_timeout: timeoutMs,
  });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.query('select 1');
    return true;
  } catch {
    return false;
  } finally {
    void client.end().catch(() => undefined);
  }
}
