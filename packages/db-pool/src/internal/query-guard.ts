import pg from 'pg';
import { type DbPoolError, QueryAbortedError, QueryTimeoutError } from '../errors.js';
import type { PooledConnection } from './pooled-connection.js';

const noop = () => {};

/** How long a cancelled query may take to come back before its connection is destroyed. */
const CANCEL_GRACE_MS = 5_000;

/**
 * Deadlines and aborts of statements in flight on one host: the caller is answered at once, the backend query is
 * cancelled (`pg_cancel_backend` over a separate connection), and the connection goes back to the pool only once the
 * server is done with it.
 */
export class QueryGuard {
  constructor(
    private readonly label: string,
    private readonly clientConfig: pg.ClientConfig,
    private readonly counters: { cancels: number; cancelFailures: number },
    /** Returns a connection to its pool (destroyed there if marked broken). */
    private readonly release: (conn: PooledConnection) => void,
  ) {}

  /**
   * Races a pending query against the deadline and the signal. When the caller gives up,
   * the backend query is cancelled and the connection is released only once the query has
   * come back (or destroyed if it does not within a grace period), so it is never reused
   * while the server is still busy with it.
   */
  guard<T>(
    conn: PooledConnection,
    pending: Promise<T>,
    deadlineAt: number,
    timeoutMs: number,
    signal: AbortSignal | undefined,
  ): { promise: Promise<T>; deferred: boolean } {
    const state = { deferred: false };
    const promise = new Promise<T>((resolve, reject) => {
      let settled = false;
      let timer: NodeJS.Timeout | undefined;
      const giveUp = (error: DbPoolError) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        state.deferred = true;
        this.cancelAndRelease(conn, pending);
        reject(error);
      };
      const onAbort = () => giveUp(new QueryAbortedError({ host: this.label, cause: signal?.reason }));
      if (signal?.aborted) {
        onAbort();
        return;
      }
      signal?.addEventListener('abort', onAbort, { once: true });
      if (deadlineAt > 0) {
        timer = setTimeout(
          () => giveUp(new QueryTimeoutError(timeoutMs, { host: this.label })),
          Math.max(0, deadlineAt - Date.now()),
        );
      }
      pending.then(
        (value) => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          signal?.removeEventListener('abort', onAbort);
          resolve(value);
        },
        (error) => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          signal?.removeEventListener('abort', onAbort);
          reject(error);
        },
      );
    });
    // `deferred` is read by the caller after awaiting; expose it through a getter.
    return {
      promise,
      get deferred() {
        return state.deferred;
      },
    };
  }

  /** Cancels the backend's current query and releases the connection once the query has come back and the cancel was handled. */
  cancelAndRelease(conn: PooledConnection, pending: Promise<unknown>): void {
    const pid = (conn.client as pg.Client & { processID?: number }).processID;
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      clearTimeout(grace);
      this.release(conn);
    };
    const grace = setTimeout(() => {
      if (done) return;
      done = true;
      conn.broken = true;
      this.release(conn);
    }, CANCEL_GRACE_MS);
    grace.unref();
    // Released only once the query came back AND the cancel request was handled: a cancel that
    // arrived after the connection went to the next caller would cancel THAT caller's statement.
    let waiting = pid === undefined ? 1 : 2;
    const settled = () => {
      if (--waiting === 0) finish();
    };
    pending.then(settled, settled);
    if (pid !== undefined) this.cancelBackend(pid).then(settled, settled);
  }

  /** `select pg_cancel_backend(pid)` over a separate short-lived connection. */
  async cancelBackend(pid: number): Promise<boolean> {
    this.counters.cancels++;
    const client = new pg.Client({ ...this.clientConfig, statement_timeout: undefined });
    client.on('error', noop);
    try {
      await client.connect();
      const r = await client.query('select pg_cancel_backend($1) as ok', [pid]);
      return (r.rows[0] as { ok: boolean } | undefined)?.ok === true;
    } catch {
      this.counters.cancelFailures++;
      return false;
    } finally {
      client.end().catch(noop);
    }
  }
}
