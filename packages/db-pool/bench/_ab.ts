import { measureThroughput, serviceUrls } from '@cryptoscalp/testkit';
import genericPool from 'generic-pool';
import pg from 'pg';
import { DEFAULTS } from '../src/defaults.js';
import { HostPool } from '../src/host-pool.js';
import { PoolManager } from '../src/index.js';
const url = serviceUrls.postgres;
const sql = 'select $1::int as n';
const raw = new pg.Pool({ connectionString: url, max: 10 });
const gp = genericPool.createPool<pg.Client>({ create: async () => { const c = new pg.Client({ connectionString: url }); await c.connect(); return c; }, destroy: async (c) => { await c.end(); } }, { max: 10, priorityRange: 3, fifo: false });
const hp = new HostPool({ connectionString: url }, { ...DEFAULTS.pool }, 0, 'x');
const ro = { priority: 0, deadlineAt: 0, timeoutMs: 0, signal: undefined, captureLsn: false };
const pmNoBreaker = new PoolManager({ primary: { connectionString: url }, prepare: false, breaker: { enabled: false } });
const pm = new PoolManager({ primary: { connectionString: url }, prepare: false });
const subjects: Record<string, (i: number) => Promise<unknown>> = {
  raw: (i) => raw.query(sql, [i]),
  gp: async (i) => { const c = await gp.acquire(0); try { return await c.query({ text: sql, values: [i] }); } finally { gp.release(c); } },
  hostpool: (i) => hp.run(sql, [i], undefined, ro),
  pmNoBreaker: (i) => pmNoBreaker.query(sql, [i]),
  pm: (i) => pm.query(sql, [i]),
};
const tot: Record<string, number> = {};
for (let round = 0; round < 4; round++) {
  const names = Object.keys(subjects);
  for (let k = 0; k < names.length; k++) {
    const n = names[(k + round) % names.length]!;
    const r = await measureThroughput(subjects[n]!, { concurrency: 64, durationMs: 800, warmupMs: 150 });
    tot[n] = (tot[n] ?? 0) + r.ops;
  }
}
console.log(Object.entries(tot).map(([k, v]) => `${k}=${(v / tot.raw!).toFixed(2)}`).join(' '));
await raw.end(); await gp.drain(); await gp.clear(); await hp.close(); await pm.close(); await pmNoBreaker.close();
