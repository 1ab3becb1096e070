// How long a lease renewal takes on a loaded machine, and where the time goes: two CPU burners (`node -e
// 'for(;;){}'`, started and stopped by PID here), a journal writer's transactions taking the lease row `for share`
// just before their commit (on a pool of their own, as in the engine), and a busy event loop in this process. The
// renewal's time is split into the timer's lateness (event loop), the statement's round trip, and the time the
// statement waited for a lock (from pg_locks). Local PostgreSQL, own schema.
import { type ChildProcess, spawn } from 'node:child_process';
import { loadavg } from 'node:os';
import { serviceUrls, uniqueName } from '@cryptoscalp/testkit';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { EngineLease } from '../../src/ha/engine-lease.js';

const schema = uniqueName('trader_lease_load');
const admin = new pg.Pool({ connectionString: serviceUrls.postgres, max: 2 });
afterAll(async () => {
  await admin.query(`drop schema if exists ${schema} cascade`);
  await admin.end();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** How long the simulated journal writer holds the fence's lock before its commit. */
const HOLD_MS = 500;

function burners(n: number): ChildProcess[] {
  return Array.from({ length: n }, () => spawn(process.execPath, ['-e', 'for(;;){}'], { stdio: 'ignore' }));
}
async function stopAll(children: ChildProcess[]): Promise<void> {
  for (const c of children) {
    if (c.exitCode !== null || c.signalCode !== null) continue;
    c.kill('SIGKILL');
    await new Promise((r) => c.once('exit', r));
  }
}

interface Sample {
  lateMs: number;
  statementMs: number;
}

/** Renews every `intervalMs` for `durationMs` as the engine's loop does; each renewal's timer lateness and time. */
async function renewals(lease: EngineLease, intervalMs: number, durationMs: number): Promise<Sample[]> {
  const samples: Sample[] = [];
  const end = performance.now() + durationMs;
  while (performance.now() < end) {
    const due = performance.now() + intervalMs;
    await new Promise<void>((r) => setTimeout(r, intervalMs));
    const t0 = performance.now();
    const state = await lease.tick();
    samples.push({ lateMs: t0 - due, statementMs: performance.now() - t0 });
    if (state !== 'active') throw new Error(`lease ${state}`);
  }
  return samples;
}

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? 0;
};
const fmt = (s: Sample[]) => {
  const total = s.map((x) => x.lateMs + x.statementMs);
  return `n=${s.length} total p50 ${pct(total, 50).toFixed(0)} max ${Math.max(...total).toFixed(0)} ms; timer late p50 ${pct(
    s.map((x) => x.lateMs),
    50,
  ).toFixed(0)} max ${Math.max(...s.map((x) => x.lateMs)).toFixed(0)}; statement p50 ${pct(
    s.map((x) => x.statementMs),
    50,
  ).toFixed(0)} max ${Math.max(...s.map((x) => x.statementMs)).toFixed(0)}`;
};

describe('lease renewal under load', () => {
  it('measures renewals idle, with CPU burners, and with a writer and a busy event loop', async () => {
    const leasePool = new pg.Pool({ connectionString: serviceUrls.postgres, max: 2 });
    const writerPool = new pg.Pool({ connectionString: serviceUrls.postgres, max: 2 });
    const children: ChildProcess[] = [];
    let writing = false;
    let busy: NodeJS.Timeout | undefined;
    try {
      const lease = new EngineLease({
        db: { query: async (t, p) => ({ rows: (await leasePool.query(t, p)).rows }) },
        schema,
        group: 'g',
        holder: 'h',
        ttlMs: 60_000,
      });
      await lease.prepare();
      await admin.query(`create table ${schema}.rows (id bigserial primary key, body text)`);
      expect(await lease.tick()).toBe('active');
      const fence = lease.fence();
      const idle = await renewals(lease, 100, 3_000);
      children.push(...burners(2));
      await sleep(500);
      const burn = await renewals(lease, 100, 5_000);
      // The engine's own work on the same event loop: 20 ms of synchronous work every 50 ms.
      busy = setInterval(() => {
        const until = performance.now() + 20;
        while (performance.now() < until) JSON.stringify({ a: Math.random() });
      }, 50);
      // The journal writer: batches of 500 rows, the fence last, then the commit after HOLD_MS (what a slow commit
      // or a stalled event loop between the fence and the commit looks like), back to back. First with the lock the
      // fence took before (`for share`), then with the lease's fence now (`for key share`).
      const writer = (takeFence: (c: pg.PoolClient) => Promise<unknown>) => {
        writing = true;
        return (async () => {
          let batches = 0;
          while (writing) {
            const c = await writerPool.connect();
            try {
              await c.query('begin');
              await c.query(`insert into ${schema}.rows (body) select repeat('x', 200) from generate_series(1, 500)`);
              await takeFence(c);
              await sleep(HOLD_MS);
              await c.query('commit');
              batches++;
            } finally {
              c.release();
            }
          }
          return batches;
        })();
      };
      const before = writer((c) => c.query(`select epoch from ${lease.table} where lease_group = 'g' for share`));
      const shareLock = await renewals(lease, 100, 5_000);
      writing = false;
      const beforeBatches = await before;
      const after = writer((c) => fence({ query: async (t, p) => ({ rows: (await c.query(t, p)).rows }) }));
      const keyShareLock = await renewals(lease, 100, 5_000);
      writing = false;
      const afterBatches = await after;
      clearInterval(busy);
      console.log(
        `LEASE_LOAD (load ${loadavg()
          .map((l) => l.toFixed(1))
          .join(
            ' ',
          )})\n  idle: ${fmt(idle)}\n  2 burners: ${fmt(burn)}\n  2 burners + busy loop + writer holding the fence ${HOLD_MS} ms, ` +
          `for share (before, ${beforeBatches} batches): ${fmt(shareLock)}\n  same, for key share (now, ${afterBatches} batches): ${fmt(keyShareLock)}`,
      );
      const p50 = (xs: Sample[]) =>
        pct(
          xs.map((x) => x.statementMs),
          50,
        );
      // Before, a renewal queued behind the writer's lock about half the time; now it waits for nothing.
      expect(Math.max(...shareLock.map((x) => x.statementMs))).toBeGreaterThan(HOLD_MS / 2);
      expect(p50(keyShareLock)).toBeLessThan(p50(shareLock));
      expect(Math.max(...keyShareLock.map((x) => x.statementMs))).toBeLessThan(HOLD_MS);
    } finally {
      writing = false;
      clearInterval(busy);
      await stopAll(children);
      await leasePool.end();
      await writerPool.end();
    }
  }, 60_000);
});
