// @cryptoscalp/health in one file: probes, IETF health+json, and a graceful shutdown.
// Run: npm run build -w @cryptoscalp/health && npx tsx examples/health/index.ts
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { connect } from 'node:net';
import { bearerAuthorize, createHealthHandler, type HealthIndicator, HealthRegistry } from '@cryptoscalp/health';

// A dependency check: PING Redis over a raw socket (any object with `name` + `healthCheck(signal)` works,
// e.g. a CacheManager or a PoolManager from the other @cryptoscalp packages).
const redisUrl = new URL(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
const redis: HealthIndicator = {
  name: 'redis',
  healthCheck: (signal) =>
    new Promise((resolve, reject) => {
      const started = performance.now();
      const socket = connect(Number(redisUrl.port || 6379), redisUrl.hostname);
      signal?.addEventListener('abort', () => socket.destroy(), { once: true });
      socket.once('error', reject);
      socket.once('data', (data) => {
        socket.end();
        const ok = data.toString().startsWith('+PONG');
        resolve({ status: ok ? 'pass' : 'fail', observedValue: performance.now() - started, observedUnit: 'ms' });
      });
      socket.write('PING\r\n');
    }),
};

const health = new HealthRegistry({ version: '1.0.0', serviceId: 'example', shutdownDelayMs: 500 });
health.register(redis, { critical: true, componentType: 'datastore' });
health.register({ name: 'disk', healthCheck: async () => ({ status: 'pass' }) }); // non-critical: failure = warn

const token = 'example-token-please-change-me';
const handler = createHealthHandler(health, {
  authorize: bearerAuthorize(token), // status/components/alerts/benchmark/metrics need the token
  metrics: () => '# HELP example_up 1 when up\n# TYPE example_up gauge\nexample_up 1\n',
  alerts: () => [],
});
const server = createServer((req, res) =>
  handler(req, res, () => {
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end('hello from the app\n');
  }),
);
health.attach(server); // shutdown() closes it gracefully
health.onShutdown(async () => console.log('shutdown handler: flushing and closing clients'), { name: 'clients' });

await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
console.log(`listening on ${base}`);

await health.results(); // wait for the first checks (startup phase)
for (const path of ['/health/liveness', '/health/readiness', '/health/status']) {
  const res = await fetch(base + path, { headers: { authorization: `Bearer ${token}` } });
  console.log(`GET ${path} -> ${res.status} ${res.headers.get('content-type')}\n${await res.text()}\n`);
}

// What SIGTERM would do with `handleSignals: true`: readiness 503 at once, wait, close, run handlers.
const shutdown = health.shutdown('example');
const during = await fetch(`${base}/health/readiness`, { headers: { connection: 'close' } });
console.log(`during drain: readiness ${during.status} ${await during.text()}`);
const report = await shutdown;
console.log('shutdown report:', report);
