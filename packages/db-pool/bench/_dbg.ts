import { freePort } from '@cryptoscalp/testkit';
import { PoolManager } from '../src/index.js';
const port = await freePort();
const db = new PoolManager({
  primary: { connectionString: `postgres://postgres@127.0.0.1:${port}/test` },
  pool: { connectTimeoutMs: 500 }, retry: { maxAttempts: 1 },
  breaker: { volumeThreshold: 3, resetTimeoutMs: 60_000 }, failover: { timeoutMs: 200, probeIntervalMs: 50 },
});
for (let i = 0; i < 6; i++) { const t = Date.now(); const e = await db.query('select 1').catch((e) => e); console.log(i, Date.now() - t, e.code, e.message); }
await db.close();
