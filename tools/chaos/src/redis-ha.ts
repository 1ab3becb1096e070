import { writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exited, freePort, type RedisServer, spawnServer, startRedisServer, waitFor } from '@cryptoscalp/testkit';
import { Redis } from 'ioredis';

/** One `redis-sentinel` child process. */
interface Sentinel {
  readonly port: number;
  readonly child: ReturnType<typeof spawnServer>['child'];
  readonly output: () => string;
}

/** Options of {@link RedisHa.start}. */
export interface RedisHaOptions {
  /** The primary group's name. @default 'chaos' */
  name?: string;
  /** `sentinel down-after-milliseconds`. @default 1000 */
  downAfterMs?: number;
  /** `sentinel failover-timeout`. @default 5000 */
  failoverTimeoutMs?: number;
}

/**
 * A Redis primary and a replica (AOF `everysec`, each its own disposable `redis-server`) watched by three
 * `redis-sentinel` processes on their own ports (quorum 2). Clients use {@link RedisHa.url}
 * (`redis+sentinel://...`), which finds the primary through the Sentinels after a failover.
 */
export class RedisHa {
  private constructor(
    readonly name: string,
    readonly servers: readonly RedisServer[],
    private readonly sentinels: readonly Sentinel[],
    private readonly dir: string,
  ) {}

  /** Starts both servers and the three Sentinels; waits until every Sentinel sees the replica. */
  static async start(options: RedisHaOptions = {}): Promise<RedisHa> {
    const name = options.name ?? 'chaos';
    const aof = ['--appendonly', 'yes', '--appendfsync', 'everysec'];
    const servers: RedisServer[] = [];
    const sentinels: Sentinel[] = [];
    const dir = await mkdtemp(join(tmpdir(), 'chaos-sentinel-'));
    const ha = new RedisHa(name, servers, sentinels, dir);
    try {
      const primary = await startRedisServer({ args: aof });
      servers.push(primary);
      servers.push(await startRedisServer({ args: [...aof, '--replicaof', '127.0.0.1', String(primary.port)] }));
      for (let i = 0; i < 3; i++) {
        const port = await freePort();
        const conf = join(dir, `sentinel-${port}.conf`);
        // Sentinel rewrites its own file (known replicas, epochs), so each has one.
        writeFileSync(
          conf,
          [
            `port ${port}`,
            'bind 127.0.0.1',
            `dir ${dir}`,
            `sentinel monitor ${name} 127.0.0.1 ${primary.port} 2`,
            `sentinel down-after-milliseconds ${name} ${options.downAfterMs ?? 1_000}`,
            `sentinel failover-timeout ${name} ${options.failoverTimeoutMs ?? 5_000}`,
            `sentinel parallel-syncs ${name} 1`,
            '',
          ].join('\n'),
        );
        const s = spawnServer('redis-sentinel', [conf]);
        sentinels.push({ port, child: s.child, output: s.output });
      }
      await waitFor(
        async () => {
          for (const s of sentinels) {
            const info = await ha.sentinelCommand(s.port, ['SENTINEL', 'REPLICAS', name]).catch(() => []);
            if (!Array.isArray(info) || info.length === 0) return false;
          }
          return true;
        },
        { timeoutMs: 30_000, intervalMs: 100, what: 'three Sentinels that see the primary and its replica' },
      );
      // The replica holds nothing until its first sync is done (the primary may first finish its AOF rewrite): a
      // primary killed before that takes everything with it, which is not the fault a test means to inject.
      const admin = new Redis({ host: '127.0.0.1', port: primary.port, lazyConnect: true, maxRetriesPerRequest: 1 });
      admin.on('error', () => undefined);
      try {
        await waitFor(async () => /slave0:.*state=online/.test(await admin.info('replication')), {
          timeoutMs: 30_000,
          intervalMs: 100,
          what: 'the replica to finish its first sync',
        });
      } finally {
        admin.disconnect();
      }
    } catch (e) {
      await ha.close();
      throw e;
    }
    return ha;
  }

  /** `redis+sentinel://127.0.0.1:<s1>,127.0.0.1:<s2>,127.0.0.1:<s3>/<name>` */
  get url(): string {
    return `redis+sentinel://${this.sentinels.map((s) => `127.0.0.1:${s.port}`).join(',')}/${this.name}`;
  }

  /** The server the Sentinels name as primary now (asked of the first one that answers). */
  async primary(): Promise<RedisServer | undefined> {
    for (const s of this.sentinels) {
      try {
        const addr = (await this.sentinelCommand(s.port, ['SENTINEL', 'GET-MASTER-ADDR-BY-NAME', this.name])) as
          | string[]
          | null;
        if (addr === null) continue;
        return this.servers.find((r) => r.port === Number(addr[1]));
      } catch {
        // try the next Sentinel
      }
    }
    return undefined;
  }

  /** The primary named by the Sentinels, if it answers as a primary (`ROLE` says `master`). */
  async primaryServes(): Promise<boolean> {
    const p = await this.primary();
    if (p === undefined || p.pid === undefined) return false;
    const c = new Redis({
      host: '127.0.0.1',
      port: p.port,
      lazyConnect: true,
      connectTimeout: 500,
      commandTimeout: 500,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
    });
    c.on('error', () => undefined);
    try {
      await c.connect();
      const role = (await c.role()) as unknown[];
      return role[0] === 'master';
    } catch {
      return false;
    } finally {
      c.disconnect();
    }
  }

  private async sentinelCommand(port: number, args: string[]): Promise<unknown> {
    const c = new Redis({
      host: '127.0.0.1',
      port,
      lazyConnect: true,
      connectTimeout: 500,
      commandTimeout: 1_000,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
    });
    c.on('error', () => undefined);
    try {
      await c.connect();
      return await c.call(args[0] as string, ...args.slice(1));
    } finally {
      c.disconnect();
    }
  }

  /** What the Sentinels logged (failover events), for a report on a failure. */
  output(): string {
    return this.sentinels.map((s) => `sentinel ${s.port}:\n${s.output()}`).join('\n');
  }

  /** Stops the Sentinels and the servers by their PIDs (resuming a paused one first) and removes the files. */
  async close(): Promise<void> {
    for (const s of this.sentinels) {
      if (s.child.exitCode !== null || s.child.signalCode !== null) continue;
      s.child.kill('SIGKILL');
      await exited(s.child).catch(() => undefined);
    }
    for (const r of this.servers) {
      r.resume();
      await r.stop();
    }
    await rm(this.dir, { recursive: true, force: true });
  }
}
