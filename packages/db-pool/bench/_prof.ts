import { measureThroughput, serviceUrls } from '@cryptoscalp/testkit';
import pg from 'pg';
import { PoolManager } from '../src/index.js';
const url = serviceUrls.postgres;
const which = process.env.WHICH;
let op: (i: number) => Promise<unknown>;
let close: () => Promise<void>;
if (which === 'raw') {
  const raw = new pg.Pool({ connectionString: url, max: 10 });
  op = (i) => raw.query('select $1::int as n', [i]);
  close = () => raw.end();
} else {
  const a = new PoolManager({ primary: { connectionString: url }, pool: { max: 10 }, prepare: which === 'prep' });
  op = (i) => a.query('select $1::int as n', [i]);
  close = () => a.close();
}
const r = await measureThroughput(op, { concurrency: 64, durationMs: 3000, warmupMs: 300 });
console.log(which, r.ops, Math.round(r.opsPerSec));
await close();
