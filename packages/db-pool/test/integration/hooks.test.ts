import diagnosticsChannel from 'node:diagnostics_channel';
import { freePort, serviceUrls, uniqueName, waitFor } from '@cryptoscalp/testkit';
import { describe, expect, expectTypeOf, it } from 'vitest';
import {
  CONNECTION_ERROR_CHANNEL,
  type ConnectionErrorEvent,
  type ConnectWaitEvent,
  FAILOVER_CHANNEL,
  type FailoverEvent,
  type Hook,
  PoolManager,
  REPLICA_CHANNEL,
  type ReplicaStateEvent,
  SLOW_QUERY_CHANNEL,
  type SlowQueryEvent,
} from '../../src/index.js';
import { admin } from './helpers.js';

/** Collects what a channel publishes for one component while `fn` runs. */
async function onChannel<T extends { component: string }>(
  channel: string,
  component: string,
  fn: (seen: T[]) => Promise<void>,
): Promise<T[]> {
  const seen: T[] = [];
  const listener = (message: unknown) => {
    if ((message as T).component === component) seen.push(message as T);
  };
  diagnosticsChannel.subscribe(channel, listener);
  try {
    await fn(seen);
  } finally {
    diagnosticsChannel.unsubscribe(channel, listener);
  }
  return seen;
}

describe('PoolManager hooks against the local PostgreSQL', () => {
  it('onSlowQuery delivers the channel payload; a throwing listener is counted, dispose is idempotent', async () => {
    const name = uniqueName('dbhook');
    const db = new PoolManager({ name, primary: { connectionString: serviceUrls.postgres }, slowQueryMs: 50 });
    expectTypeOf(db.onSlowQuery).toEqualTypeOf<Hook<SlowQueryEvent>>();
    const fromHook: SlowQueryEvent[] = [];
    try {
      const channel = await onChannel<SlowQueryEvent>(SLOW_QUERY_CHANNEL, name, async () => {
        db.onSlowQuery(() => {
          throw new Error('listener bug');
        });
        const sub = db.onSlowQuery((event) => fromHook.push(event));
        const r = await db.query('select 1 as v from pg_sleep(0.08)');
        expect(r.rows).toEqual([{ v: 1 }]);
        sub.dispose();
        sub.dispose();
        await db.query('select 2 as v from pg_sleep(0.08)');
      });
      expect(channel).toHaveLength(2);
      expect(fromHook).toEqual([channel[0]]);
      expect(fromHook[0]).toMatchObject({ component: name, role: 'write', host: '127.0.0.1:5432' });
      // Both slow queries reached the throwing listener, which is still subscribed.
      expect(db.stats()).toMatchObject({ hookListenerErrors: 2, slowQueries: 2 });
    } finally {
      await db.close();
    }
  });

  it('onReplicaStateChange reports a "replica" that is not in recovery as unroutable', async () => {
    const name = uniqueName('dbhook');
    const fromHook: ReplicaStateEvent[] = [];
    let db: PoolManager | undefined;
    try {
      const channel = await onChannel<ReplicaStateEvent>(REPLICA_CHANNEL, name, async (seen) => {
        db = new PoolManager({
          name,
          primary: { connectionString: serviceUrls.postgres },
          replicas: [{ connectionString: serviceUrls.postgres }],
          replica: { lagCheckIntervalMs: 50 },
        });
        db.onReplicaStateChange((event) => fromHook.push(event));
        await waitFor(() => seen.length > 0, { what: 'replica event' });
      });
      expect(fromHook).toEqual(channel);
      expect(fromHook[0]).toMatchObject({ component: name, routable: false, reason: 'not in recovery' });
    } finally {
      await db?.close();
    }
  });

  it('onConnectWait replaces the process warning, and onFailover reports the wait that found no primary', async () => {
    const port = await freePort();
    const name = uniqueName('dbhook');
    const waits: ConnectWaitEvent[] = [];
    const failovers: FailoverEvent[] = [];
    const warnings: Error[] = [];
    const onWarning = (w: Error) => {
      if ((w as { code?: string }).code === 'E_DB_CONNECT_WAIT') warnings.push(w);
    };
    process.on('warning', onWarning);
    const db = new PoolManager({
      name,
      primary: { connectionString: `postgres://postgres@127.0.0.1:${port}/test` },
      failover: { timeoutMs: 800, probeIntervalMs: 50, progressIntervalMs: 200 },
    });
    try {
      const channel = await onChannel<FailoverEvent>(FAILOVER_CHANNEL, name, async () => {
        db.onConnectWait((event) => waits.push(event));
        db.onFailover((event) => failovers.push(event));
        const error = await db.query('select 1').catch((e: unknown) => e);
        expect(error).toMatchObject({ code: 'E_DB_NO_PRIMARY' });
      });
      await new Promise((resolve) => setImmediate(resolve));
      expect(waits.length).toBeGreaterThanOrEqual(1);
      expect(waits[0]).toMatchObject({ component: name, hosts: [`127.0.0.1:${port}`], timeoutMs: 800 });
      expect(warnings).toEqual([]);
      expect(failovers).toEqual(channel);
      expect(failovers[0]).toMatchObject({ component: name, from: `127.0.0.1:${port}`, to: undefined });
    } finally {
      process.off('warning', onWarning);
      await db.close();
    }
  });

  it('onConnectionError delivers the channel payload when the server ends an idle pooled session', async () => {
    const name = uniqueName('dbhook');
    const db = new PoolManager({ name, primary: { connectionString: serviceUrls.postgres }, pool: { min: 0 } });
    expectTypeOf(db.onConnectionError).toEqualTypeOf<Hook<ConnectionErrorEvent>>();
    const fromHook: ConnectionErrorEvent[] = [];
    const terminate = () =>
      admin<{ ok: boolean }>(
        'select pg_terminate_backend(pid) as ok from pg_stat_activity where application_name = $1',
        [name],
      );
    // pg reports a session the server ends twice on the idle client: the FATAL 57P01 message, then the socket's end.
    const ended = (seen: ConnectionErrorEvent[]) => seen.some((e) => e.message.includes('terminated unexpectedly'));
    try {
      await db.query('select 1');
      let beforeDispose = 0;
      const channel = await onChannel<ConnectionErrorEvent>(CONNECTION_ERROR_CHANNEL, name, async (seen) => {
        db.onConnectionError(() => {
          throw new Error('listener bug');
        });
        const sub = db.onConnectionError((event) => fromHook.push(event));
        expect(await terminate()).toEqual([{ ok: true }]);
        await waitFor(() => ended(seen), { what: 'connection-error events of the first session' });
        sub.dispose();
        sub.dispose();
        beforeDispose = seen.length;
        // The broken connection is replaced on the next borrow; the query succeeds.
        expect((await db.query('select 2 as v')).rows).toEqual([{ v: 2 }]);
        expect(await terminate()).toEqual([{ ok: true }]);
        await waitFor(() => ended(seen.slice(beforeDispose)), {
          what: 'connection-error events of the second session',
        });
      });
      expect(beforeDispose).toBeGreaterThanOrEqual(1);
      expect(channel.length).toBeGreaterThan(beforeDispose);
      // The same objects the channel published, up to the dispose: the disposed listener missed the second session.
      expect(fromHook).toEqual(channel.slice(0, beforeDispose));
      expect(fromHook[0]).toMatchObject({ component: name, host: '127.0.0.1:5432', code: '57P01' });
      expect(fromHook[0]?.message).toContain('terminat');
      // The throwing listener stays subscribed and saw every event; the manager kept working.
      expect(db.stats()).toMatchObject({ hookListenerErrors: channel.length });
      expect((await db.query('select 3 as v')).rows).toEqual([{ v: 3 }]);
    } finally {
      await db.close();
    }
  });
});
