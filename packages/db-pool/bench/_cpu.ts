import { measureThroughput, serviceUrls } from '@cryptoscalp/testkit';
import genericPool from 'generic-pool';
import pg from 'pg';
import { DEFAULTS } from '../src/defaults.js';
import { HostPool } from '../src/host-pool.js';
import { PoolManager } from '../src/index.js';

const url = serviceUrls.postgres;
const opts = { concurrency: 64, durationMs: 1000, warmupMs: 200 };
const sql = 'select $1::int as n';
const raw = new pg.Pool({ connectionString: url, max: 10 });
const a = new PoolManager({
  primary: { connectionString: url },
  pool: { max: 10 },
  prepare: false,
  breaker: { enabled: false },
});
const hp = new HostPool({ connectionString: url }, { ...DEFAULTS.pool }, 0, 'x');
const ro = { priority: 0, deadlineAt: 0, timeoutMs: 0, signal: undefined, captureLsn: false };
const gp = genericPool.createPool<pg.Client>(
  {
    create: async () => {
      const c = new pg.Client({ connectionString: url });
      await c.connect();
      return c;
    },
    destroy: async (c) => {
      await c.end();
    },
  },
  { max: 10, priorityRange: 3 },
);
const gpop = async (i: number) => {
  const c = await gp.acquire(0);
  try {
    return await c.query({ text: sql, values: [i] });
  } finally {
    gp.release(c);
  }
};
const res: Record<string, number[]> = {};
async function cpu(name: string, op: (i: number) => Promise<unknown>) {
  const u0 = process.cpuUsage();
  const r = await measureThroughput(op, opts);
  const u = process.cpuUsage(u0);
  (res[name] ??= []).push((u.user + u.system) / ((r.opsPerSec * (opts.durationMs + opts.warmupMs)) / 1000));
}
for (let round = 0; round < 3; round++) {
  await cpu('raw', (i) => raw.query(sql, [i]));
  await cpu('gp', gpop);
  await cpu('hostpool', (i) => hp.run(sql, [i], undefined, ro));
  await cpu('pm-nobreaker', (i) => a.query(sql, [i]));
}
for (const [k, v] of Object.entries(res)) console.log(k, v.map((x) => x.toFixed(1)).join(' '));
await raw.end();
await a.close();
await hp.close();
await gp.drain();
await gp.clear();
