// A switchable TCP forwarder, run in its own process so its latency does not depend on the harness's event loop
// (which probes every process and reads the event stream).
import { type ChildProcess, spawn } from 'node:child_process';
import { createConnection, createServer, type Socket } from 'node:net';
import { resolve } from 'node:path';
import { createInterface, type Interface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { exited } from '@cryptoscalp/testkit';
import { watchParent } from '../../../apps/trader/src/internal/parent-watch.js';

/**
 * A TCP forwarder on 127.0.0.1 to one target port that can be switched: what a virtual IP, an HAProxy with a
 * primary health check, or a Kubernetes Service in front of the PostgreSQL primary does in production. Switching
 * the target cuts every open connection, so no client keeps talking to the old primary.
 */
export class TcpProxy {
  #target: number;
  #acks: Array<() => void> = [];

  private constructor(
    private readonly child: ChildProcess,
    private readonly lines: Interface,
    readonly port: number,
    target: number,
  ) {
    this.#target = target;
    lines.on('line', () => this.#acks.shift()?.());
  }

  /** Starts the forwarder process to `127.0.0.1:<target>` on a free port. */
  static async start(target: number): Promise<TcpProxy> {
    const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), String(target)], {
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    const lines = createInterface({ input: child.stdout as NonNullable<ChildProcess['stdout']> });
    const port = await new Promise<number>((ok, fail) => {
      lines.once('line', (l) => ok(Number(l)));
      child.once('exit', (code) => fail(new Error(`tcp proxy exited (${code}) before listening`)));
    });
    return new TcpProxy(child, lines, port, target);
  }

  /** The port connections go to now. */
  get target(): number {
    return this.#target;
  }

  /** Points new connections at `port` and cuts the open ones; resolves once the forwarder did. */
  async setTarget(port: number): Promise<void> {
    this.#target = port;
    await new Promise<void>((ok) => {
      this.#acks.push(ok);
      this.child.stdin?.write(`${port}\n`);
    });
  }

  /** Stops the forwarder by its PID. Idempotent. */
  async close(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.lines.close();
    this.child.kill('SIGKILL');
    await exited(this.child);
  }
}

function main(): void {
  let target = Number(process.argv[2]);
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = createConnection({ host: '127.0.0.1', port: target });
    sockets.add(client);
    sockets.add(upstream);
    const end = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    for (const s of [client, upstream]) {
      s.on('error', end);
      s.on('close', end);
    }
    client.pipe(upstream);
    upstream.pipe(client);
  });
  server.listen(0, '127.0.0.1', () => {
    const address = server.address();
    console.log(typeof address === 'object' && address !== null ? address.port : 0);
  });
  createInterface({ input: process.stdin }).on('line', (line) => {
    target = Number(line);
    for (const s of sockets) s.destroy();
    sockets.clear();
    console.log('ok');
  });
  watchParent({ onGone: () => process.exit(0) });
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) main();
