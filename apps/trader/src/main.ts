// The trader's command line: `tsx src/main.ts [--duration <seconds>] [--config <file>] [--env <name>]`.
// Starts everything on embedded defaults (simulator, in-process cache, embedded PostgreSQL) unless REDIS_URL /
// DATABASE_URL / TRADER_MARKET_WS_URL say otherwise, prints where its endpoints are, and on SIGINT/SIGTERM or at the
// end of --duration shuts down gracefully and prints a summary.
import { TraderApiMount } from './app/api-mount.js';
import { TraderApp } from './app/trader-app.js';
import { loadConfig } from './config/load-config.js';
import { isTraderError } from './errors.js';

async function main(): Promise<number> {
  let config: ReturnType<typeof loadConfig>;
  try {
    config = loadConfig({ argv: process.argv.slice(2) });
  } catch (e) {
    if (isTraderError(e)) {
      console.error(`trader: configuration error${e.field ? ` in ${e.field}` : ''}: ${e.message}`);
      return 2;
    }
    throw e;
  }
  const mount = new TraderApiMount();
  const app = new TraderApp({ config, httpFallback: mount.fallback });
  console.log(`trader: starting (${config.env}), symbols ${config.symbols.join(', ')}`);
  const endpoints = await app.start();
  await mount.start(app, { secret: process.env.TRADER_JWT_SECRET ?? '', redisUrl: config.cache.redisUrl });
  console.log(
    `trader: replayed ${app.replay.entries} journal entries (${app.replay.orders} orders, ${app.replay.fills} fills, ${app.replay.reconciledCancelled} open orders reconciled as cancelled)`,
  );
  console.log(
    `trader: health    ${endpoints.health}  (readiness ${endpoints.readiness}, liveness ${endpoints.http}/health/liveness)`,
  );
  console.log(`trader: metrics   ${endpoints.metrics}`);
  console.log(
    `trader: dashboard ${endpoints.http}/${mount.localAdminToken ? `?token=${mount.localAdminToken}` : ''}  (API ${endpoints.http}/api, OpenAPI ${endpoints.http}/api/openapi.json, streams ${endpoints.http.replace(/^http/, 'ws')}/api/stream)`,
  );
  if (mount.localAdminToken) {
    console.log(
      'trader: no TRADER_JWT_SECRET set: the API uses a random secret for this run, and the link above holds an admin token',
    );
  }
  console.log(`trader: market    ${endpoints.marketWs} (snapshots ${endpoints.marketRest})`);
  console.log(`trader: database  ${endpoints.database}`);
  console.log(`trader: cache     ${endpoints.cache}`);
  console.log(`trader: journal   ${endpoints.journal}`);
  console.log(`trader: running${config.durationSec > 0 ? ` for ${config.durationSec} s` : ' (Ctrl-C to stop)'}`);

  const done = new Promise<string>((resolve) => {
    if (config.durationSec > 0) setTimeout(() => resolve('duration elapsed'), config.durationSec * 1000);
    process.once('SIGINT', () => resolve('SIGINT'));
    process.once('SIGTERM', () => resolve('SIGTERM'));
  });
  const reason = await done;
  console.log(`trader: stopping (${reason})`);
  const summary = app.summary();
  await mount.close();
  await app.stop(reason);
  console.log(`trader: summary ${JSON.stringify(summary, null, 2)}`);
  return 0;
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    console.error('trader: failed to start:', e instanceof Error ? e.message : e);
    process.exit(1);
  },
);
