import { performance } from 'node:perf_hooks';
import type { Hook } from '@cryptoscalp/contracts';
import { decorrelatedJitter, RetryBudget } from './backoff.js';
import {
  type BreakerEvent,
  type ConnectionErrorEvent,
  channels,
  type FailoverEvent,
  type QueryTraceContext,
  type ReplicaStateEvent,
} from './channels.js';
import {
  ClosedError,
  CommitUnknownError,
  ConnectionError,
  DbPoolError,
  isDbPoolError,
  isQueryError,
  NoPrimaryError,
  QueryAbortedError,
  QueryTimeoutError,
} from './errors.js';
import { PrimaryTracker, probeHost } from './failover.js';
import type { RunOptions, RunResult } from './host-pool.js';
import { HostEntry } from './internal/host-entry.js';
import { StatementCache, type StatementInfo } from './internal/statement-cache.js';
import { ABORTED, untilAborted } from './internal/until-aborted.js';
import { checkQueryOptions, type ResolvedOptions, resolveOptions } from './options.js';
import { QueryStatsRegistry } from './query-stats.js';
import { ReplicaRouter } from './replica-router.js';
import { Session, type SessionHost } from './session.js';
import { isNotPrimarySqlState, isSerializationSqlState, isTransientSqlState } from './sqlstate.js';
import { Transaction } from './transaction.js';
import type {
  ConnectWaitEvent,
  HealthCheckResult,
  HostHealth,
  PoolManagerOptions,
  QueryOptions,
  QueryResult,
  QueryRole,
  SlowQueryEvent,
  StatementStats,
  TransactionOptions,
} from './types.js';

const ISOLATION = new Set(['read committed', 'repeatable read', 'serializable']);

/** What to do after a failed attempt. */
interface Decision {
  retry: boolean;
  /** The error to throw if not retrying. */
  error: unknown;
  /** Start a primary failover. */
  failover: boolean;
  /** Mark the replica unroutable and read elsewhere. */
  replicaDown: boolean;
}

const noop = () => {};

/**
 * PostgreSQL pool manager: a pool per host (primary, or several candidate primaries, and
 * read replicas), routing by role, replica lag checks, primary failover, retries with
 * decorrelated jitter inside a retry budget, a circuit breaker per host, deadlines that
 * cancel the server-side query, query statistics, health and stats.
 *
 * @example
 * const db = new PoolManager({ primary: { connectionString: process.env.DATABASE_URL } });
 * const { rows } = await db.query('select $1::int as n', [1]);
 * await db.close();
 */
export class PoolManager implements SessionHost {
  /** Component name for health, stats and events. */
  readonly name: string;
  private readonly options: ResolvedOptions;
  private readonly primary: PrimaryTracker;
  private readonly replicas: HostEntry[];
  private readonly router: ReplicaRouter;
  private readonly registry: QueryStatsRegistry;
  private readonly statements: StatementCache;
  private readonly budget: RetryBudget;
  private closed = false;
  private closing: Promise<void> | undefined;
  private readonly counters = {
    queries: 0,
    errors: 0,
    retries: 0,
    timeouts: 0,
    aborts: 0,
    commitUnknown: 0,
    transactions: 0,
    transactionRetries: 0,
    readsOnReplica: 0,
    readsOnPrimary: 0,
    slowQueries: 0,
    slowQueryCallbackErrors: 0,
  };

  constructor(options: PoolManagerOptions) {
    this.options = resolveOptions(options);
    this.name = this.options.name;
    this.primary = new PrimaryTracker(this.options);
    this.replicas = this.options.replicas.map((config) => new HostEntry(config, 'replica', this.options));
    this.router = new ReplicaRouter(this.replicas, this.options);
    this.registry = new QueryStatsRegistry(this.options.maxTrackedStatements);
    this.statements = new StatementCache(this.registry);
    this.budget = new RetryBudget(this.options.retry.budgetRatio, this.options.retry.budgetMinPerSec);
    this.primary.current.pool.start();
    for (const r of this.replicas) r.pool.start();
    this.router.start();
    const hooks = this.options.hooks;
    this.onFailover = hooks.failover.hook;
    this.onBreakerStateChange = hooks.breaker.hook;
    this.onSlowQuery = hooks.slowQuery.hook;
    this.onReplicaStateChange = hooks.replica.hook;
    this.onConnectWait = hooks.connectWait.hook;
    this.onConnectionError = hooks.connectionError.hook;
  }

  /**
   * Calls `listener` when a primary failover ends: `to` is the new primary, or `undefined` when none was found in
   * time. Same payload as `cryptoscalp:db:failover`. Returns a disposable that removes the listener.
   */
  readonly onFailover: Hook<FailoverEvent>;

  /**
   * Calls `listener` when a host's circuit breaker changes state (`open`, `half-open`, `closed`). Same payload as
   * `cryptoscalp:db:breaker`. Returns a disposable that removes the listener.
   */
  readonly onBreakerStateChange: Hook<BreakerEvent>;

  /**
   * Calls `listener` for each query slower than `slowQueryMs`. Same payload as `cryptoscalp:db:slow-query`; replaces
   * the `onSlowQuery` option. Returns a disposable that removes the listener.
   */
  readonly onSlowQuery: Hook<SlowQueryEvent>;

  /**
   * Calls `listener` when a replica enters or leaves the routable set (lag, unreachable, promoted). Same payload as
   * `cryptoscalp:db:replica`. Returns a disposable that removes the listener.
   */
  readonly onReplicaStateChange: Hook<ReplicaStateEvent>;

  /**
   * Calls `listener` every `failover.progressIntervalMs` while queries wait for a writable primary; replaces the
   * `onConnectWait` option. While it (or the option) has a listener, the `E_DB_CONNECT_WAIT` process warning is not
   * emitted. Returns a disposable that removes the listener.
   */
  readonly onConnectWait: Hook<ConnectWaitEvent>;

  /**
   * Calls `listener` when an open pooled connection fails (the server ended an idle session, the network dropped it):
   * the connection is replaced on its next borrow. Same payload as `cryptoscalp:db:connection-error`. Failed opens do
   * not fire it (they surface as `ConnectionError` on the query, and in `stats()`). Returns a disposable that removes
   * the listener.
   */
  readonly onConnectionError: Hook<ConnectionErrorEvent>;

  /**
   * Runs one statement. `role: 'read'` goes to a healthy replica (or the primary), `write`
   * (the default) to the primary. Transient failures are retried within the retry budget;
   * writes only when safe (`idempotent`, or the statement never reached the server).
   *
   * @throws QueryError (SQLSTATE, statement name), QueryTimeoutError, QueryAbortedError,
   *   PoolExhaustedError, CircuitOpenError, CommitUnknownError, NoPrimaryError
   */
  query<R = Record<string, unknown>>(
    text: string,
    params?: unknown[],
    options?: QueryOptions,
  ): Promise<QueryResult<R>> {
    return this.execute<R>(text, params, options, undefined);
  }

  /** A read-your-writes session (see {@link Session}). */
  session(): Session {
    return new Session(this);
  }

  /** @internal shared by query() and Session.query(). */
  async execute<R>(
    text: string,
    params: unknown[] | undefined,
    options: QueryOptions | undefined,
    session: Session | undefined,
  ): Promise<QueryResult<R>> {
    if (this.closed) throw new ClosedError();
    if (options !== undefined) checkQueryOptions(options);
    const started = performance.now();
    const info = this.statements.lookup(text);
    const o = this.options;
    const role: QueryRole = options?.role ?? 'write';
    const timeoutMs = options?.timeoutMs ?? o.queryTimeoutMs;
    const signal = options?.signal;
    if (signal?.aborted) throw new QueryAbortedError({ cause: signal.reason });
    const name = options?.name ?? ((options?.prepare ?? o.prepare) ? info.preparedName : undefined);
    const idempotent = options?.idempotent ?? role === 'read';
    const run: RunOptions = {
      priority: options?.priority ?? (role === 'read' ? 1 : 0),
      deadlineAt: timeoutMs > 0 ? Date.now() + timeoutMs : 0,
      timeoutMs,
      signal,
      captureLsn: session !== undefined && role === 'write',
    };
    this.counters.queries++;
    this.budget.deposit();
    let attempt = 1;
    let delay = o.retry.baseDelayMs;
    let exclude: HostEntry | undefined;
    for (;;) {
      let host: HostEntry;
      if (role === 'read') {
        const replica = this.router.pick(session?.minLsn, exclude);
        if (replica !== undefined) {
          host = replica;
          this.counters.readsOnReplica++;
        } else {
          if (!o.replica.fallbackToPrimary && this.replicas.length > 0) {
            this.fail(info, started);
            throw new ConnectionError('no routable replica', { sent: false });
          }
          host = this.primary.failingOver ? await this.waitForPrimary(signal) : this.primary.current;
          this.counters.readsOnPrimary++;
        }
      } else {
        host = this.primary.failingOver ? await this.waitForPrimary(signal) : this.primary.current;
      }
      try {
        let outcome: RunResult;
        if (!channels.query.hasSubscribers && host.breaker.closedFast) {
          // Hot path (no tracing subscriber, breaker closed): breaker bookkeeping inline, no wrapper promise.
          const t0 = performance.now();
          try {
            outcome = await host.pool.run(text, params, name, run);
          } catch (error) {
            host.breaker.failed(error);
            throw error;
          }
          host.breaker.succeeded(performance.now() - t0);
        } else {
          outcome = await this.runOn(host, text, params, name, info, role, run);
        }
        const { result, lsn } = outcome;
        const durationMs = performance.now() - started;
        const rowCount = result.rowCount ?? 0;
        info.entry.record(durationMs, rowCount, false);
        if (o.slowQueryMs > 0 && durationMs >= o.slowQueryMs) this.slowQuery(info, name, durationMs, host, role);
        if (run.captureLsn) session?.noteLsn(lsn);
        return {
          rows: result.rows as R[],
          rowCount,
          fields: result.fields,
          durationMs,
          host: host.label,
          role: host.kind === 'primary' ? 'write' : 'read',
        };
      } catch (error) {
        const d = this.decide(error, host, idempotent);
        if (d.failover) this.primary.failover(host, reasonOf(error)).catch(noop);
        if (d.replicaDown) {
          this.router.markDown(host, reasonOf(error));
          exclude = host;
        }
        if (
          !d.retry ||
          attempt >= o.retry.maxAttempts ||
          (run.deadlineAt > 0 && Date.now() >= run.deadlineAt) ||
          signal?.aborted === true ||
          !this.budget.tryWithdraw()
        ) {
          this.fail(info, started);
          throw d.error;
        }
        attempt++;
        this.counters.retries++;
        delay = decorrelatedJitter(delay, o.retry.baseDelayMs, o.retry.maxDelayMs);
        // A write waits for the running failover (if any) instead of sleeping blindly.
        if (role === 'write' && this.primary.failingOver) await this.waitForPrimary(signal);
        else await sleep(delay, run.deadlineAt);
      }
    }
  }

  private fail(info: StatementInfo, started: number): void {
    this.counters.errors++;
    info.entry.record(performance.now() - started, 0, true);
  }

  /** Waits for the failover in progress; the caller's signal ends the wait (`QueryAbortedError`). */
  private async waitForPrimary(signal?: AbortSignal): Promise<HostEntry> {
    try {
      if (signal === undefined) return await this.primary.ready();
      if (signal.aborted) throw new QueryAbortedError({ cause: signal.reason });
      const host = await untilAborted(this.primary.ready(), signal);
      if (host === ABORTED) throw new QueryAbortedError({ cause: signal.reason });
      return host;
    } catch (error) {
      if (isDbPoolError(error)) throw error;
      throw new NoPrimaryError('no writable primary', { cause: error });
    }
  }

  private runOn(
    host: HostEntry,
    text: string,
    params: unknown[] | undefined,
    name: string | undefined,
    info: StatementInfo,
    role: QueryRole,
    run: RunOptions,
  ): Promise<RunResult> {
    const tc = channels.query;
    const exec = () => host.pool.run(text, params, name, run);
    if (!tc.hasSubscribers) return host.breaker.run(exec);
    const context: QueryTraceContext = {
      component: this.name,
      operation: 'query',
      statement: info.normalized,
      name,
      role,
      host: host.label,
    };
    return tc.tracePromise(async () => {
      const r = await host.breaker.run(exec);
      context.rowCount = r.result.rowCount ?? 0;
      return r;
    }, context);
  }

  /** Classifies a failed attempt: retry or not, and whether the host is suspect. */
  private decide(error: unknown, host: HostEntry, idempotent: boolean): Decision {
    const onPrimary = host.kind === 'primary';
    if (error instanceof QueryTimeoutError) this.counters.timeouts++;
    if (error instanceof QueryAbortedError) this.counters.aborts++;
    if (isQueryError(error)) {
      const notPrimary = onPrimary && isNotPrimarySqlState(error.sqlState);
      // A SQLSTATE means the server answered: an auto-committed statement that failed did not commit.
      return {
        retry: isTransientSqlState(error.sqlState) || notPrimary || error.sqlState === '25006',
        error,
        failover: notPrimary,
        replicaDown: !onPrimary && isNotPrimarySqlState(error.sqlState) && error.sqlState !== '25006',
      };
    }
    if (error instanceof ConnectionError) {
      // Unknown database, bad credentials, unknown host: no other attempt or failover can succeed.
      // A replica is taken out of routing so reads go elsewhere; on the primary the caller learns now.
      if (error.permanent) return { retry: !onPrimary, error, failover: false, replicaDown: !onPrimary };
      if (error.sent && !idempotent) {
        this.counters.commitUnknown++;
        return {
          retry: false,
          error: new CommitUnknownError({ host: host.label, cause: error }),
          failover: onPrimary,
          replicaDown: false,
        };
      }
      return { retry: true, error, failover: onPrimary, replicaDown: !onPrimary };
    }
    if (isDbPoolError(error) && error.code === 'E_DB_CIRCUIT_OPEN') {
      // Reads can go elsewhere; a write has nowhere else to go.
      return { retry: !onPrimary, error, failover: false, replicaDown: !onPrimary };
    }
    return { retry: false, error, failover: false, replicaDown: false };
  }

  private slowQuery(
    info: StatementInfo,
    name: string | undefined,
    durationMs: number,
    host: HostEntry,
    role: QueryRole,
  ) {
    this.counters.slowQueries++;
    const hasSubscribers = channels.slowQuery.hasSubscribers;
    const callback = this.options.onSlowQuery;
    const hook = this.options.hooks.slowQuery;
    if (!hasSubscribers && callback === undefined && !hook.hasListeners) return;
    const event: SlowQueryEvent = {
      component: this.name,
      statement: info.normalized,
      name,
      durationMs,
      host: host.label,
      role,
    };
    if (hasSubscribers) channels.slowQuery.publish(event);
    hook.emit(event);
    if (callback !== undefined) {
      try {
        callback(event);
      } catch {
        // a logger's failure must not fail the query; it is counted
        this.counters.slowQueryCallbackErrors++;
      }
    }
  }

  /**
   * Runs `fn` in a transaction on the primary. Serialization failures and deadlocks
   * (40001/40P01), and failures before COMMIT was sent, re-run `fn` (up to `retries` times),
   * so `fn` must be safe to re-run. If the connection is lost after COMMIT was sent, the
   * outcome is unknown: {@link CommitUnknownError}, never retried.
   */
  transaction<T>(fn: (tx: Transaction) => Promise<T>, options?: TransactionOptions): Promise<T> {
    return this.runTransaction(fn, options, undefined);
  }

  /** @internal shared by transaction() and Session.transaction(). */
  async runTransaction<T>(
    fn: (tx: Transaction) => Promise<T>,
    options: TransactionOptions | undefined,
    session: Session | undefined,
  ): Promise<T> {
    if (this.closed) throw new ClosedError();
    const o = this.options;
    const isolation = options?.isolation ?? 'read committed';
    if (!ISOLATION.has(isolation))
      throw new DbPoolError('E_DB_INVALID_OPTION', `invalid isolation ${isolation}`, { field: 'isolation' });
    const retries = options?.retries ?? 3;
    const timeoutMs = options?.timeoutMs ?? o.queryTimeoutMs;
    const deadlineAt = timeoutMs > 0 ? Date.now() + timeoutMs : 0;
    const signal = options?.signal;
    const priority = options?.priority ?? 0;
    const begin = `begin isolation level ${isolation}${options?.readOnly ? ' read only' : ''}`;
    this.counters.transactions++;
    this.budget.deposit();
    let delay = o.retry.baseDelayMs;
    for (let attempt = 0; ; attempt++) {
      if (signal?.aborted) throw new QueryAbortedError({ cause: signal.reason });
      const host = this.primary.failingOver ? await this.waitForPrimary(signal) : this.primary.current;
      let commitSent = false;
      try {
        return await this.traceTransaction(host, () =>
          host.breaker.run(async () => {
            const conn = await host.pool.acquire(priority, deadlineAt, signal, timeoutMs);
            const tx = new Transaction(host, conn, this.statements, o.prepare, deadlineAt, timeoutMs, signal);
            try {
              await tx.raw(begin);
              if (timeoutMs > 0) await tx.raw(`set local statement_timeout = ${Math.floor(timeoutMs)}`);
              const value = await fn(tx);
              commitSent = true;
              await tx.raw('commit');
              tx.finished = true;
              if (session !== undefined) {
                // Committed: a failure to read the WAL position only pins the session's reads to the primary.
                const r = await tx.raw('select pg_current_wal_lsn()::text as lsn').catch(() => undefined);
                session.noteLsn((r?.rows[0] as { lsn: string } | undefined)?.lsn);
              }
              return value;
            } catch (error) {
              tx.finished = true;
              if (!conn.broken && !tx.handedOff && !(commitSent && !isQueryError(error))) {
                await conn.client.query('rollback').catch(() => {
                  conn.broken = true;
                });
              }
              throw error;
            } finally {
              if (!tx.handedOff) host.pool.release(conn);
            }
          }, false),
        );
      } catch (error) {
        // Database errors arrive typed (tx.raw maps them); anything else is the callback's own error.
        const mapped = error;
        if (commitSent && mapped instanceof ConnectionError) {
          this.counters.commitUnknown++;
          if (host.kind === 'primary') this.primary.failover(host, reasonOf(mapped)).catch(noop);
          throw new CommitUnknownError({ host: host.label, cause: mapped });
        }
        if (mapped instanceof ConnectionError && mapped.permanent) {
          this.counters.errors++;
          throw mapped;
        }
        const sqlState = isQueryError(mapped) ? mapped.sqlState : undefined;
        const notPrimary = isNotPrimarySqlState(sqlState);
        const connectionLost = mapped instanceof ConnectionError;
        if (notPrimary || connectionLost) this.primary.failover(host, reasonOf(mapped)).catch(noop);
        // Retry when the server said the transaction failed as a whole, or it never reached COMMIT.
        const retriable =
          isSerializationSqlState(sqlState) || notPrimary || sqlState === '25006' || (connectionLost && !commitSent);
        if (
          !retriable ||
          attempt >= retries ||
          (deadlineAt > 0 && Date.now() >= deadlineAt) ||
          !this.budget.tryWithdraw()
        ) {
          this.counters.errors++;
          throw mapped;
        }
        this.counters.transactionRetries++;
        delay = decorrelatedJitter(delay, o.retry.baseDelayMs, o.retry.maxDelayMs);
        if (this.primary.failingOver) await this.waitForPrimary(signal);
        else await sleep(delay, deadlineAt);
      }
    }
  }

  private traceTransaction<T>(host: HostEntry, fn: () => Promise<T>): Promise<T> {
    const tc = channels.query;
    if (!tc.hasSubscribers) return fn();
    const context: QueryTraceContext = {
      component: this.name,
      operation: 'transaction',
      statement: 'transaction',
      role: 'write',
      host: host.label,
    };
    return tc.tracePromise(fn, context);
  }

  /** Statistics per normalized statement, most total time first. */
  queryStats(): StatementStats[] {
    return this.registry.snapshot();
  }

  /** Forgets query statistics. */
  resetQueryStats(): void {
    this.registry.reset();
    this.statements.clear();
  }

  /**
   * Cheap synchronous snapshot: manager counters, the current primary, and per host the
   * pool figures (total/idle/borrowed/waiting), breaker state, role, lag and counters.
   */
  stats(): Record<string, unknown> {
    const hosts: Record<string, unknown> = {};
    const describe = (h: HostEntry, role: string) => ({
      host: h.label,
      role,
      ...h.pool.stats(),
      outstanding: h.pool.outstanding,
      breaker: h.breaker.state,
      breakerRejected: h.breaker.rejected,
      slowCalls: h.breaker.slowCalls,
      ...(h.kind === 'replica' ? { routable: h.routable, lagMs: h.lagMs ?? null, picks: h.picks } : {}),
      ...h.pool.counters,
    });
    // Keyed by the option path, not `host:port`: two entries may share an address (a replica on the primary's).
    this.primary.hosts.forEach((h, i) => {
      hosts[`primary[${i}]`] = describe(h, h === this.primary.current ? 'primary' : 'standby-candidate');
    });
    this.replicas.forEach((r, i) => {
      hosts[`replicas[${i}]`] = describe(r, 'replica');
    });
    return {
      name: this.name,
      primary: this.primary.current.label,
      failingOver: this.primary.failingOver,
      failovers: this.primary.failovers,
      ...this.counters,
      hookListenerErrors: this.options.hooks.listenerErrors,
      retryBudgetTokens: this.budget.available,
      retryBudgetExhausted: this.budget.exhausted,
      trackedStatements: this.registry.size,
      hosts,
    };
  }

  /**
   * Probes every host (a fresh connection each, so a saturated pool does not hide a healthy
   * server): reachable, role, latency, replay lag. `fail` when no writable primary is
   * reachable; `warn` when a replica is unreachable, lagging or in the wrong role, or a
   * breaker is open; `pass` otherwise. `observedValue` is the primary's latency in ms.
   */
  async healthCheck(signal?: AbortSignal): Promise<HealthCheckResult> {
    const time = new Date().toISOString();
    if (this.closed) return { status: 'fail', output: 'closed', time };
    const timeoutMs = Math.max(250, Math.min(2_000, this.options.pool.connectTimeoutMs));
    const primary = this.primary.current;
    const work = Promise.all([probeHost(primary, timeoutMs), ...this.replicas.map((r) => probeHost(r, timeoutMs))]);
    const results = signal === undefined ? await work : await untilAborted(work, signal);
    if (results === ABORTED) return { status: 'fail', output: 'health check aborted', time };
    const [p, ...rs] = results;
    const maxLag = this.options.replica.maxReplicaLagMs;
    const hosts: HostHealth[] = [];
    const primaryHealth: HostHealth = {
      host: p!.label,
      role: p!.reachable ? (p!.inRecovery ? 'standby' : 'primary') : 'unknown',
      reachable: p!.reachable,
      latencyMs: round(p!.latencyMs),
      status: !p!.reachable || p!.inRecovery ? 'fail' : primary.breaker.state === 'closed' ? 'pass' : 'warn',
      ...(p!.error === undefined ? {} : { error: p!.error }),
    };
    hosts.push(primaryHealth);
    rs.forEach((r, i) => {
      const entry = this.replicas[i]!;
      const lag = entry.lagMs;
      const ok =
        r.reachable &&
        r.inRecovery === true &&
        (maxLag === 0 || lag === undefined || lag <= maxLag) &&
        entry.breaker.state === 'closed';
      hosts.push({
        host: r.label,
        role: r.reachable ? (r.inRecovery ? 'replica' : 'primary') : 'unknown',
        reachable: r.reachable,
        latencyMs: round(r.latencyMs),
        ...(lag === undefined ? {} : { lagMs: round(lag) }),
        status: ok ? 'pass' : 'warn',
        ...(r.error === undefined ? {} : { error: r.error }),
      });
    });
    const status = primaryHealth.status === 'fail' ? 'fail' : hosts.some((h) => h.status !== 'pass') ? 'warn' : 'pass';
    const problems = hosts
      .filter((h) => h.status !== 'pass')
      .map((h) => `${h.host} ${h.role} ${h.reachable ? 'reachable' : 'unreachable'}`);
    const result: HealthCheckResult = {
      status,
      observedValue: round(p!.latencyMs),
      observedUnit: 'ms',
      time,
      details: { primary: primaryHealth.host, hosts },
    };
    if (problems.length > 0) result.output = problems.join('; ');
    return result;
  }

  /** Runs a replica lag check now (it also runs on its interval). */
  async checkReplicas(): Promise<void> {
    await this.router.checkAll();
  }

  /** Closes every pool and stops background work. Idempotent. */
  close(): Promise<void> {
    if (this.closing !== undefined) return this.closing;
    this.closed = true;
    this.router.stop();
    this.closing = Promise.all([this.primary.close(), ...this.replicas.map((r) => r.close())]).then(noop);
    return this.closing;
  }
}

function reasonOf(error: unknown): string {
  if (isQueryError(error)) return `sqlstate ${error.sqlState}`;
  return error instanceof Error ? error.message : String(error);
}

function round(n: number): number {
  return Math.round(n * 100) / 100;
}

function sleep(ms: number, deadlineAt: number): Promise<void> {
  const wait = deadlineAt > 0 ? Math.max(0, Math.min(ms, deadlineAt - Date.now())) : ms;
  return new Promise((resolve) => setTimeout(resolve, wait));
}
