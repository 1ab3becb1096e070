import { freePort, serviceUrls, uniqueName } from '@cryptoscalp/testkit';
import { describe, expect, it } from 'vitest';
import { type ConnectWaitEvent, PoolManager, type PoolManagerOptions } from '../../src/index.js';

/** The local server's URL with another database or user. */
function localUrl(change: (url: URL) => void): string {
  const url = new URL(serviceUrls.postgres);
  change(url);
  return url.toString();
}

/** The fields of a rejected query these tests look at. */
type Failure = { code?: string; permanent?: boolean; cause?: unknown };

/** Runs the first query of a fresh manager and returns its error and how long it took. */
async function firstQueryError(options: Omit<PoolManagerOptions, 'name'>): Promise<{ error: Failure; ms: number }> {
  const db = new PoolManager({ name: uniqueName('dbce'), ...options });
  try {
    const started = performance.now();
    const error = await db.query('select 1').then(
      () => undefined,
      (e: unknown) => e as Failure,
    );
    return { error: error ?? {}, ms: performance.now() - started };
  } finally {
    await db.close();
  }
}

describe('connect errors', () => {
  // failover.timeoutMs keeps its 30 s default: a permanent error must not wait for it.
  it.each([
    ['an unknown database', '3D000', localUrl((u) => (u.pathname = `/${uniqueName('nodb')}`))],
    ['an unknown role', '28000', localUrl((u) => (u.username = uniqueName('norole')))],
  ])('fails the first query within 2 s on %s, with the server error as cause', async (_what, sqlState, url) => {
    const { error, ms } = await firstQueryError({ primary: { connectionString: url } });
    expect(ms).toBeLessThan(2_000);
    expect(error.code).toBe('E_DB_CONNECTION');
    expect(error.permanent).toBe(true);
    expect((error.cause as { code?: string }).code).toBe(sqlState);
  });

  it('fails the first query within 2 s on an unknown host name (ENOTFOUND)', async () => {
    const { error, ms } = await firstQueryError({ primary: { host: 'no-such-host.invalid', port: 5432 } });
    expect(ms).toBeLessThan(2_000);
    expect(error.code).toBe('E_DB_CONNECTION');
    expect(error.permanent).toBe(true);
    expect((error.cause as { code?: string }).code).toBe('ENOTFOUND');
  });

  it('fails a transaction fast on an unknown database', async () => {
    const db = new PoolManager({
      name: uniqueName('dbce'),
      primary: { connectionString: localUrl((u) => (u.pathname = `/${uniqueName('nodb')}`)) },
    });
    try {
      const started = performance.now();
      const error = await db.transaction(async (tx) => tx.query('select 1')).catch((e: unknown) => e as Failure);
      expect(performance.now() - started).toBeLessThan(2_000);
      expect(error).toMatchObject({ code: 'E_DB_CONNECTION', permanent: true });
    } finally {
      await db.close();
    }
  });

  it('fails every query fast, not only the first', async () => {
    const db = new PoolManager({
      name: uniqueName('dbce'),
      primary: { connectionString: localUrl((u) => (u.pathname = `/${uniqueName('nodb')}`)) },
    });
    try {
      for (let i = 0; i < 3; i++) {
        const started = performance.now();
        const error = await db.query('select 1', [], { role: i === 1 ? 'read' : 'write' }).catch((e: unknown) => e);
        expect(performance.now() - started).toBeLessThan(2_000);
        expect((error as { permanent?: boolean }).permanent).toBe(true);
      }
    } finally {
      await db.close();
    }
  });

  it('waits out a refused connection (nothing listening) until failover.timeoutMs, reporting progress', async () => {
    const port = await freePort();
    const events: ConnectWaitEvent[] = [];
    const started = performance.now();
    const { error, ms } = await firstQueryError({
      primary: { connectionString: `postgres://postgres@127.0.0.1:${port}/test` },
      pool: { connectTimeoutMs: 500 },
      failover: { timeoutMs: 1_500, probeIntervalMs: 50, progressIntervalMs: 300 },
      onConnectWait: (event) => events.push(event),
    });
    // Transient: the query waited for the failover timeout, not less.
    expect(ms).toBeGreaterThanOrEqual(1_400);
    expect(performance.now() - started).toBeLessThan(10_000);
    expect(error.code).toBe('E_DB_NO_PRIMARY');
    expect((error.cause as { code?: string }).code).toBe('ECONNREFUSED');
    expect(events.length).toBeGreaterThanOrEqual(2);
    expect(events[0]).toMatchObject({ hosts: [`127.0.0.1:${port}`], timeoutMs: 1_500 });
    expect(events[0]?.lastError).toContain('ECONNREFUSED');
    expect(events.at(-1)!.attempts).toBeGreaterThan(events[0]!.attempts);
    expect(events.at(-1)!.elapsedMs).toBeGreaterThan(events[0]!.elapsedMs);
  });

  it("ends the wait for a primary when the caller's signal fires (query and transaction), E_DB_ABORTED", async () => {
    const port = await freePort();
    const db = new PoolManager({
      name: uniqueName('dbce'),
      primary: { connectionString: `postgres://postgres@127.0.0.1:${port}/test` },
      pool: { connectTimeoutMs: 500 },
      failover: { timeoutMs: 20_000, probeIntervalMs: 50, progressIntervalMs: 5_000 },
      onConnectWait: () => {},
    });
    try {
      for (const run of [
        (signal: AbortSignal) => db.query('select 1', [], { signal }),
        (signal: AbortSignal) => db.query('select 1', [], { signal, role: 'read' }),
        (signal: AbortSignal) => db.transaction((tx) => tx.query('select 1'), { signal }),
      ]) {
        const started = performance.now();
        const error = (await run(AbortSignal.timeout(300)).catch((e: unknown) => e)) as Failure;
        const ms = performance.now() - started;
        expect(error.code).toBe('E_DB_ABORTED');
        expect(ms).toBeGreaterThanOrEqual(250);
        expect(ms).toBeLessThan(5_000);
      }
      // An aborted signal ends it before any wait.
      const error = (await db
        .query('select 1', [], { signal: AbortSignal.abort() })
        .catch((e: unknown) => e)) as Failure;
      expect(error.code).toBe('E_DB_ABORTED');
    } finally {
      await db.close();
    }
  });

  it('without onConnectWait, reports the wait as a process warning', async () => {
    const port = await freePort();
    const warnings: Error[] = [];
    const onWarning = (w: Error) => {
      if ((w as { code?: string }).code === 'E_DB_CONNECT_WAIT') warnings.push(w);
    };
    process.on('warning', onWarning);
    try {
      const { error } = await firstQueryError({
        primary: { connectionString: `postgres://postgres@127.0.0.1:${port}/test` },
        failover: { timeoutMs: 800, probeIntervalMs: 50, progressIntervalMs: 200 },
      });
      expect(error.code).toBe('E_DB_NO_PRIMARY');
      // 'warning' is emitted on the next tick after emitWarning.
      await new Promise((resolve) => setImmediate(resolve));
      expect(warnings.length).toBeGreaterThanOrEqual(1);
      expect(warnings[0]?.message).toMatch(/waiting for a writable primary: \d+ attempt\(s\) in \d+ ms/);
    } finally {
      process.off('warning', onWarning);
    }
  });

  it('keeps a replica on the primary address as its own stats entry', async () => {
    const db = new PoolManager({
      name: uniqueName('dbkeys'),
      primary: { connectionString: serviceUrls.postgres },
      replicas: [{ connectionString: serviceUrls.postgres }],
      replica: { lagCheckIntervalMs: 60_000 },
    });
    try {
      await db.query('select 1');
      const hosts = (db.stats() as { hosts: Record<string, { host: string; role: string }> }).hosts;
      const label = new URL(serviceUrls.postgres).host;
      expect(Object.keys(hosts)).toEqual(['primary[0]', 'replicas[0]']);
      expect(hosts['primary[0]']).toMatchObject({ host: label, role: 'primary' });
      expect(hosts['replicas[0]']).toMatchObject({ host: label, role: 'replica' });
    } finally {
      await db.close();
    }
  });
});
