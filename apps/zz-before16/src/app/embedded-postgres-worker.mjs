// Runs PGlite and its PostgreSQL wire-protocol socket in a worker thread, so the database's WASM work never blocks
// the trader's event loop. Plain JavaScript so it loads without a TypeScript loader in any runner.
import { parentPort, workerData } from 'node:worker_threads';
import { PGlite } from '@electric-sql/pglite';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';

const db = workerData.dataDir ? await PGlite.create(workerData.dataDir) : await PGlite.create();
// PGlite is one session: connections share it and queries are queued. The trader has one writer, so a few
// connections (writer, health checks) are safe.
const server = new PGLiteSocketServer({ db, port: workerData.port, host: '127.0.0.1', maxConnections: 8 });
await server.start();
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
