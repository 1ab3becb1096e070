/**
 * @cryptoscalp/monitoring in one file: metrics from a component's stats() and channels, a bounded
 * scrape, an alert rule that fires and resolves, delivered to a signed webhook (a receiver in this
 * same process verifies it), trading metrics and a logger with correlation ids.
 *
 *   npm run build -w @cryptoscalp/monitoring && npx tsx examples/monitoring/index.ts
 */
import diagnostics_channel from 'node:diagnostics_channel';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  createLogger,
  DB_QUERY_CHANNEL,
  Monitoring,
  verifyWebhookSignature,
  WebhookNotifier,
  withCorrelationId,
} from '@cryptoscalp/monitoring';

const log = createLogger({ name: 'example', level: 'info' });
const SECRET = 'example-webhook-secret-0123456789';

// 1. A webhook receiver (your incident tool would be here): verifies the HMAC signature.
const received: string[] = [];
const receiver = createServer((req, res) => {
  let body = '';
  req.on('data', (c) => {
    body += c;
  });
  req.on('end', () => {
    const ok = verifyWebhookSignature(body, req.headers, SECRET);
    const payload = JSON.parse(body) as { status: string; alerts: { labels: Record<string, string> }[] };
    received.push(payload.status);
    log.info({ verified: ok, status: payload.status, alert: payload.alerts[0]?.labels.alertname }, 'webhook received');
    res.statusCode = ok ? 204 : 401;
    res.end();
  });
});
await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
const port = (receiver.address() as AddressInfo).port;

// 2. Monitoring with one rule: p99 query latency above 50 ms.
const monitoring = new Monitoring({
  alerting: {
    evaluationInterval: '200ms',
    rules: [
      {
        name: 'SlowQueries',
        condition: {
          type: 'quantile',
          metric: 'db_client_operation_duration_seconds',
          quantile: 0.99,
          window: '1s',
          op: '>',
          value: 0.05,
        },
        severity: 'warning',
        annotations: { summary: 'p99 {{value}}s on {{labels.host}}' },
      },
    ],
    notifiers: [new WebhookNotifier({ url: `http://127.0.0.1:${port}/alerts`, secret: SECRET })],
    routes: [{ notifiers: ['webhook'], groupWait: '100ms', groupInterval: '300ms' }],
  },
});

// 3. Any component with a name and stats() can be watched; here a stand-in for a PoolManager that
//    publishes its queries on the db tracing channel exactly as @cryptoscalp/db-pool does.
const query = diagnostics_channel.tracingChannel(DB_QUERY_CHANNEL);
let queries = 0;
const pool = {
  name: 'postgres',
  stats: () => ({ queries, pool: { total: 10, idle: 7, waiting: 0 } }),
  run(ms: number) {
    const ctx = {
      component: 'postgres',
      operation: 'query',
      statement: 'SELECT * FROM fills WHERE id = $1',
      role: 'read',
      host: '127.0.0.1:5432',
      rowCount: 0,
    };
    return query.tracePromise(async () => {
      await new Promise((r) => setTimeout(r, ms));
      queries++;
      ctx.rowCount = 1;
    }, ctx);
  },
};
monitoring.watch(pool);

// 4. Business metrics.
const trading = monitoring.trading();
trading.recordTrade({ strategy: 'scalper', symbol: 'BTCUSDT', side: 'buy', quantity: 0.01, price: 64_000 });
trading.recordTrade({
  strategy: 'scalper',
  symbol: 'BTCUSDT',
  side: 'sell',
  quantity: 0.01,
  price: 64_050,
  realizedPnl: 0.5,
  fee: 0.1,
});
trading.setEquity('scalper', 10_000.4);

await withCorrelationId('slow-phase', async () => {
  log.info('running slow queries (80 ms each)');
  for (let i = 0; i < 10; i++) await pool.run(80);
});
const deadline = Date.now() + 5_000;
while (!received.includes('firing') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
log.info({ active: monitoring.alerts.active().map((a) => `${a.name}:${a.state}`) }, 'alerts after slow phase');

await withCorrelationId('fast-phase', async () => {
  log.info('running fast queries (1 ms each)');
  for (let i = 0; i < 40; i++) await pool.run(1);
});
while (!received.includes('resolved') && Date.now() < deadline + 5_000) {
  await pool.run(1);
  await new Promise((r) => setTimeout(r, 50));
}

const text = await monitoring.metrics();
const interesting = text
  .split('\n')
  .filter((l) =>
    /^(db_client_operation_duration_seconds_count|cryptoscalp_stats_|cryptoscalp_trading_realized_pnl|cryptoscalp_alert_notifications_total)/.test(
      l,
    ),
  );
console.log(`\n--- ${text.split('\n').length} lines scraped; a few of them:\n${interesting.join('\n')}`);
console.log('\n--- alert history:');
for (const e of monitoring.alerts.history())
  console.log(`${new Date(e.time).toISOString()} ${e.type} ${e.alertname}${e.notifier ? ` -> ${e.notifier}` : ''}`);

await monitoring.close();
await new Promise((r) => receiver.close(r));
