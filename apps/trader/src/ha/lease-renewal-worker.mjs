// Renews the engine lease from a thread of its own (see lease-renewal-thread.ts): a busy or stalled event loop of the
// engine (a journal replay, a burst of market data) then no longer delays the renewal's timer, its statement or the
// handling of its answer. Started (and connected) while the engine is a standby, so that neither the thread's start
// nor its connection fall in the first moments of a leadership. Plain JavaScript so it loads without a TypeScript
// loader in any runner.
import { parentPort, workerData } from 'node:worker_threads';
import pg from 'pg';

const { connectionString, table, group, holder, ttlMs, marginMs, intervalMs, shared } = workerData;
/** [0] valid until (monotonic µs, process.hrtime), [1] failed statements, [2] slowest statement (µs). */
const numbers = new BigInt64Array(shared, 0, 3);
/** [0] 0 idle, 1 renewing, 2 lost (a renewal was refused, or none succeeded within the validity), 3 stopped. */
const state = new Int32Array(shared, 24, 1);
const nowUs = () => process.hrtime.bigint() / 1000n;

const pool = new pg.Pool({ connectionString, max: 1, connectionTimeoutMillis: ttlMs, query_timeout: ttlMs });
pool.on('error', () => undefined);
let timer;
let epoch = 0;
let finished = false;

// Connected ahead of the first renewal (an idle connection is kept while the pool lives); the engine hands the
// renewals over only once this answered, and renews on its own loop until then.
const connect = () =>
  pool.query('select 1').then(
    () => parentPort.postMessage({ type: 'ready' }),
    () => setTimeout(connect, 500),
  );
void connect();
const keepAlive = setInterval(() => pool.query('select 1').catch(() => undefined), 5_000);

async function renew() {
  if (Atomics.load(state, 0) !== 1) return finish();
  const sentAt = nowUs();
  try {
    const { rows } = await pool.query(
      `update ${table} set expires_at = now() + $3 * interval '1 millisecond'
       where lease_group = $1 and holder = $2 and epoch = $4::bigint and expires_at > now()
       returning epoch`,
      [group, holder, ttlMs, epoch],
    );
    const took = nowUs() - sentAt;
    if (took > Atomics.load(numbers, 2)) Atomics.store(numbers, 2, took);
    if (rows.length === 0) Atomics.compareExchange(state, 0, 1, 2);
    else Atomics.store(numbers, 0, sentAt + BigInt((ttlMs - marginMs) * 1000));
    parentPort.postMessage({ type: 'renewed', error: undefined });
  } catch (e) {
    Atomics.add(numbers, 1, 1n);
    if (nowUs() >= Atomics.load(numbers, 0)) Atomics.compareExchange(state, 0, 1, 2);
    parentPort.postMessage({ type: 'renewed', error: String(e?.message ?? e) });
  }
  if (Atomics.load(state, 0) !== 1) return finish();
  // The next attempt `intervalMs` after the start of this one: a slow statement does not stretch the rate.
  schedule(Number(nowUs() - sentAt) / 1000);
}

function schedule(elapsedMs) {
  timer = setTimeout(() => void renew(), Math.max(0, intervalMs - elapsedMs));
}

async function finish() {
  if (finished) return;
  finished = true;
  clearTimeout(timer);
  clearInterval(keepAlive);
  await pool.end().catch(() => undefined);
  parentPort.close();
}

parentPort.on('message', (m) => {
  if (m?.type === 'renew') {
    // The lease was acquired at `acquiredAtUs` (when its statement was sent): renew `intervalMs` after that.
    epoch = m.epoch;
    Atomics.compareExchange(state, 0, 0, 1);
    schedule(Number(nowUs() - BigInt(m.acquiredAtUs)) / 1000);
  } else if (m?.type === 'stop') {
    Atomics.store(state, 0, Atomics.load(state, 0) === 2 ? 2 : 3);
    void finish();
  }
});
