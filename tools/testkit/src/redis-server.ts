import type { ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './free-port.js';
import { execFileAsync, exited, spawnServer } from './process.js';
import { waitFor } from './services.js';

/** Options for {@link startRedisServer}. */
export interface RedisServerOptions {
  /** Port to listen on. @default a free port */
  port?: number;
  /** Extra `redis-server` arguments, e.g. `['--cluster-enabled', 'yes']`. */
  args?: string[];
  /** Binary to run. @default 'redis-server' */
  binary?: string;
  /**
   * TLS only: the port is a `--tls-port` and there is no plaintext port (`--port 0`); clients are not asked for
   * certificates. The URL becomes `rediss://localhost:<port>` (the name the test certificates carry).
   */
  tls?: { cert: string; key: string; ca: string };
}

/** A disposable `redis-server` child process on 127.0.0.1 that a test can kill and restart. */
export interface RedisServer {
  readonly host: '127.0.0.1';
  readonly port: number;
  /** `redis://127.0.0.1:<port>`, or `rediss://localhost:<port>` with `tls` */
  readonly url: string;
  /** Process id of the running server, or undefined while stopped. */
  readonly pid: number | undefined;
  /** Kills the process with SIGKILL (a crash, no shutdown) and waits until it is gone. */
  kill(): Promise<void>;
  /** Freezes the process with SIGSTOP: connections stay open but nothing answers. */
  pause(): void;
  /** Resumes a paused process with SIGCONT. */
  resume(): void;
  /** Starts the server again on the same port (after `kill`), and waits until it answers PING. */
  start(): Promise<void>;
  /** Kills the process and removes its directory. Idempotent. */
  stop(): Promise<void>;
}

/**
 * Starts a disposable `redis-server` on a free loopback port with no persistence,
 * and resolves when it answers PING.
 */
export async function startRedisServer(options: RedisServerOptions = {}): Promise<RedisServer> {
  const port = options.port ?? (await freePort());
  const dir = await mkdtemp(join(tmpdir(), 'cs-redis-'));
  const binary = options.binary ?? 'redis-server';
  const tls = options.tls;
  let child: ChildProcess | undefined;
  let output = () => '';
  let stopped = false;

  const launch = async () => {
    const spawned = spawnServer(binary, [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--save',
      '',
      '--appendonly',
      'no',
      '--dir',
      dir,
      ...(tls === undefined
        ? []
        : [
            '--port',
            '0',
            '--tls-port',
            String(port),
            '--tls-cert-file',
            tls.cert,
            '--tls-key-file',
            tls.key,
            '--tls-ca-cert-file',
            tls.ca,
            '--tls-auth-clients',
            'no',
          ]),
      ...(options.args ?? []),
    ]);
    child = spawned.child;
    output = spawned.output;
    try {
      await waitFor(
        async () => {
          if (child?.exitCode !== null) throw new Error('exited');
          const { stdout } = await execFileAsync('redis-cli', [
            ...(tls === undefined ? [] : ['--tls', '--cacert', tls.ca]),
            '-h',
            '127.0.0.1',
            '-p',
            String(port),
            'PING',
          ]);
          return stdout.trim() === 'PONG';
        },
        { timeoutMs: 10_000, what: `redis-server on port ${port}` },
      );
    } catch (error) {
      child?.kill('SIGKILL');
      throw new Error(`redis-server did not start on port ${port}: ${(error as Error).message}\n${output()}`);
    }
  };

  const kill = async () => {
    const current = child;
    child = undefined;
    if (current === undefined) return;
    current.kill('SIGKILL');
    await exited(current);
  };

  await launch();

  return {
    host: '127.0.0.1',
    port,
    url: tls === undefined ? `redis://127.0.0.1:${port}` : `rediss://localhost:${port}`,
    get pid() {
      return child?.pid;
    },
    kill,
    pause() {
      child?.kill('SIGSTOP');
    },
    resume() {
      child?.kill('SIGCONT');
    },
    async start() {
      if (stopped) throw new Error('this redis-server was stopped for good');
      if (child !== undefined) return;
      await launch();
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      if (child !== undefined) child.kill('SIGCONT');
      await kill();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** A disposable Redis Cluster of several masters (no replicas) on loopback. */
export interface RedisClusterServers {
  readonly nodes: RedisServer[];
  /** `{ host, port }` of every master, as ioredis' `Cluster` takes them. */
  readonly startupNodes: { host: string; port: number }[];
  stop(): Promise<void>;
}

/**
 * Starts `masters` redis-server processes with `--cluster-enabled yes` and joins them
 * with `redis-cli --cluster create`, then waits until the cluster state is ok.
 */
export async function startRedisCluster(masters = 3): Promise<RedisClusterServers> {
  const nodes: RedisServer[] = [];
  try {
    for (let i = 0; i < masters; i++) {
      const port = await freePort();
      nodes.push(
        await startRedisServer({
          port,
          args: [
            '--cluster-enabled',
            'yes',
            '--cluster-config-file',
            `nodes-${port}.conf`,
            '--cluster-node-timeout',
            '2000',
          ],
        }),
      );
    }
    await execFileAsync('redis-cli', [
      '--cluster',
      'create',
      ...nodes.map((n) => `127.0.0.1:${n.port}`),
      '--cluster-replicas',
      '0',
      '--cluster-yes',
    ]);
    for (const node of nodes) {
      await waitFor(
        async () => {
          const { stdout } = await execFileAsync('redis-cli', ['-p', String(node.port), 'CLUSTER', 'INFO']);
          return stdout.includes('cluster_state:ok');
        },
        { timeoutMs: 15_000, what: `cluster state ok on ${node.port}` },
      );
    }
  } catch (error) {
    await Promise.all(nodes.map((n) => n.stop()));
    throw error;
  }
  return {
    nodes,
    startupNodes: nodes.map((n) => ({ host: n.host, port: n.port })),
    async stop() {
      await Promise.all(nodes.map((n) => n.stop()));
    },
  };
}
