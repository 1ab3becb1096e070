import diagnosticsChannel from 'node:diagnostics_channel';
import { freePort, type PostgresCluster, startPostgresCluster, uniqueName, waitFor } from '@cryptoscalp/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FAILOVER_CHANNEL, type FailoverEvent, isCommitUnknownError, PoolManager } from '../../src/index.js';

/**
 * A disposable primary with a synchronous streaming replica. The failover test kills the
 * primary, so it runs last.
 */
describe('primary + synchronous streaming replica', () => {
  let primary: PostgresCluster;
  let replica: PostgresCluster;
  let pLabel: string;
  let rLabel: string;

  beforeAll(async () => {
    primary = await startPostgresCluster({ settings: { synchronous_standby_names: '*' } });
    replica = await startPostgresCluster({ replicaOf: primary });
    pLabel = `127.0.0.1:${primary.port}`;
    rLabel = `127.0.0.1:${replica.port}`;
    await waitFor(async () => (await primary.psql('select count(*) from pg_stat_replication')) === '1', {
      timeoutMs: 30_000,
      what: 'replica streaming',
    });
    await primary.psql('create table fills (id bigint primary key, note text)');
  });

  afterAll(async () => {
    await replica?.stop();
    await primary?.stop();
  });

  const manager = (extra: Partial<ConstructorParameters<typeof PoolManager>[0]> = {}) =>
    new PoolManager({
      name: uniqueName('dbr'),
      primary: { connectionString: primary.url },
      replicas: [{ connectionString: replica.url }],
      replica: { maxReplicaLagMs: 500, lagCheckIntervalMs: 100 },
      ...extra,
    });

  it('sends reads to the replica and writes to the primary', async () => {
    const db = manager();
    try {
      await db.checkReplicas();
      const w = await db.query('insert into fills values ($1, $2)', [1, 'a']);
      expect(w.host).toBe(pLabel);
      expect(w.role).toBe('write');
      await waitFor(
        async () => (await db.query('select 1 from fills where id = 1', [], { role: 'read' })).rowCount === 1,
      );
      const r = await db.query<{ recovery: boolean }>('select pg_is_in_recovery() as recovery', [], { role: 'read' });
      expect(r.host).toBe(rLabel);
      expect(r.role).toBe('read');
      expect(r.rows[0]?.recovery).toBe(true);
      const health = await db.healthCheck();
      expect(health.status).toBe('pass');
      expect(health.details?.hosts).toEqual([
        expect.objectContaining({ host: pLabel, role: 'primary', status: 'pass' }),
        expect.objectContaining({ host: rLabel, role: 'replica', status: 'pass', reachable: true }),
      ]);
      const stats = db.stats() as {
        readsOnReplica: number;
        hosts: Record<string, { role: string; routable?: boolean }>;
      };
      expect(stats.readsOnReplica).toBeGreaterThan(0);
      expect(stats.hosts['replicas[0]']).toMatchObject({ role: 'replica', routable: true });
    } finally {
      await db.close();
    }
  });

  it('balances reads across replicas and routes around an unreachable one', async () => {
    const dead = await freePort();
    const db = new PoolManager({
      name: uniqueName('dbrr'),
      primary: { connectionString: primary.url },
      // The same replica reached as 127.0.0.1 and as localhost counts as two hosts; the third is down.
      replicas: [
        { connectionString: `postgres://postgres@127.0.0.1:${dead}/postgres` },
        { connectionString: replica.url },
        { connectionString: `postgres://postgres@localhost:${replica.port}/postgres` },
      ],
      pool: { connectTimeoutMs: 1_000 },
      replica: { balance: 'round-robin', lagCheckIntervalMs: 60_000 },
    });
    try {
      // Before any lag check: a read that lands on the dead replica is retried elsewhere.
      const first = await db.query('select 1', [], { role: 'read' });
      expect(first.host).not.toBe(`127.0.0.1:${dead}`);
      await db.checkReplicas();
      const hosts: string[] = [];
      for (let i = 0; i < 10; i++) hosts.push((await db.query('select 1', [], { role: 'read' })).host);
      expect(hosts.filter((h) => h === rLabel)).toHaveLength(5);
      expect(hosts.filter((h) => h === `localhost:${replica.port}`)).toHaveLength(5);
      const stats = db.stats() as { hosts: Record<string, { routable: boolean }> };
      expect(stats.hosts['replicas[0]']?.routable).toBe(false);
      const health = await db.healthCheck();
      expect(health.status).toBe('warn');
      expect(health.output).toContain(`127.0.0.1:${dead}`);
    } finally {
      await db.close();
    }
  });

  it('least-outstanding spreads concurrent reads', async () => {
    const db = new PoolManager({
      name: uniqueName('dblo'),
      primary: { connectionString: primary.url },
      replicas: [
        { connectionString: replica.url },
        { connectionString: `postgres://postgres@localhost:${replica.port}/postgres` },
      ],
      replica: { lagCheckIntervalMs: 60_000 },
    });
    try {
      await db.checkReplicas();
      const results = await Promise.all(
        Array.from({ length: 20 }, () => db.query('select pg_sleep(0.02)', [], { role: 'read' })),
      );
      const counts = new Map<string, number>();
      for (const r of results) counts.set(r.host, (counts.get(r.host) ?? 0) + 1);
      expect(counts.size).toBe(2);
      for (const c of counts.values()) expect(c).toBeGreaterThanOrEqual(5);
    } finally {
      await db.close();
    }
  });

  it('skips a replica whose replay lags and falls back to the primary', async () => {
    const db = manager();
    try {
      await db.checkReplicas();
      expect((await db.query('select 1', [], { role: 'read' })).host).toBe(rLabel);
      await replica.psql('select pg_wal_replay_pause()');
      try {
        let id = 100;
        await waitFor(
          async () => {
            await db.query('insert into fills values ($1, $2)', [id++, 'lag']);
            await db.checkReplicas();
            return (await db.query('select 1', [], { role: 'read' })).host === pLabel;
          },
          { timeoutMs: 20_000, intervalMs: 100, what: 'reads moved to the primary' },
        );
        const stats = db.stats() as { hosts: Record<string, { routable: boolean; lagMs: number }> };
        expect(stats.hosts['replicas[0]']?.routable).toBe(false);
        expect(stats.hosts['replicas[0]']?.lagMs).toBeGreaterThan(500);
        expect((await db.healthCheck()).status).toBe('warn');
      } finally {
        await replica.psql('select pg_wal_replay_resume()');
      }
      await waitFor(
        async () => {
          await db.checkReplicas();
          return (await db.query('select 1', [], { role: 'read' })).host === rLabel;
        },
        { timeoutMs: 20_000, intervalMs: 100, what: 'reads back on the replica' },
      );
    } finally {
      await db.close();
    }
  });

  it('read-your-writes: a session avoids replicas behind its last write', async () => {
    const db = manager({ replica: { maxReplicaLagMs: 600_000, lagCheckIntervalMs: 100 } });
    try {
      await db.checkReplicas();
      await replica.psql('select pg_wal_replay_pause()');
      try {
        const session = db.session();
        await session.query('insert into fills values ($1, $2)', [500, 'ryw']);
        expect(session.lastWriteLsn).toMatch(/^[0-9A-F]+\/[0-9A-F]+$/);
        await db.checkReplicas();
        const mine = await session.query('select note from fills where id = 500', [], { role: 'read' });
        expect(mine.host).toBe(pLabel);
        expect(mine.rowCount).toBe(1);
        // Without the session, the (paused, but within its lag limit) replica serves the read: the row is not there yet.
        const other = await db.query('select note from fills where id = 500', [], { role: 'read' });
        expect(other.host).toBe(rLabel);
        expect(other.rowCount).toBe(0);
        await replica.psql('select pg_wal_replay_resume()');
        await waitFor(
          async () => {
            await db.checkReplicas();
            const r = await session.query('select note from fills where id = 500', [], { role: 'read' });
            return r.host === rLabel && r.rowCount === 1;
          },
          { timeoutMs: 20_000, intervalMs: 100, what: 'session reads back on the caught-up replica' },
        );
        await session.transaction(async (tx) => {
          await tx.query('insert into fills values ($1, $2)', [501, 'ryw-tx']);
        });
        const afterTx = await session.query('select 1 from fills where id = 501', [], { role: 'read' });
        expect(afterTx.rowCount).toBe(1);
      } finally {
        await replica.psql('select pg_wal_replay_resume()').catch(() => undefined);
      }
    } finally {
      await db.close();
    }
  });

  it('fails over to the promoted replica under write load without losing acknowledged writes', async () => {
    const events: FailoverEvent[] = [];
    const onFailover = (m: unknown) => {
      events.push(m as FailoverEvent);
    };
    diagnosticsChannel.subscribe(FAILOVER_CHANNEL, onFailover);
    const db = new PoolManager({
      name: uniqueName('dbf'),
      primary: [{ connectionString: primary.url }, { connectionString: replica.url }],
      pool: { max: 4, connectTimeoutMs: 1_000 },
      retry: { maxAttempts: 5, budgetMinPerSec: 100 },
      breaker: { enabled: false },
      failover: { probeIntervalMs: 100, timeoutMs: 30_000 },
    });
    try {
      await db.query('create table acked (id bigint primary key, writer int)');
      const acked = new Set<number>();
      const unknown = new Set<number>();
      const otherErrors: unknown[] = [];
      let afterFailover = 0;
      let killed = false;
      let stop = false;
      let next = 0;
      const writer = async (w: number) => {
        while (!stop) {
          const id = next++;
          try {
            await db.query('insert into acked values ($1, $2)', [id, w]);
            acked.add(id);
            if (killed && db.stats().primary === rLabel) afterFailover++;
          } catch (error) {
            if (isCommitUnknownError(error)) unknown.add(id);
            else otherErrors.push(error);
          }
        }
      };
      const writers = Array.from({ length: 8 }, (_, w) => writer(w));
      await waitFor(() => acked.size >= 200, { timeoutMs: 20_000, what: 'writes before the kill' });
      await primary.kill();
      killed = true;
      await replica.promote();
      await waitFor(() => afterFailover >= 200, { timeoutMs: 30_000, what: 'writes after the failover' });
      stop = true;
      await Promise.all(writers);

      expect(db.stats().primary).toBe(rLabel);
      expect(events.some((e) => e.from === pLabel && e.to === rLabel)).toBe(true);
      // Every write acknowledged to a caller is on the new primary.
      const { rows } = await db.query<{ id: string }>('select id from acked');
      const present = new Set(rows.map((r) => Number(r.id)));
      const missing = [...acked].filter((id) => !present.has(id));
      expect(missing).toEqual([]);
      // Writes with an unknown outcome were reported as such, never silently retried; the others failed cleanly.
      for (const id of unknown) expect(acked.has(id)).toBe(false);
      expect(otherErrors.filter((e) => !(e as { code?: string }).code?.startsWith('E_DB_'))).toEqual([]);
      expect(present.size).toBeGreaterThanOrEqual(acked.size);
      expect(present.size).toBeLessThanOrEqual(acked.size + unknown.size);
    } finally {
      diagnosticsChannel.unsubscribe(FAILOVER_CHANNEL, onFailover);
      await db.close();
    }
  });
});
