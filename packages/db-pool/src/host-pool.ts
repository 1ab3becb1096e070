import type { HookEmitter } from '@cryptoscalp/contracts';
import type pg from 'pg';
import { type ConnectionErrorEvent, channels } from './channels.js';
import { ClosedError, ConnectionError, type DbPoolError } from './errors.js';
import { AcquireQueue } from './internal/acquire-queue.js';
import { ConnectionFactory } from './internal/connection-factory.js';
import { isUsable, validate } from './internal/connection-validation.js';
import { IdleStack } from './internal/idle-stack.js';
import { mapPgError } from './internal/map-pg-error.js';
import type { PooledConnection } from './internal/pooled-connection.js';
import { QueryGuard } from './internal/query-guard.js';
import { submit } from './internal/submit.js';
import { hostLabel } from './options.js';
import { isPermanentConnectError } from './sqlstate.js';
import type { HostConfig, PoolOptions } from './types.js';

export type { PooledConnection } from './internal/pooled-connection.js';

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

/**
 * A pool of `pg.Client` connections to ONE host, owned outright: an idle stack (LIFO) the hot
 * path takes from synchronously, a bounded priority wait queue that fails fast, connections
 * opened on demand up to `max`, warm `min`, idle eviction, randomized maximum lifetime,
 * validation of connections idle longer than a threshold, transparent replacement of
 * connections the server or the network killed, and backend cancellation when a caller gives up.
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
  private readonly clientConfig: pg.ClientConfig;
  private readonly factory: ConnectionFactory;
  private readonly queryGuard: QueryGuard;
  /** Idle connections of the current generation; the next caller takes the most recently used one. */
  private readonly idle = new IdleStack<PooledConnection>();
  /** Callers waiting while every connection is borrowed or being opened. */
  private readonly waiters: AcquireQueue<PooledConnection>;
  /** Bumped by reset(): connections of an older generation are destroyed when they come back. */
  private generation = 0;
  /** Connections of the current generation: idle, borrowed and being opened. */
  private size = 0;
  /** Of `size`, the ones being opened. */
  private opening = 0;
  /** `min` is kept warm once started (start() or the first wait). */
  private started = false;
  /** Connection closes in flight, awaited by close(). */
  private readonly closing = new Set<Promise<void>>();
  /** Resolves close() once every connection of the current generation is gone. */
  private emptied: (() => void) | undefined;
  private sweeper: NodeJS.Timeout | undefined;
  private closed = false;
  /** Last connection error, for health output. */
  lastError: string | undefined;

  constructor(
    readonly config: HostConfig,
    private readonly options: Required<PoolOptions>,
    private readonly defaultStatementTimeoutMs: number,
    private readonly component: string,
    /** The manager's `onConnectionError` emitter (absent for a pool used on its own). */
    private readonly connectionErrorHook?: HookEmitter<ConnectionErrorEvent>,
  ) {
    this.label = hostLabel(config);
    this.clientConfig = {
      application_name: component,
      ...config,
      connectionTimeoutMillis: options.connectTimeoutMs,
    };
    if (defaultStatementTimeoutMs > 0) this.clientConfig.statement_timeout = defaultStatementTimeoutMs;
    this.factory = new ConnectionFactory(this.clientConfig, {
      maxLifetimeMs: options.maxLifetimeMs,
      lifetimeJitter: options.lifetimeJitter,
      statementTimeoutMs: defaultStatementTimeoutMs,
      onClientError: (error) => {
        this.counters.clientErrors++;
        this.lastError = error.message;
        this.publishConnectionError(error);
      },
    });
    this.queryGuard = new QueryGuard(this.label, this.clientConfig, this.counters, (conn) => this.release(conn));
    this.waiters = new AcquireQueue<PooledConnection>(this.label, options, this.counters);
    this.sweeper = setInterval(() => this.sweep(Date.now()), options.evictionRunIntervalMs);
    this.sweeper.unref();
  }

  // ---------------------------------------------------------------- connection lifecycle

  /** Opens connections for waiters not yet covered by an open in flight, up to `max`. */
  private grow(): void {
    while (!this.closed && this.waiters.count > this.opening && this.size < this.options.max) this.open();
  }

  /** Opens connections until `min` exist (once started). */
  private ensureMinimum(): void {
    if (!this.started) return;
    while (!this.closed && this.size < this.options.min) this.open();
  }

  /** Opens one connection; it goes to the most urgent waiter, or idle. */
  private open(): void {
    const generation = this.generation;
    this.size++;
    this.opening++;
    this.factory.open(generation).then(
      (conn) => {
        if (generation === this.generation) this.opening--;
        this.counters.created++;
        if (this.closed || generation !== this.generation) {
          this.destroy(conn);
          return;
        }
        this.dispatch(conn);
      },
      (error: Error) => {
        this.counters.connectErrors++;
        this.lastError = error.message;
        if (generation === this.generation) {
          this.opening--;
          this.size--;
        }
        const wrapped = new ConnectionError(`cannot connect to ${this.label}: ${error.message}`, {
          host: this.label,
          sent: false,
          permanent: isPermanentConnectError(error),
          cause: error,
        });
        this.failWaitersIfDown(wrapped);
        this.checkEmptied();
        // Callers still waiting (other connections are alive): try again, paced by the factory.
        this.grow();
      },
    );
  }

  /** When an open fails and no connection to the host is alive, waiting callers fail now instead of at acquireTimeoutMs. */
  private failWaitersIfDown(error: DbPoolError): void {
    if (this.waiters.count === 0) return;
    if (this.size - this.opening > 0) return;
    this.waiters.rejectAll(error);
  }

  /** A connection is free: straight to the most urgent waiter, or onto the idle stack for the next caller. */
  private dispatch(conn: PooledConnection): void {
    if (!this.waiters.handOff(conn)) this.idle.push(conn);
  }

  /** Destroys a borrowed (or just evicted) connection; its slot goes to waiting callers or `min`. */
  destroy(conn: PooledConnection): void {
    conn.broken = true;
    if (conn.destroyed) return;
    conn.destroyed = true;
    if (conn.generation === this.generation) this.size--;
    this.counters.destroyed++;
    const closing = this.factory.close(conn);
    this.closing.add(closing);
    void closing.then(() => this.closing.delete(closing));
    this.checkEmptied();
    this.grow();
    this.ensureMinimum();
  }

  private checkEmptied(): void {
    if (this.size === 0 && this.emptied !== undefined) this.emptied();
  }

  /** Evicts connections idle for `idleTimeoutMs` beyond `min`, and tops up `min`. */
  private sweep(now: number): void {
    if (this.idle.length > 0) {
      for (const conn of this.idle.evictIdle(now, this.options.idleTimeoutMs, this.options.min)) this.destroy(conn);
    }
    this.ensureMinimum();
  }

  /** The channel and the manager's hook get the same payload object; it is built only when one of them listens. */
  private publishConnectionError(error: Error): void {
    const hook = this.connectionErrorHook;
    const toHook = hook?.hasListeners === true;
    if (!channels.connectionError.hasSubscribers && !toHook) return;
    const event: ConnectionErrorEvent = {
      component: this.component,
      host: this.label,
      message: error.message,
      code: (error as { code?: string }).code,
    };
    if (channels.connectionError.hasSubscribers) channels.connectionError.publish(event);
    if (toHook) hook?.emit(event);
  }

  // ---------------------------------------------------------------- borrow / return

  /** Waits for a connection: one is opened for the caller when there is room (see `grow`). */
  private wait(
    priority: number,
    deadlineAt: number,
    signal: AbortSignal | undefined,
    timeoutMs: number,
  ): Promise<PooledConnection> {
    if (this.closed) return Promise.reject(new ClosedError());
    this.started = true;
    const waiting = this.waiters.enqueue(priority, deadlineAt, signal, timeoutMs);
    this.grow();
    return waiting;
  }

  /**
   * Borrows a healthy connection: broken or expired ones are destroyed and replaced, and one
   * idle longer than `validateAfterIdleMs` is checked with `select 1` first.
   */
  acquire(priority: number, deadlineAt = 0, signal?: AbortSignal, timeoutMs = 0): Promise<PooledConnection> {
    const idle = this.closed || signal?.aborted === true ? undefined : this.idle.pop();
    const validateAfter = this.options.validateAfterIdleMs;
    if (idle !== undefined) {
      return isUsable(idle, Date.now(), validateAfter)
        ? Promise.resolve(idle)
        : this.replace(idle, priority, deadlineAt, signal, timeoutMs);
    }
    return this.wait(priority, deadlineAt, signal, timeoutMs).then((conn) =>
      isUsable(conn, Date.now(), validateAfter) ? conn : this.replace(conn, priority, deadlineAt, signal, timeoutMs),
    );
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
      if (!conn.broken && Date.now() < conn.expiresAt) {
        // Idle too long: validate before use.
        if (await validate(conn)) return conn;
        this.counters.validationFailures++;
      }
      if (conn.broken) this.counters.replaced++;
      this.destroy(conn);
      if (attempt > this.options.max) {
        throw new ConnectionError(`no healthy connection to ${this.label}`, { host: this.label, sent: false });
      }
      conn = this.idle.pop() ?? (await this.wait(priority, deadlineAt, signal, timeoutMs));
      if (isUsable(conn, Date.now(), this.options.validateAfterIdleMs)) return conn;
    }
  }

  /** Returns a connection; broken, expired or orphaned (after a reset) ones are destroyed instead. */
  release(conn: PooledConnection): void {
    const now = Date.now();
    conn.lastUsedAt = now;
    if (conn.broken || now >= conn.expiresAt || this.closed || conn.generation !== this.generation) {
      this.destroy(conn);
      return;
    }
    this.dispatch(conn);
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
    let conn = this.closed ? undefined : this.idle.pop();
    if (conn === undefined || !isUsable(conn, Date.now(), this.options.validateAfterIdleMs)) {
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
   * Races a pending query against the deadline and the signal; when the caller gives up, the backend query is
   * cancelled and the connection released once the server is done with it (see {@link QueryGuard}).
   */
  guard<T>(
    conn: PooledConnection,
    pending: Promise<T>,
    deadlineAt: number,
    timeoutMs: number,
    signal: AbortSignal | undefined,
  ): { promise: Promise<T>; deferred: boolean } {
    return this.queryGuard.guard(conn, pending, deadlineAt, timeoutMs, signal);
  }

  /** Maps a pg error to a typed error and marks the connection broken when the session is gone. */
  mapError(error: unknown, conn: PooledConnection | undefined, name: string | undefined, timeoutMs: number): unknown {
    return mapPgError(error, conn, name, timeoutMs, this.label);
  }

  /**
   * Destroys every connection (failover: the host is no longer what it was). Borrowed ones
   * are destroyed when they come back; waiting callers fail with a retriable ConnectionError.
   */
  reset(): void {
    if (this.closed) return;
    this.generation++;
    this.size = 0;
    this.opening = 0;
    this.waiters.rejectAll(new ConnectionError(`pool for ${this.label} was reset`, { host: this.label, sent: false }));
    for (const conn of this.idle.takeAll()) this.destroy(conn);
  }

  /** Opens the `min` warm connections now instead of on first use. */
  start(): void {
    if (this.closed) return;
    this.started = true;
    this.ensureMinimum();
  }

  /** Pool figures for stats(). */
  stats(): { total: number; idle: number; borrowed: number; waiting: number; max: number; min: number } {
    const idle = this.idle.length;
    return {
      total: this.size,
      idle,
      borrowed: this.size - this.opening - idle,
      waiting: this.waiters.count,
      max: this.options.max,
      min: this.options.min,
    };
  }

  /** Closes every connection; borrowed ones once they come back. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.sweeper);
    this.waiters.stop();
    this.waiters.rejectAll(new ClosedError());
    for (const conn of this.idle.takeAll()) this.destroy(conn);
    if (this.size > 0) {
      await new Promise<void>((resolve) => {
        this.emptied = resolve;
      });
    }
    await Promise.all([...this.closing]);
  }
}
