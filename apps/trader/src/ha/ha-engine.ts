import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { Redis } from 'ioredis';
import pg from 'pg';
import { Gauge, type Metric } from 'prom-client';
import { HealthComponent } from '../app/components/health-component.js';
import { JournalComponent } from '../app/components/journal-component.js';
import { ObservabilityComponent } from '../app/components/observability-component.js';
import { OpsHttpComponent } from '../app/components/ops-http-component.js';
import { RedisEventLog, raiseEventLogFence } from '../bus/redis-event-log.js';
import type { TraderConfig } from '../config/config-types.js';
import type { Log } from '../internal/log.js';
import { acquireDataDirLock, type DataDirLock } from '../journal/data-dir-lock.js';
import type { Component } from '../kernel/component.js';
import { Kernel } from '../kernel/kernel.js';
import type { ExecutionClient } from '../model/execution-client.js';
import type { SqlRunner } from '../persistence/sql-database.js';
import type { TraderRecord } from '../read-model/trader-record.js';
import { EngineLease } from './engine-lease.js';
import { FencedExecution } from './fenced-execution.js';
import { LeaderComponent, StandbyComponent } from './ha-components.js';
import { JournalFollower } from './journal-follower.js';

/** What the active engine's composition takes from active/standby. */
export interface LeaderHooks {
  /** The fencing token of this leadership (the event stream's appends carry it). */
  readonly epoch: number;
  /** `ha`, declared first in the active kernel. */
  readonly component: Component;
  /** `cryptoscalp_trader_engine_active`. */
  readonly activeMetric: Metric;
  /** The journal writer's check in each transaction. */
  readonly fence: (tx: SqlRunner) => Promise<void>;
  /** Wraps the venue: an action goes out only once `commit` resolved and while the lease is valid. */
  wrapExecution(venue: ExecutionClient, commit: () => Promise<void>): ExecutionClient;
}

/**
 * The database URL an active engine's own sessions use: the server ends a transaction left idle longer than `ms`
 * (`idle_in_transaction_session_timeout`), so a leader paused inside a journal-writer transaction releases its row
 * locks (the writer cursor) instead of blocking the next leader's writer until it resumes.
 */
export function withIdleTransactionTimeout(url: string, ms: number): string {
  const u = new URL(url);
  const options = u.searchParams.get('options');
  u.searchParams.set('options', `${options === null ? '' : `${options} `}-c idle_in_transaction_session_timeout=${ms}`);
  return u.toString();
}

/** Options of {@link HaEngine}. */
export interface HaEngineOptions {
  config: TraderConfig;
  log: Log;
  /** The bus's Redis connection (shared with the rest of the process). */
  redis: () => Redis;
  /** Metrics every monitoring registry of the process carries (the log counter). */
  extraMetrics: readonly Metric[];
  metricsToken: string;
  /** Builds the active engine's kernel (not started) on the port the standby's server had. */
  activate: (leader: LeaderHooks, port: number) => Kernel;
  /** The process must end (non-zero): the lease was lost, or the takeover failed. */
  onFatal: (reason: string) => void;
}

/**
 * One engine process of an active/standby group. It starts as a standby (a kernel of `ha`, monitoring, health and
 * the ops HTTP server; the journal follows the event stream) and tries to acquire the lease every
 * `ha.renewIntervalMs`. On acquiring it takes over: raises the stream's fence to its epoch (the old leader can
 * append nothing more), reads the rest of the stream into the journal, stops the standby kernel and starts the
 * active engine's kernel, whose start replays the journal and reconciles open orders like a restart. The same loop
 * then renews the lease; a lost lease (or a refused fenced write) demotes the process: it acts on nothing more and
 * ends non-zero, so its supervisor restarts it as a standby with a fresh state (cutting the journal's uncommitted
 * tail) rather than this process carrying a half-written in-memory state on.
 */
export class HaEngine {
  readonly holder: string;
  readonly #o: HaEngineOptions;
  readonly #pool: pg.Pool;
  readonly #lease: EngineLease;
  readonly #gauge: Gauge;
  readonly #reader: RedisEventLog<TraderRecord>;
  readonly #follower: JournalFollower;
  readonly #standby: Kernel;
  readonly #ops: OpsHttpComponent;
  readonly #dataDir: string;
  #lock: DataDirLock | undefined;
  #active: Kernel | undefined;
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;
  #demoted: string | undefined;
  #takeover: { acquiredAt: number; ms: number; catchUpMs: number; startMs: number } | undefined;

  constructor(options: HaEngineOptions) {
    this.#o = options;
    const { config } = options;
    this.holder = config.ha.holderId || `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
    // Its own small pool: a renewal must never queue behind the writer's batches or db-pool's failover wait.
    this.#pool = new pg.Pool({
      connectionString: config.database.url,
      max: 2,
      // A slow answer still counts (validity runs from when the statement was sent), so wait up to the TTL.
      connectionTimeoutMillis: config.ha.leaseTtlMs,
      query_timeout: config.ha.leaseTtlMs,
    });
    this.#pool.on('error', () => undefined);
    this.#lease = new EngineLease({
      db: { query: async (text, params) => ({ rows: (await this.#pool.query(text, params)).rows }) },
      schema: config.database.schema,
      group: config.bus.key,
      holder: this.holder,
      ttlMs: config.ha.leaseTtlMs,
      // While active, renewals run on a thread of their own: a busy event loop here does not delay them.
      renewalThread: { connectionString: config.database.url, intervalMs: config.ha.renewIntervalMs },
    });
    this.#gauge = new Gauge({
      name: 'cryptoscalp_trader_engine_active',
      help: '1 on the active engine of an active/standby group, 0 on a standby',
      registers: [],
    });
    const journal = new JournalComponent(config, options.log);
    this.#dataDir = journal.dataDir;
    this.#reader = new RedisEventLog<TraderRecord>({
      name: 'event-stream-follower',
      redis: options.redis(),
      log: (line) => options.log(`trader: ${line}`),
      key: `${config.bus.key}:events`,
    });
    this.#follower = new JournalFollower(this.#reader, journal.path, {
      fsync: config.journal.fsync,
      fsyncIntervalMs: config.journal.fsyncIntervalMs,
      // A standby starts a segment where the leader did (at its snapshot entries); nothing is durable to it, so it
      // keeps its archived segments until it leads and its writer says PostgreSQL holds them.
      retainSegments: config.journal.retainSegments,
    });
    // The standby serves no traffic to drain: its server may close at once when it takes over.
    const standbyConfig = { ...config, http: { ...config.http, shutdownDelayMs: 0 } };
    const kernel = new Kernel({ log: options.log });
    kernel.add(new StandbyComponent(this.#lease, this.#follower, this.#gauge));
    const observability = kernel.add(
      new ObservabilityComponent(config, undefined, () => 0, [...options.extraMetrics, this.#gauge]),
    );
    const health = kernel.add(new HealthComponent(standbyConfig, () => kernel.list()));
    this.#ops = kernel.add(new OpsHttpComponent(config, health, observability, options.metricsToken));
    this.#standby = kernel;
  }

  /** Starts as a standby; resolves with the ops server's URL. */
  async start(): Promise<string> {
    this.#lock = acquireDataDirLock(this.#dataDir);
    try {
      await this.#standby.start();
    } catch (e) {
      this.#lock.release();
      throw e;
    }
    this.#schedule();
    return this.#ops.url();
  }

  /** The components of the kernel running now. */
  components(): readonly Component[] {
    return (this.#active ?? this.#standby).list();
  }

  /** Role, epoch and the takeover's timings. */
  summary(): Record<string, unknown> {
    return {
      role: this.#demoted !== undefined ? 'demoted' : this.#active !== undefined ? 'active' : 'standby',
      holder: this.holder,
      epoch: this.#lease.epoch,
      ...(this.#takeover === undefined ? {} : { takeover: this.#takeover }),
      ...(this.#demoted === undefined ? {} : { demoted: this.#demoted }),
    };
  }

  /** The next attempt `renewIntervalMs` after the start of the last one (a slow statement does not stretch it). */
  #schedule(tookMs = 0): void {
    if (this.#stopped || this.#demoted !== undefined) return;
    const delay = Math.max(0, this.#o.config.ha.renewIntervalMs - tookMs);
    const due = performance.now() + delay;
    this.#timer = setTimeout(() => void this.#tick(due), delay);
  }

  /** @param due when the timer should have fired: a busy event loop fires it late, which also eats into the lease. */
  async #tick(due: number): Promise<void> {
    const wasActive = this.#lease.state === 'active';
    const t0 = performance.now();
    const state = await this.#lease.tick();
    const took = performance.now() - t0;
    const late = t0 - due;
    // A busy event loop or a slow renewal is the warning before a demotion: say which (the renewals of the active
    // engine run on their own thread; this loop only takes up what they found).
    if (wasActive && took + late > this.#o.config.ha.renewIntervalMs)
      this.#o.log(
        `trader: lease check took ${Math.round(took)} ms after its timer fired ${Math.round(late)} ms late (slowest renewal ${Math.round(this.#lease.slowestRenewalMs ?? took)} ms; lease ${this.#o.config.ha.leaseTtlMs} ms, renewal every ${this.#o.config.ha.renewIntervalMs} ms)`,
        'warn',
      );
    if (this.#stopped) return;
    if (state === 'lost') {
      this.#demote(`the engine lease (epoch ${this.#lease.epoch}) was not renewed in time`);
      return;
    }
    // Renewals go on through the takeover, so a slow start does not let the lease lapse.
    this.#schedule(took);
    if (state === 'active' && !wasActive) await this.#takeOver();
  }

  async #takeOver(): Promise<void> {
    const t0 = performance.now();
    const acquiredAt = Date.now();
    const { config, log } = this.#o;
    const epoch = this.#lease.epoch;
    try {
      const fence = await raiseEventLogFence(this.#o.redis(), `${config.bus.key}:events`, epoch);
      if (fence !== epoch) {
        this.#demote(`a newer leader (epoch ${fence}) raised the event stream's fence`);
        return;
      }
      await this.#follower.finish();
      const t1 = performance.now();
      const port = Number(new URL(this.#ops.url()).port);
      await this.#standby.stop('taking over');
      await this.#reader.close();
      this.#lock?.release();
      const leader: LeaderHooks = {
        epoch,
        component: new LeaderComponent(this.#lease, this.#gauge),
        activeMetric: this.#gauge,
        fence: this.#lease.fence(),
        wrapExecution: (venue, commit) =>
          new FencedExecution({
            inner: venue,
            commit: () =>
              commit().catch((e: unknown) => {
                if (/fenced/.test((e as Error).message)) this.#demote((e as Error).message);
                throw e;
              }),
            leaseValid: () => this.#lease.validLocally(),
            onRefused: (why) => {
              if (!this.#lease.validLocally()) this.#demote(why);
            },
          }),
      };
      if (this.#stopped) return;
      this.#active = this.#o.activate(leader, port);
      await this.#active.start();
      const t2 = performance.now();
      this.#takeover = {
        acquiredAt,
        ms: Math.round(t2 - t0),
        catchUpMs: Math.round(t1 - t0),
        startMs: Math.round(t2 - t1),
      };
      log(
        `trader: active engine: lease epoch ${epoch} acquired at ${acquiredAt}, taken over in ${this.#takeover.ms} ms (fence and journal catch-up ${this.#takeover.catchUpMs} ms, start ${this.#takeover.startMs} ms; ${this.#follower.counts.followed} entries followed)`,
      );
    } catch (e) {
      this.#demote(`takeover failed: ${(e as Error).message}`);
    }
  }

  /** Once: acts on nothing more (the lease is marked lost, so the venue wrapper refuses) and asks to end. */
  #demote(reason: string): void {
    if (this.#demoted !== undefined || this.#stopped) return;
    const lease = this.#lease;
    if (lease.lastError !== undefined)
      reason += ` (last lease error: ${lease.lastError}, ${lease.failures} failed statements)`;
    this.#demoted = reason;
    this.#lease.markLost();
    this.#gauge.set(0);
    clearTimeout(this.#timer);
    this.#o.log(
      `trader: demoted: ${reason}; this engine sends nothing more to the venue and writes nothing more to the stream or PostgreSQL; exiting for the supervisor to restart it as a standby`,
      'error',
    );
    this.#o.onFatal(`demoted: ${reason}`);
  }

  /** Stops whichever kernel runs (an active one releases the lease last), then the follower and the lease pool. */
  async stop(reason: string): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    if (this.#active !== undefined) await this.#active.stop(reason);
    else await this.#standby.stop(reason);
    await this.#follower.close();
    await this.#reader.close().catch(() => undefined);
    this.#lock?.release();
    await this.#lease.close();
    await this.#pool.end().catch(() => undefined);
  }
}
