import pg from 'pg';

const M = (await import(process.env.M ?? '../src/index.ts')) as typeof import('../src/index.js');
const url = 'postgres://postgres@127.0.0.1:5432/test';
const raw = new pg.Pool({ connectionString: url, max: 10 });
const db = new M.PoolManager({ primary: { connectionString: url }, pool: { max: 10 }, prepare: process.env.P === '1' });
const fn = process.env.RAW
  ? (i: number) => raw.query('select $1::int as n', [i])
  : (i: number) => db.query('select $1::int as n', [i]);
const end = Date.now() + 4000;
let n = 0;
await Promise.all(
  Array.from({ length: 64 }, async (_, w) => {
    while (Date.now() < end) {
      await fn(w);
      n++;
    }
  }),
);
console.log(n);
await db.close();
await raw.end();
