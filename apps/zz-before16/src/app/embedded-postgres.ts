import { mkdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { Worker } from 'node:worker_threads';

/** A running embedded PostgreSQL: PGlite behind a wire-protocol socket on loopback, so `pg` connects as usual. */
export interface EmbeddedPostgres {
  /** `postgres://postgres@127.0.0.1:<port>/postgres` */
  readonly url: string;
  readonly port: number;
  /** Data directory, or `memory`. */
  readonly storage: string;
  stop(): Promise<void>;
}

async function freeLoopbackPort(): Promise<number> {
  return await new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/**
 * Starts PGlite (in memory, or persisted in `dataDir`) in a worker thread and serves it on a free loopback port.
 * The worker keeps the database's WASM execution off the trader's event loop.
 */
export async function startEmbeddedPostgres(
  options: { dataDir?: string; port?: number; startTimeoutMs?: number } = {},
): Promise<EmbeddedPostgres> {
  if (options.dataDir) mkdirSync(options.dataDir, { recursive: true });
  const port = options.port || (await freeLoopbackPort());
  const worker = new Worker(new URL('./embedded-postgres-worker.mjs', import.meta.url), {
    workerData: { dataDir: options.dataDir, port },
  });
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
    const onMessage = (m: { type?: string }) => {
      if (m?.type === 'ready') done();
    };
    const onError = (e: Error) => done(e);
    const onExit = (code: number) => done(new Error(`embedded PostgreSQL worker exited with ${code}`));
    worker.on('message', onMessage);
    worker.once('error', onError);
    worker.once('exit', onExit);
  });
  worker.on('error', () => {});
  worker.unref();
  let stopped: Promise<void> | undefined;
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    port,
    storage: options.dataDir ?? 'memory',
    stop() {
      stopped ??= new Promise<void>((resolve) => {
        const timer = setTimeout(() => void worker.terminate().then(() => resolve()), 5_000);
        worker.on('message', (m: { type?: string }) => {
          if (m?.type !== 'stopped') return;
          clearTimeout(timer);
          void worker.terminate().then(() => resolve());
        });
        worker.postMessage({ type: 'stop' });
      });
      return stopped;
    },
  };
}
