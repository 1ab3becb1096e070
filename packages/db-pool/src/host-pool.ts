import genericPool from 'generic-pool';
import pg from 'pg';
import { type ConnectionErrorEvent, channels } from './channels.js';
import {
  ClosedError,
  ConnectionError,
  type DbPoolError,
  isDbPoolError,
  PoolExhaustedError,
  QueryAbortedError,
  QueryError,
  QueryTimeoutError,
} from './errors.js';
import { abandonedReason, abandonQueued } from './internal/abandon-queued.js';
import { submit } from './internal/submit.js';
import { type QueuedWaiter, WaiterQueue } from './internal/waiter-queue.js';
import { hostLabel } from './options.js';
import { isPermanentConnectError, sqlStateOf } from './sqlstate.js';
import type { HostConfig, PoolOptions } from './types.js';

/** A pooled pg.Client and what the pool knows about it. */
export interface PooledConnection {
  readonly client: pg.Client;
  /** The generic pool that owns it (a failover replaces the pool; old connections go back to the old one). */
  readonly owner: genericPool.Pool<PooledConnection>;
  readonly createdAt: number;
  /** Randomized end of life (ms since epoch); Infinity when lifetimes are off. */
  readonly expiresAt: number;
  lastUsedAt: number;
  /** Set by the client's error/end events or a connection-level failure: destroy instead of reuse. */
  broken: boolean;
  /** The server's `statement_timeout` currently in effect on this session (ms, 0 = none). */
  statementTimeoutMs: number;
}

/** What {@link HostPool.run} needs for one statement. */
export interface RunOptions {
  priority: number;
  /** Wall-clock deadline (ms since epoch) for the whole call, 0 for none. */
  deadlineAt: number;
  /** The timeout the deadline came from (for the error and the server's statement_timeout). */
  timeoutMs: number;
  signal: AbortSignal | undefined;
  /** After the statement, read `pg_current_wal_lsn()` on the same session (read-your-writes). */
  captureLsn: boolean;
}

/** Result of {@link HostPool.run}. */
export interface RunResult {
  result: pg.QueryResult;
  lsn: string | undefined;
}

/** A caller in the manager's own wait queue (see {@link HostPool} `queue`). */
interface Queued extends QueuedWaiter<PooledConnection> {
  /** Handed to generic-pool (a connection slot came free): no longer counted in `queued`. */
  moved: boolean;
  /** The expiry is the call's deadline (QueryTimeoutError) rather than `acquireTimeoutMs`. */
  byDeadline: boolean;
  timeoutMs: number;
  signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
}

const noop = () => {};

/** How long a cancelled query may take to come back before its connection is destroyed. */
const CANCEL_GRACE_MS = 5_000;

/**
 * A pool of `pg.Client` connections to ONE host, on generic-pool: priorities, a bounded wait
 * queue that fails fast, warm `min`, idle eviction, randomized maximum lifetime, validation
 * of connections idle longer than a threshold, transparent replacement of connections the
 * server or the network killed, and backend cancellation when a caller gives up.
 */
export class HostPool {
  /** `host:port`. */
  readonly label: string;
  /** Statements in flight on this host (for least-outstanding balancing). */
  outstanding = 0;
  /** Counters for stats(). */
  readonly counters = {
    created: 0,
    destroyed: 0,
    connectErrors: 0,
    clientErrors: 0,
    validationFailures: 0,
    replaced: 0,
    queueFull: 0,
    acquireTimeouts: 0,
    cancels: 0,
    cancelFailures: 0,
  };
  private pool: genericPool.Pool<PooledConnection>;
  private readonly clientConfig: pg.ClientConfig;
  /**
   * Hot idle stack (LIFO): connections generic-pool considers borrowed that are idle on our
   * side. A release with nobody waiting parks the connection here and the next acquire takes
   * it synchronously, skipping generic-pool's per-acquire request, deferred, promise and
   * `acquireTimeoutMillis` timer. Callers that must wait use `queue`; connections are created
   * by generic-pool; connections idle here for a whole eviction interval are handed back to
   * it (idle eviction, `min`).
   */
  private readonly hot: PooledConnection[] = [];
  private sweeper: NodeJS.Timeout | undefined;
  /**
   * Callers waiting while every connection is borrowed. A released connection goes straight to
   * the most urgent one (priority, then FIFO), without generic-pool's per-acquire request,
   * deferred and timer. Deadlines (`acquireTimeoutMs`, the call's own) are enforced by ONE
   * timer armed for the earliest expiry, not a timer per waiter. Bounded together with
   * generic-pool's queue by `maxWaitingClients`.
   */
  private readonly queue = new WaiterQueue<PooledConnection>(3);
  /** Unsettled waiters in `queue`. */
  private queued = 0;
  /** Waiters handed to generic-pool's acquire (a slot came free) whose deadline is still watched here. */
  private readonly moved = new Set<Queued>();
  private expiryTimer: NodeJS.Timeout | undefined;
  private expiryAt = 0;
  private consecutiveConnectFailures = 0;
  private closed = false;
  /** Last connection error, for health output. */
  lastError: string | undefined;

  constructor(
    readonly config: HostConfig,
    private readonly options: Required<PoolOptions>,
    private readonly defaultStatementTimeoutMs: number,
    private readonly component: string,
  ) {
    this.label = hostLabel(config);
    this.clientConfig = {
      application_name: component,
      ...config,
      connectionTimeoutMillis: options.connectTimeoutMs,
    };
    if (defaultStatementTimeoutMs > 0) this.clientConfig.statement_timeout = defaultStatementTimeoutMs;
    this.pool = this.createPool();
    this.sweeper = setInterval(() => this.sweepHot(Date.now()), options.evictionRunIntervalMs);
    this.sweeper.unref();
  }

  /** Every connection exists and is borrowed (or being created): a new caller has to wait. */
  private saturated(): boolean {
    const p = this.pool;
    return p.available === 0 && p.size >= p.max;
  }

  /** Queues a caller for the next released connection (see `queue`). */
  private enqueue(
    priority: number,
    deadlineAt: number,
    signal: AbortSignal | undefined,
    timeoutMs: number,
    saturated: boolean,
  ): Promise<PooledConnection> {
    if (saturated && this.queued + this.pool.pending >= this.options.maxWaitingClients) {
      this.counters.queueFull++;
      return Promise.reject(
        new PoolExhaustedError('E_DB_POOL_QUEUE_FULL', `wait queue full for ${this.label}`, { host: this.label }),
      );
    }
    const acquireAt = Date.now() + this.options.acquireTimeoutMs;
    const byDeadline = deadlineAt > 0 && deadlineAt < acquireAt;
    return new Promise<PooledConnection>((resolve, reject) => {
      const w: Queued = {
        settled: false,
        moved: false,
        priority,
        expiresAt: byDeadline ? deadlineAt : acquireAt,
        byDeadline,
        timeoutMs,
        signal,
        onAbort: undefined,
        resolve,
        reject,
      };
      if (signal !== undefined) {
        w.onAbort = () => {
          if (w.settled) return;
          this.settle(w);
          reject(new QueryAbortedError({ host: this.label, cause: signal.reason }));
        };
        signal.addEventListener('abort', w.onAbort, { once: true });
      }
      this.queue.push(w);
      this.queued++;
      this.armExpiry(w.expiresAt);
      // A slot is free: generic-pool dispenses or creates for it, the deadline and signal stay watched here.
      if (!saturated) this.refill();
    });
  }

  private settle(w: Queued): void {
    w.settled = true;
    if (w.moved) this.moved.delete(w);
    else this.queued--;
    if (w.onAbort !== undefined) w.signal?.removeEventListener('abort', w.onAbort);
  }

  /** Arms the shared expiry timer for `at` unless it already fires earlier. */
  private armExpiry(at: number): void {
    if (this.expiryTimer !== undefined && this.expiryAt <= at) return;
    clearTimeout(this.expiryTimer);
    this.expiryAt = at;
    this.expiryTimer = setTimeout(() => this.expireWaiters(), Math.max(0, at - Date.now()) + 1);
    this.expiryTimer.unref();
  }

  /** Fails the waiters whose time is up and re-arms the timer for the next expiry. */
  private expireWaiters(): void {
    this.expiryTimer = undefined;
    const now = Date.now();
    let next = Number.POSITIVE_INFINITY;
    const visit = (w: QueuedWaiter<PooledConnection>) => {
      if (w.settled) return;
      if (w.expiresAt > now) {
        if (w.expiresAt < next) next = w.expiresAt;
        return;
      }
      const q = w as Queued;
      this.settle(q);
      if (q.byDeadline) {
        q.reject(new QueryTimeoutError(q.timeoutMs, { host: this.label }));
      } else {
        this.counters.acquireTimeouts++;
        q.reject(
          new PoolExhaustedError(
            'E_DB_POOL_ACQUIRE_TIMEOUT',
            `no connection to ${this.label} within ${this.options.acquireTimeoutMs} ms`,
            { host: this.label },
          ),
        );
      }
    };
    this.queue.forEach(visit);
    for (const w of [...this.moved]) visit(w);
    if (next !== Number.POSITIVE_INFINITY) this.armExpiry(next);
  }

  /**
   * A connection slot came free in generic-pool (a connection was destroyed, or one is idle
   * there): hand queued callers to generic-pool, which creates or dispenses for them.
   */
  private refill(): void {
    const p = this.pool;
    let room = p.available + p.max - p.size - p.pending;
    while (room > 0 && this.queued > 0 && !this.closed) {
      const w = this.queue.shift() as Queued | undefined;
      if (w === undefined) break;
      room--;
      this.queued--;
      w.moved = true;
      this.moved.add(w);
      p.acquire(w.priority).then(
        (conn) => {
          if (w.settled) {
            this.release(conn);
            return;
          }
          this.settle(w);
          w.resolve(conn);
        },
        (error) => {
          if (w.settled) return;
          this.settle(w);
          w.reject(this.mapAcquireError(error));
        },
      );
    }
  }

  /** Takes the most recently used idle connection from the hot stack (possibly one needing validation or replacement). */
  private takeHot(): PooledConnection | undefined {
    return this.hot.pop();
  }

  /** Hands connections idle on the hot stack for a whole eviction interval back to generic-pool (which evicts idle ones above `min`). */
  private sweepHot(now: number): void {
    const hot = this.hot;
    if (hot.length === 0) return;
    const limit = this.options.evictionRunIntervalMs;
    let kept = 0;
    for (let i = 0; i < hot.length; i++) {
      const conn = hot[i]!;
      if (now - conn.lastUsedAt < limit) hot[kept++] = conn;
      else this.releaseToPool(conn);
    }
    hot.length = kept;
  }

  /** Empties the hot stack, destroying its connections (reset, close). */
  private destroyHot(): void {
    for (const conn of this.hot.splice(0)) this.destroy(conn);
  }

  private createPool(): genericPool.Pool<PooledConnection> {
    const o = this.options;
    const pool: genericPool.Pool<PooledConnection> = genericPool.createPool<PooledConnection>(
      {
        create: () => this.connect(pool),
        destroy: (conn) => this.disconnect(conn),
      },
      {
        max: o.max,
        min: o.min,
        maxWaitingClients: o.maxWaitingClients,
        acquireTimeoutMillis: o.acquireTimeoutMs,
        testOnBorrow: false,
        fifo: false,
        priorityRange: 3,
        autostart: false,
        evictionRunIntervalMillis: o.evictionRunIntervalMs,
        numTestsPerEvictionRun: o.max,
        softIdleTimeoutMillis: o.idleTimeoutMs,
        idleTimeoutMillis: Number.MAX_SAFE_INTEGER,
      },
    );
    // generic-pool reports create/destroy failures as events; they are counted in connect().
    pool.on('factoryCreateError', noop);
    pool.on('factoryDestroyError', noop);
    return pool;
  }

  private async connect(owner: genericPool.Pool<PooledConnection>): Promise<PooledConnection> {
    if (this.consecutiveConnectFailures > 0) {
      // generic-pool retries a failed create at once while callers wait: pace it so a dead host is not hammered.
      const delay = Math.min(1_000, 25 * 2 ** Math.min(this.consecutiveConnectFailures, 6));
      await new Promise((resolve) => setTimeout(resolve, delay).unref());
    }
    const client = new pg.Client(this.clientConfig);
    const now = Date.now();
    const o = this.options;
    const conn: PooledConnection = {
      client,
      owner,
      createdAt: now,
      expiresAt:
        o.maxLifetimeMs > 0 ? now + o.maxLifetimeMs * (1 - o.lifetimeJitter * Math.random()) : Number.POSITIVE_INFINITY,
      lastUsedAt: now,
      broken: false,
      statementTimeoutMs: this.defaultStatementTimeoutMs,
    };
    // A pg.Client emits 'error' when its idle socket dies (server terminated it, network drop):
    // without a listener that crashes the process. Mark it so the next borrow replaces it.
    client.on('error', (error: Error) => {
      conn.broken = true;
      this.counters.clientErrors++;
      this.lastError = error.message;
      this.publishConnectionError(error);
    });
    client.on('end', () => {
      conn.broken = true;
    });
    try {
      await client.connect();
    } catch (error) {
      this.consecutiveConnectFailures++;
      this.counters.connectErrors++;
      this.lastError = (error as Error).message;
      client.end().catch(noop);
      const wrapped = new ConnectionError(`cannot connect to ${this.label}: ${(error as Error).message}`, {
        host: this.label,
        sent: false,
        permanent: isPermanentConnectError(error),
        cause: error,
      });
      this.failWaitersIfDown(wrapped);
      throw wrapped;
    }
    this.consecutiveConnectFailures = 0;
    this.counters.created++;
    return conn;
  }

  private async disconnect(conn: PooledConnection): Promise<void> {
    this.counters.destroyed++;
    conn.broken = true;
    const client = conn.client as pg.Client & { connection?: { stream?: { destroy(): void } } };
    const ended = client.end().catch(noop);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((resolve) => {
      timer = setTimeout(() => {
        client.connection?.stream?.destroy();
        resolve();
      }, 1_000);
      timer.unref();
    });
    await Promise.race([ended, timeout]);
    clearTimeout(timer);
  }

  private publishConnectionError(error: Error): void {
    if (channels.connectionError.hasSubscribers) {
      const event: ConnectionErrorEvent = {
        component: this.component,
        host: this.label,
        message: error.message,
        code: (error as { code?: string }).code,
      };
      channels.connectionError.publish(event);
    }
  }

  /** When a connect fails and no connection to the host is alive, waiting callers fail now instead of at acquireTimeoutMs. */
  private failWaitersIfDown(error: DbPoolError): void {
    if (this.pool.pending === 0 && this.queued === 0) return;
    if (this.pool.borrowed + this.pool.available > 0) return;
    this.rejectWaiters(error);
    // Fail callers queued inside generic-pool too, and stop it creating connections for them.
    abandonQueued(this.pool as genericPool.Pool<unknown>, error);
  }

  private rejectWaiters(error: unknown): void {
    const fail = (w: QueuedWaiter<PooledConnection>) => {
      this.settle(w as Queued);
      w.reject(error);
    };
    this.queue.forEach(fail);
    this.queue.clear();
    for (const w of [...this.moved]) if (!w.settled) fail(w);
  }

  private mapAcquireError(error: unknown): unknown {
    const abandoned = abandonedReason(error);
    if (abandoned !== undefined) return abandoned;
    if (error instanceof Error && !isDbPoolError(error)) {
      if (error.message.includes('max waitingClients')) {
        this.counters.queueFull++;
        return new PoolExhaustedError('E_DB_POOL_QUEUE_FULL', `wait queue full for ${this.label}`, {
          host: this.label,
          cause: error,
        });
      }
      if (error.name === 'TimeoutError') {
        this.counters.acquireTimeouts++;
        return new PoolExhaustedError(
          'E_DB_POOL_ACQUIRE_TIMEOUT',
          `no connection to ${this.label} within ${this.options.acquireTimeoutMs} ms`,
          {
            host: this.label,
            cause: error,
          },
        );
      }
      if (error.message.includes('draining')) {
        return new ConnectionError(`pool for ${this.label} was reset`, { host: this.label, sent: false, cause: error });
      }
    }
    return error;
  }

  private acquireRaw(
    priority: number,
    deadlineAt: number,
    signal: AbortSignal | undefined,
    timeoutMs: number,
  ): Promise<PooledConnection> {
    if (this.closed) return Promise.reject(new ClosedError());
    const saturated = this.saturated();
    if (!saturated && deadlineAt === 0 && signal === undefined) {
      // Nothing to enforce per call: generic-pool dispenses or creates. Its queued callers are
      // still failed fast when the host is down or the pool is reset (abandonQueued).
      return this.pool.acquire(priority).catch((error) => {
        throw this.mapAcquireError(error);
      });
    }
    // Saturated, or a deadline/signal to watch: our queue (one shared expiry timer, no timer per call).
    return this.enqueue(priority, deadlineAt, signal, timeoutMs, saturated);
  }

  /**
   * Borrows a healthy connection: broken or expired ones are destroyed and replaced, and one
   * idle longer than `validateAfterIdleMs` is checked with `select 1` first.
   */
  acquire(priority: number, deadlineAt = 0, signal?: AbortSignal, timeoutMs = 0): Promise<PooledConnection> {
    const hot = this.closed || signal?.aborted === true ? undefined : this.takeHot();
    if (hot !== undefined) {
      return this.usable(hot, Date.now())
        ? Promise.resolve(hot)
        : this.replace(hot, priority, deadlineAt, signal, timeoutMs);
    }
    return this.acquireRaw(priority, deadlineAt, signal, timeoutMs).then((conn) =>
      this.usable(conn, Date.now()) ? conn : this.replace(conn, priority, deadlineAt, signal, timeoutMs),
    );
  }

  private usable(conn: PooledConnection, now: number): boolean {
    if (conn.broken || now >= conn.expiresAt) return false;
    const validateAfter = this.options.validateAfterIdleMs;
    return validateAfter === 0 || now - conn.lastUsedAt <= validateAfter;
  }

  private async replace(
    first: PooledConnection,
    priority: number,
    deadlineAt: number,
    signal: AbortSignal | undefined,
    timeoutMs: number,
  ): Promise<PooledConnection> {
    let conn = first;
    for (let attempt = 0; ; attempt++) {
      const now = Date.now();
      if (!conn.broken && now < conn.expiresAt) {
        // Idle too long: validate before use.
        try {
          await conn.client.query('select 1');
          conn.lastUsedAt = Date.now();
          return conn;
        } catch {
          this.counters.validationFailures++;
          conn.broken = true;
        }
      }
      if (conn.broken) this.counters.replaced++;
      this.destroy(conn);
      if (attempt > this.options.max) {
        throw new ConnectionError(`no healthy connection to ${this.label}`, { host: this.label, sent: false });
      }
      conn = this.takeHot() ?? (await this.acquireRaw(priority, deadlineAt, signal, timeoutMs));
      if (this.usable(conn, Date.now())) return conn;
    }
  }

  /** Returns a connection; broken, expired or orphaned (after a reset) ones are destroyed instead. */
  release(conn: PooledConnection): void {
    const now = Date.now();
    conn.lastUsedAt = now;
    if (conn.broken || now >= conn.expiresAt || this.closed || conn.owner !== this.pool) {
      this.destroy(conn);
      return;
    }
    if (this.pool.pending === 0) {
      // Straight to the most urgent waiter, or parked for the next caller (see `hot`).
      const w = this.queued > 0 ? (this.queue.shift() as Queued | undefined) : undefined;
      if (w === undefined) {
        this.hot.push(conn);
        return;
      }
      this.settle(w);
      w.resolve(conn);
      return;
    }
    // generic-pool has callers of its own (waiting for a connection being created): it serves them by priority.
    this.releaseToPool(conn);
  }

  private releaseToPool(conn: PooledConnection): void {
    // Only a resource generic-pool considers borrowed can be released without a rejection.
    if (conn.owner === this.pool && !this.closed && conn.owner.isBorrowedResource(conn)) {
      void conn.owner.release(conn);
      if (this.queued > 0) this.refill();
    } else this.destroy(conn);
  }

  /** Destroys a borrowed connection. */
  destroy(conn: PooledConnection): void {
    conn.broken = true;
    conn.owner.destroy(conn).catch(() => {
      // Not borrowed from generic-pool's point of view (already destroyed): close the client directly.
      this.disconnect(conn).catch(noop);
    });
    // A slot came free: queued callers get a new connection from generic-pool.
    if (this.queued > 0) this.refill();
  }

  /** Sets the session's statement_timeout when it differs from what is in effect. */
  async ensureStatementTimeout(conn: PooledConnection, ms: number): Promise<void> {
    if (conn.statementTimeoutMs === ms) return;
    await conn.client.query(`set statement_timeout = ${Math.floor(ms)}`);
    conn.statementTimeoutMs = ms;
  }

  /**
   * Runs one statement on a borrowed connection of this host: sets statement_timeout if
   * needed, enforces the deadline and the signal (cancelling the backend query when the
   * client gives up), maps errors to typed errors, and releases the connection.
   */
  async run(text: string, values: unknown[] | undefined, name: string | undefined, o: RunOptions): Promise<RunResult> {
    let conn = this.closed ? undefined : this.takeHot();
    if (conn === undefined || !this.usable(conn, Date.now())) {
      conn =
        conn === undefined
          ? await this.acquire(o.priority, o.deadlineAt, o.signal, o.timeoutMs)
          : await this.replace(conn, o.priority, o.deadlineAt, o.signal, o.timeoutMs);
    }
    this.outstanding++;
    let guarded: { deferred: boolean } | undefined;
    try {
      const serverTimeout = o.timeoutMs > 0 ? o.timeoutMs : this.defaultStatementTimeoutMs;
      if (conn.statementTimeoutMs !== serverTimeout) await this.ensureStatementTimeout(conn, serverTimeout);
      const pending = submit(conn.client, text, values, name);
      let result: pg.QueryResult;
      if (o.deadlineAt === 0 && o.signal === undefined) {
        result = await pending;
      } else {
        const g = this.guard(conn, pending, o.deadlineAt, o.timeoutMs, o.signal);
        guarded = g;
        result = await g.promise;
      }
      let lsn: string | undefined;
      if (o.captureLsn) {
        // The write is done: failing to read the WAL position must not turn it into an error.
        try {
          const r = await conn.client.query('select pg_current_wal_lsn()::text as lsn');
          lsn = (r.rows[0] as { lsn: string } | undefined)?.lsn;
        } catch {
          lsn = undefined;
        }
      }
      return { result, lsn };
    } catch (error) {
      throw this.mapError(error, conn, name, o.timeoutMs);
    } finally {
      this.outstanding--;
      // A cancelled query's connection is released by cancelAndRelease once the server is done with it.
      if (guarded === undefined || !guarded.deferred) this.release(conn);
    }
  }

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

  /** Maps a pg error to a typed error and marks the connection broken when the session is gone. */
  mapError(error: unknown, conn: PooledConnection | undefined, name: string | undefined, timeoutMs: number): unknown {
    if (isDbPoolError(error)) return error;
    const sqlState = sqlStateOf(error);
    const e = error as Error & { severity?: string; detail?: string; constraint?: string };
    if (sqlState !== undefined) {
      if (conn !== undefined && (e.severity === 'FATAL' || e.severity === 'PANIC' || sqlState.startsWith('08')))
        conn.broken = true;
      if (sqlState === '57014' && /statement timeout/i.test(e.message)) {
        return new QueryTimeoutError(timeoutMs > 0 ? timeoutMs : (conn?.statementTimeoutMs ?? 0), {
          host: this.label,
          cause: error,
        });
      }
      return new QueryError(e.message, {
        sqlState,
        statementName: name,
        detail: e.detail,
        constraint: e.constraint,
        host: this.label,
        cause: error,
      });
    }
    if (conn !== undefined) conn.broken = true;
    const message = e instanceof Error ? e.message : String(error);
    const sent = !/not queryable/.test(message);
    return new ConnectionError(`connection to ${this.label} failed: ${message}`, {
      host: this.label,
      sent,
      cause: error,
    });
  }

  /**
   * Destroys every connection (failover: the host is no longer what it was). Borrowed ones
   * are destroyed when they come back; waiting callers fail with a retriable ConnectionError.
   */
  reset(): void {
    if (this.closed) return;
    const old = this.pool;
    this.pool = this.createPool();
    const error = new ConnectionError(`pool for ${this.label} was reset`, { host: this.label, sent: false });
    this.rejectWaiters(error);
    this.destroyHot();
    abandonQueued(old as genericPool.Pool<unknown>, error);
    old
      .drain()
      .then(() => old.clear())
      .catch(noop);
  }

  /** Opens the `min` warm connections now instead of on first use. */
  start(): void {
    if (!this.closed) this.pool.start();
  }

  /** Pool figures for stats(). */
  stats(): { total: number; idle: number; borrowed: number; waiting: number; max: number; min: number } {
    const p = this.pool;
    const hot = this.hot.length;
    return {
      total: p.size,
      idle: p.available + hot,
      borrowed: p.borrowed - hot,
      waiting: p.pending + this.queued,
      max: p.max,
      min: p.min,
    };
  }

  /** Closes every connection. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.sweeper);
    clearTimeout(this.expiryTimer);
    this.destroyHot();
    this.rejectWaiters(new ClosedError());
    const pool = this.pool;
    abandonQueued(pool as genericPool.Pool<unknown>, new ClosedError());
    await pool.drain().catch(noop);
    await pool.clear().catch(noop);
  }
}
