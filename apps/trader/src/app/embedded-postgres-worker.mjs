// Runs PGlite and its PostgreSQL wire-protocol socket in a worker thread, so the database's WASM work never blocks
// the trader's event loop. Plain JavaScript so it loads without a TypeScript loader in any runner.
import { parentPort, workerData } from 'node:worker_threads';
import { PGlite } from '@electric-sql/pglite';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';

let db;
let server;
try {
  db = workerData.dataDir ? await PGlite.create(workerData.dataDir) : await PGlite.create();
  // As the superuser, before anyone connects: the application's role and the audit log, then the session becomes the
  // role's (see embedded-postgres.ts).
  await db.exec(workerData.setup);
  // PGlite is one session: connections share it and queries are queued. The trader has one writer, so a few
  // connections (writer, health checks) are safe. A Unix socket only: its directory's mode decides who connects.
  server = new PGLiteSocketServer({ db, path: workerData.socketPath, maxConnections: 8 });
  await server.start();
} catch (error) {
  parentPort.postMessage({ type: 'failed', error: String(error?.message ?? error) });
  await db?.close().catch(() => {});
  process.exit(1);
}
parentPort.on('message', (message) => {
  if (message?.type !== 'stop') return;
  server
    .stop()
    .then(() => db.close())
    .then(
      () => parentPort.postMessage({ type: 'stopped' }),
      (error) => parentPort.postMessage({ type: 'stopped', error: String(error) }),
    );
});
parentPort.postMessage({ type: 'ready' });
