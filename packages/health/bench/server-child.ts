// Child process of the benches: the servers under test, so the load generator (autocannon, in the parent) does not
// share their event loop. Prints `PORTS {json}` when listening; exits when stdin closes.
import { createServer, type RequestListener } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createHealthHandler, HealthRegistry } from '../src/index.js';

const body = JSON.stringify({ status: 'pass' });
// The baseline: a raw node:http handler returning a fixed JSON body.
const raw: RequestListener = (_req, res) => {
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
};

const health = new HealthRegistry({ cacheTtlMs: 1_000, timeoutMs: 500 });
for (const name of ['redis', 'postgres', 'ws-manager', 'stream-hub', 'clickhouse']) {
  health.register(
    {
      name,
      healthCheck: async () => {
        await new Promise((r) => setTimeout(r, 1));
        return { status: 'pass' };
      },
    },
    { critical: true },
  );
}
const handler = createHealthHandler(health);
await health.results();

async function listen(listener: RequestListener): Promise<number> {
  const server = createServer(listener);
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return (server.address() as AddressInfo).port;
}

const ports = { raw: await listen(raw), health: await listen(handler) };
process.stdout.write(`PORTS ${JSON.stringify(ports)}\n`);
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
