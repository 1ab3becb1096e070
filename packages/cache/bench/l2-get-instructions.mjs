/**
 * L2 `get` driver for instruction counts (issue 13): N gets with L1 off against one built cache (`dist/index.js`
 * of this tree or of another tree's worktree), after 20,000 warm-up gets, 1,000 fixed keys, 64 gets per tick (one
 * MGET batch). Plain JavaScript so that a run under valgrind counts the cache and not a TypeScript loader; no
 * `reportBench`, so `npm run bench` leaves it out.
 *
 *   valgrind --tool=callgrind node packages/cache/bench/l2-get-instructions.mjs <dist/index.js> <redis port> <N>
 *   node packages/cache/bench/l2-get-instructions.mjs <dist/index.js> <redis port> <N> cpu   # CPU µs per get
 *
 * Instructions per get = (Ir at N=25,000 − Ir at N=5,000) / 20,000, which cancels node's start-up and the warm-up.
 * Redis is the caller's own redis-server on its own port (a shared one would mix in other jobs' keys).
 */
const [dist, port, nArg, mode = 'plain'] = process.argv.slice(2);
if (dist === undefined || port === undefined || nArg === undefined) {
  throw new TypeError('usage: l2-get-instructions.mjs <dist/index.js> <redis port> <N> [cpu]');
}
const { CacheManager } = await import(dist);
const N = Number(nArg);
const KEYS = 1_000;
const BATCH = 64;
const keys = Array.from({ length: KEYS }, (_, i) => `ETH-USD:${i}`);
const value = { bid: 3_000.25, ask: 3_000.5, ts: 1_700_000_000_000 };
// Own namespace per process (same length, so the same key sizes); a generous command timeout because under
// valgrind the process runs ~50x slower and the breaker would otherwise open and turn every get into a miss.
const cache = new CacheManager({
  redis: { url: `redis://127.0.0.1:${port}` },
  namespace: `h11-${String(process.pid).padStart(7, '0')}`,
  l1: false,
  ttlMs: 600_000,
  commandTimeoutMs: 60_000,
});
for (const k of keys) await cache.set(k, value);

async function run(n) {
  let misses = 0;
  for (let i = 0; i < n; i += BATCH) {
    const pending = [];
    for (let j = 0; j < BATCH && i + j < n; j++) pending.push(cache.get(keys[(i + j) % KEYS]));
    for (const v of await Promise.all(pending)) if (v === undefined) misses++;
  }
  // A miss means the breaker opened or the keys are gone: the count would not measure the L2 hit path.
  if (misses > 0) throw new Error(`${misses} misses of ${n} gets`);
}

await run(20_000);
const cpu0 = process.cpuUsage();
const t0 = process.hrtime.bigint();
await run(N);
const cpu = process.cpuUsage(cpu0);
const wallMs = Number(process.hrtime.bigint() - t0) / 1e6;
if (mode === 'cpu') console.log(JSON.stringify({ N, cpuUsPerGet: (cpu.user + cpu.system) / N, wallMs }));
const { errors } = cache.stats();
if (errors.l2 > 0 || errors.timeout > 0) throw new Error(`L2 errors during the run: ${JSON.stringify(errors)}`);
await cache.close();
process.exit(0);
