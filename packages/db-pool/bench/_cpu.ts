import { serviceUrls } from '@cryptoscalp/testkit';
import pg from 'pg';
import { PoolManager } from '@cryptoscalp/db-pool';
const url = serviceUrls.postgres;
const sql = 'select $1::int as n';
const raw = new pg.Pool({ connectionString: url, max: 10 });
const mk = (o: object) => new PoolManager({ primary: { connectionString: url }, ...o });
const subjects: Record<string, [(i: number) => Promise<unknown>, () => Promise<unknown>]> = {};
const pmA = mk({ prepare: false }); subjects.pm = [(i) => pmA.query(sql, [i]), () => pmA.close()];
const pmB = mk({ prepare: false, breaker: { enabled: false } }); subjects.pmNoBreaker = [(i) => pmB.query(sql, [i]), () => pmB.close()];
const pmC = mk({ prepare: true }); subjects.pmPrep = [(i) => pmC.query(sql, [i]), () => pmC.close()];
subjects.raw = [(i) => raw.query(sql, [i]), () => raw.end()];
subjects.rawNamed = [(i) => raw.query({ name: 'n', text: sql, values: [i] }), async () => {}];
const N = 20000;
async function run(op: (i: number) => Promise<unknown>) {
  let next = 0;
  const u0 = process.cpuUsage();
  await Promise.all(Array.from({ length: 64 }, async () => { while (next < N) await op(next++); }));
  const u = process.cpuUsage(u0);
  return [u.user / N, u.system / N];
}
const res: Record<string, number[][]> = {};
for (const [, [op]] of Object.entries(subjects)) await run(op);
for (let r = 0; r < 4; r++) for (const [name, [op]] of Object.entries(subjects)) (res[name] ??= []).push(await run(op));
for (const [name, v] of Object.entries(res)) {
  const u = v.map((x) => x[0]!).sort((a, b) => a - b); const s = v.map((x) => x[1]!).sort((a, b) => a - b);
  console.log(name.padEnd(12), 'user us/op median', u[2]!.toFixed(1), 'min', u[0]!.toFixed(1), ' sys median', s[2]!.toFixed(1));
}
for (const [, [, close]] of Object.entries(subjects)) await close();
