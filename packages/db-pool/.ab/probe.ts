import pg from 'pg';

const A = (await import(process.env.A ?? './A/src/index.ts')) as typeof import('../src/index.js');
const B = (await import(process.env.B ?? '../src/index.ts')) as typeof import('../src/index.js');
const url = 'postgres://postgres@127.0.0.1:5432/test';
const sql = 'select $1::int as n';
const qo = process.env.T ? { timeoutMs: Number(process.env.T) } : undefined;
const raw = new pg.Pool({ connectionString: url, max: 10 });
const mk = (M: typeof A, prepare: boolean) =>
  new M.PoolManager({ primary: { connectionString: url }, pool: { max: 10 }, prepare });
const ap = mk(A, false),
  bp = mk(B, false),
  aq = mk(A, true),
  bq = mk(B, true);
const subjects: Record<string, (i: number) => Promise<unknown>> = {
  raw: (i) => raw.query(sql, [i]),
  Aplain: (i) => ap.query(sql, [i], qo),
  Bplain: (i) => bp.query(sql, [i], qo),
  Aprep: (i) => aq.query(sql, [i], qo),
  Bprep: (i) => bq.query(sql, [i], qo),
};
async function run(fn: (i: number) => Promise<unknown>, ms: number) {
  let n = 0;
  const end = Date.now() + ms;
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: Number(process.env.C ?? 64) }, async (_, w) => {
      while (Date.now() < end) {
        await fn(w);
        n++;
      }
    }),
  );
  const c = process.cpuUsage(c0);
  return { n, cpu: c.user + c.system, ms: performance.now() - t0 };
}
const rounds = Number(process.env.R ?? 6);
const keys = Object.keys(subjects);
const agg: Record<string, { n: number; cpu: number; ms: number }> = {};
for (const k of keys) {
  agg[k] = { n: 0, cpu: 0, ms: 0 };
  await run(subjects[k]!, 300);
}
for (let r = 0; r < rounds; r++)
  for (let j = 0; j < keys.length; j++) {
    const k = keys[(j + r) % keys.length]!;
    const x = await run(subjects[k]!, Number(process.env.MS ?? 1000));
    agg[k]!.n += x.n;
    agg[k]!.cpu += x.cpu;
    agg[k]!.ms += x.ms;
  }
const rq = agg.raw!.n / agg.raw!.ms;
for (const k of keys) {
  const v = agg[k]!;
  console.log(
    k.padEnd(7),
    'cpu µs/q',
    (v.cpu / v.n).toFixed(2),
    'q/s',
    Math.round((v.n / v.ms) * 1000),
    'vs raw',
    (v.n / v.ms / rq).toFixed(3),
  );
}
await raw.end();
for (const m of [ap, bp, aq, bq]) await m.close();
