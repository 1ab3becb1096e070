import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { Socket } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { exited, spawnServer, waitFor } from '@cryptoscalp/testkit';
import { type NginxSettings, renderNginxConfig, renderUpstream } from '../nginx/render-config.js';
import { childrenOf } from './cpu-usage.js';

const run = promisify(execFile);

/**
 * A real nginx (the Debian package) on deploy/nginx rendered into its own prefix, in the foreground (`daemon off`),
 * so its master is our child and is stopped by its PID. {@link NginxServer.setGateways} rewrites the upstream and
 * reloads, returning once the new workers run.
 */
export class NginxServer {
  private constructor(
    private readonly settings: NginxSettings,
    readonly prefix: string,
    readonly conf: string,
    private readonly server: ReturnType<typeof spawnServer>,
  ) {}

  /** Renders the config into `prefix`, checks it with `nginx -t`, starts nginx and waits until `port` accepts. */
  static async start(settings: NginxSettings, prefix: string, port: number): Promise<NginxServer> {
    const conf = renderNginxConfig(settings, prefix);
    await NginxServer.check(prefix, conf);
    const server = spawnServer('nginx', ['-p', prefix, '-c', conf, '-e', 'stderr', '-g', 'daemon off;']);
    const nginx = new NginxServer(settings, prefix, conf, server);
    try {
      await waitFor(
        async () => {
          if (server.child.exitCode !== null) throw new Error(`nginx exited: ${server.output()}`);
          return await new Promise<boolean>((resolve) => {
            const s = new Socket();
            s.once('error', () => resolve(false));
            s.connect(port, '127.0.0.1', () => {
              s.destroy();
              resolve(true);
            });
          });
        },
        { timeoutMs: 10_000, what: `nginx on port ${port}` },
      );
    } catch (error) {
      await nginx.stop();
      throw new Error(`${(error as Error).message}\n${server.output()}`);
    }
    return nginx;
  }

  /** `nginx -t` on a rendered config; throws with nginx's own message when it is invalid. */
  static async check(prefix: string, conf: string): Promise<string> {
    try {
      const { stderr } = await run('nginx', ['-t', '-p', prefix, '-c', conf, '-e', 'stderr', '-g', 'daemon off;']);
      return stderr;
    } catch (error) {
      throw new Error(`nginx -t failed: ${(error as { stderr?: string }).stderr ?? (error as Error).message}`);
    }
  }

  /** The master's PID. */
  get pid(): number {
    return this.server.child.pid as number;
  }

  /** nginx's stderr and stdout so far. */
  output(): string {
    return this.server.output();
  }

  /**
   * Points the `gateways` upstream at `gateways` and reloads: `nginx -t` first, then SIGHUP to the master. Returns once
   * the new workers run and every old worker has stopped accepting (its title says "is shutting down", or it is gone):
   * from then on no new connection or request reaches the old upstream. Old workers finish their requests and keep
   * their open streams until those close.
   */
  async setGateways(gateways: readonly string[]): Promise<void> {
    const settings = { ...this.settings, gateways };
    writeFileSync(join(this.prefix, 'conf.d/upstream-gateways.conf'), renderUpstream(settings));
    await NginxServer.check(this.prefix, this.conf);
    const before = childrenOf(this.pid);
    process.kill(this.pid, 'SIGHUP');
    const workers = this.settings.workerProcesses === 'auto' ? 1 : Number(this.settings.workerProcesses);
    const title = (pid: number) => {
      try {
        return readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      } catch {
        return undefined; // gone
      }
    };
    await waitFor(
      () => {
        const now = childrenOf(this.pid);
        const fresh = [...now].filter((p) => !before.has(p) && title(p)?.startsWith('nginx: worker process'));
        const oldAccepting = [...before].filter(
          (p) => now.has(p) && title(p)?.includes('worker process') && !title(p)?.includes('shutting down'),
        );
        return fresh.length >= workers && oldAccepting.length === 0;
      },
      { timeoutMs: 10_000, intervalMs: 10, what: 'nginx reloaded: new workers up, old ones shutting down' },
    );
  }

  /** Stops the master by its PID (SIGTERM: fast shutdown); if it lingers, SIGKILL to it and to its workers by PID. */
  async stop(): Promise<void> {
    const { child } = this.server;
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    try {
      await exited(child, 10_000);
    } catch {
      const workers = childrenOf(this.pid);
      child.kill('SIGKILL');
      for (const w of workers) process.kill(w, 'SIGKILL');
      await exited(child, 5_000);
    }
  }
}
