import net from 'node:net';
import { measureThroughput, serviceUrls } from '@cryptoscalp/testkit';
import pg from 'pg';
import { PoolManager } from '../src/index.js';
const url = serviceUrls.postgres;
let queries = 0;
const oq = pg.Client.prototype.query;
(pg.Client.prototype as any).query = function (...a: any[]) { queries++; return (oq as any).apply(this, a); };
const sockets = new Set<net.Socket>();
const oc = net.Socket.prototype.connect;
(net.Socket.prototype as any).connect = function (...a: any[]) { sockets.add(this); return (oc as any).apply(this, a); };
const bytes = () => [...sockets].reduce((s, x) => s + x.bytesWritten + x.bytesRead, 0);
async function m(name: string, op: (i: number) => Promise<unknown>) {
  queries = 0; const b0 = bytes();
  const r = await measureThroughput(op, { concurrency: 64, durationMs: 1500, warmupMs: 0 });
  console.log(name, Math.round(r.opsPerSec), 'client.query/op', (queries / r.ops).toFixed(2), 'bytes/op', ((bytes() - b0) / r.ops).toFixed(0), 'sockets', sockets.size);
}
const raw = new pg.Pool({ connectionString: url, max: 10 });
await m('raw', (i) => raw.query('select $1::int as n', [i]));
const a = new PoolManager({ primary: { connectionString: url }, pool: { max: 10 }, prepare: false });
await m('pm', (i) => a.query('select $1::int as n', [i]));
const c = new PoolManager({ primary: { connectionString: url }, pool: { max: 10 }, prepare: true });
await m('prep', (i) => c.query('select $1::int as n', [i]));
await raw.end(); await a.close(); await c.close();
