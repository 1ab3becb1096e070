import { TraderError } from '../errors.js';
import { checkSchemaName } from '../persistence/schema.js';
import type { SqlRunner } from '../persistence/sql-database.js';
import { LeaseRenewalThread, monotonicMs } from './lease-renewal-thread.js';

/** Where this process stands in the lease: trying to acquire, holding it, or out for good. */
export type LeaseState = 'standby' | 'active' | 'lost' | 'closed';

/** Options of {@link EngineLease}. */
export interface EngineLeaseOptions {
  /** Runs the lease SQL; its own small pool, so a renewal never waits behind the journal writer's work. */
  db: SqlRunner;
  /** Schema of the lease table (the trader's schema). */
  schema: string;
  /** One lease per group of engines that feed the same event stream (the `bus.key`). */
  group: string;
  /** This process. */
  holder: string;
  /** Lifetime of the lease from the database's clock at each acquisition or renewal. */
  ttlMs: number;
  /**
   * Safety margin of the local validity: the lease counts as held until `sentAt + ttlMs - marginMs` on this process's
   * monotonic clock, where `sentAt` is when the acquiring or renewing statement was sent (the database's expiry is
   * later than that). @default ttlMs / 10
   */
  marginMs?: number;
  /** Monotonic clock (ms). @default performance.now (the process-wide monotonic clock with `renewalThread`) */
  now?: () => number;
  /**
   * Renew on a worker thread with a connection of its own while active (see {@link LeaseRenewalThread}), so the
   * engine's event loop, however busy, does not delay renewals; `tick()` then only reads what the thread found.
   * @default renewals run in `tick()`
   */
  renewalThread?: { connectionString: string; intervalMs: number };
}

/**
 * A lease with a fencing token in PostgreSQL: one row per group (holder, epoch, expires_at by the database's clock).
 * Acquiring and renewing are one conditional statement each:
 *
 * - acquire (a standby): succeeds only when the lease has expired; the epoch is incremented, so every takeover gets
 *   a fencing token greater than any before it;
 * - renew (the holder): succeeds only while this holder still holds this epoch and the lease has not expired; a
 *   renewal that comes too late fails even if nobody took over, so an expired lease is lost for good (state `lost`).
 *
 * The holder also checks the lease locally before acting ({@link validLocally}), on its monotonic clock, so a pause
 * (SIGSTOP, a long GC) longer than the lease stops it before its next venue action even before it can ask the
 * database.
 */
export class EngineLease {
  #state: LeaseState = 'standby';
  #epoch = 0;
  #validUntil = Number.NEGATIVE_INFINITY;
  #thread: LeaseRenewalThread | undefined;
  readonly #table: string;
  readonly #marginMs: number;
  readonly #now: () => number;
  /** Failed statements (database away); the last one's message until the next success. */
  failures = 0;
  lastError: string | undefined;

  /** @throws TraderError `E_TRADER_INVALID_OPTION` naming the field. */
  constructor(private readonly options: EngineLeaseOptions) {
    this.#table = `${checkSchemaName(options.schema)}.engine_lease`;
    if (!Number.isSafeInteger(options.ttlMs) || options.ttlMs < 1)
      throw new TraderError('E_TRADER_INVALID_OPTION', 'ttlMs must be a positive integer', { field: 'ttlMs' });
    this.#marginMs = options.marginMs ?? Math.floor(options.ttlMs / 10);
    if (!(this.#marginMs >= 0 && this.#marginMs < options.ttlMs))
      throw new TraderError('E_TRADER_INVALID_OPTION', 'marginMs must be in [0, ttlMs)', { field: 'marginMs' });
    if (options.holder === '' || options.group === '')
      throw new TraderError('E_TRADER_INVALID_OPTION', 'holder and group must not be empty', {
        field: options.holder === '' ? 'holder' : 'group',
      });
    // The renewal thread publishes its validity on the process-wide monotonic clock: the lease reads the same one.
    this.#now = options.renewalThread !== undefined ? monotonicMs : (options.now ?? (() => performance.now()));
    // Started now, while a standby: the thread's start and its connection must not eat into the first lease.
    if (options.renewalThread !== undefined)
      this.#thread = LeaseRenewalThread.start({
        ...options.renewalThread,
        table: this.#table,
        group: options.group,
        holder: options.holder,
        ttlMs: options.ttlMs,
        marginMs: this.#marginMs,
      });
  }

  /** Current state. */
  get state(): LeaseState {
    return this.#state;
  }

  /** The fencing token held (0 before the first acquisition). */
  get epoch(): number {
    return this.#epoch;
  }

  /** The lease table, `<schema>.engine_lease`. */
  get table(): string {
    return this.#table;
  }

  /**
   * Creates the table and the group's row (expired, epoch 0) if missing. Idempotent; engines starting together may
   * race on `create ... if not exists` (a unique violation in the catalog), so that is tried once more.
   */
  async prepare(): Promise<void> {
    try {
      await this.#create();
    } catch (e) {
      const code = (e as { code?: string }).code;
      if (code !== '23505' && code !== '42P07') throw e;
      await this.#create();
    }
  }

  async #create(): Promise<void> {
    const { db, schema, group } = this.options;
    await db.query(`create schema if not exists ${checkSchemaName(schema)}`);
    await db.query(
      `create table if not exists ${this.#table} (lease_group text primary key, holder text not null, epoch bigint not null, expires_at timestamptz not null)`,
    );
    await db.query(
      `insert into ${this.#table} (lease_group, holder, epoch, expires_at) values ($1, '', 0, '-infinity') on conflict (lease_group) do nothing`,
      [group],
    );
  }

  /**
   * One attempt: a standby tries to acquire, the holder renews. Returns the state afterwards; never throws. A
   * statement that fails (database away) is counted and changes nothing, except that the holder loses the lease
   * once it is no longer valid locally.
   */
  async tick(): Promise<LeaseState> {
    if (this.#state === 'lost' || this.#state === 'closed') return this.#state;
    const active = this.#state === 'active';
    const thread = this.#thread;
    if (active && thread?.renewing === true) {
      // The thread renews; this only takes up what it found.
      this.failures = thread.failures;
      this.lastError = thread.lastError;
      if (thread.lost || !this.validLocally()) this.markLost();
      return this.#state;
    }
    const sentAt = this.#now();
    let epoch: number | undefined;
    try {
      const { group, holder, ttlMs } = this.options;
      const { rows } = await this.options.db.query(
        active
          ? // A renewal changes no key column (a `for no key update` row lock), so it does not wait for a journal
            // writer's transaction holding the fence's `for key share` lock: nothing in the lease's way but the row.
            `update ${this.#table} set expires_at = now() + $3 * interval '1 millisecond'
             where lease_group = $1 and holder = $2 and epoch = $4::bigint and expires_at > now()
             returning epoch`
          : // An acquisition takes the row `for update` first (only once the lease has expired): that waits for the
            // commit of a writer's batch that passed the fence, and every batch after it sees the new epoch.
            `with expired as (
               select lease_group from ${this.#table} where lease_group = $1 and expires_at <= now() for update
             )
             update ${this.#table} t set holder = $2, expires_at = now() + $3 * interval '1 millisecond',
               epoch = t.epoch + 1
             from expired where t.lease_group = expired.lease_group and t.expires_at <= now() and $4::bigint = 0
             returning t.epoch`,
        [group, holder, ttlMs, active ? this.#epoch : 0],
      );
      epoch = rows[0] === undefined ? undefined : Number(rows[0].epoch);
    } catch (e) {
      this.lastError = (e as Error).message;
      this.failures++;
      if (active && !this.validLocally()) this.#state = 'lost';
      return this.#state;
    }
    this.lastError = undefined;
    // A state changed meanwhile (close, or lost by a local check) wins over this answer.
    if (this.#state !== (active ? 'active' : 'standby')) return this.#state;
    if (epoch === undefined) {
      if (active) this.#state = 'lost';
      return this.#state;
    }
    this.#epoch = epoch;
    this.#validUntil = sentAt + this.options.ttlMs - this.#marginMs;
    this.#state = 'active';
    // Handed over to the thread once it is up and connected (a thread still starting on a loaded machine would let
    // the first lease lapse): until then this loop renews, as without one.
    if (this.#thread?.ready === true) this.#thread.renew(epoch, sentAt, this.#validUntil);
    return this.#state;
  }

  /** True while this process holds the lease by its own clock (checked before every venue action). */
  validLocally(): boolean {
    return this.#state === 'active' && this.#now() < this.#currentValidity();
  }

  /** Milliseconds the lease is still valid locally (0 when not held). */
  remainingMs(): number {
    return this.#state === 'active' ? Math.max(0, this.#currentValidity() - this.#now()) : 0;
  }

  #currentValidity(): number {
    return this.#thread?.renewing === true ? this.#thread.validUntil : this.#validUntil;
  }

  /** The slowest renewal of the renewal thread (ms), once it renews. */
  get slowestRenewalMs(): number | undefined {
    return this.#thread?.renewing === true ? this.#thread.slowestMs : undefined;
  }

  /** Marks the lease lost (a fenced write told us first); the holder acts no more. */
  markLost(): void {
    if (this.#state === 'active') this.#state = 'lost';
    void this.#thread?.stop();
  }

  /**
   * Gives the lease up (graceful stop of the holder): it expires now, so a standby takes over on its next attempt
   * instead of waiting for the TTL. Only this holder's own epoch is touched.
   */
  async release(): Promise<void> {
    const held = this.#state === 'active';
    this.#state = 'closed';
    // Not renewed after it is given up.
    await this.#thread?.stop();
    if (!held) return;
    await this.options.db.query(
      `update ${this.#table} set expires_at = now() where lease_group = $1 and holder = $2 and epoch = $3`,
      [this.options.group, this.options.holder, this.#epoch],
    );
  }

  /** Stops the renewal thread, if any (a standby that stops without ever leading). Idempotent. */
  async close(): Promise<void> {
    await this.#thread?.stop();
  }

  /**
   * The check the journal writer runs last in each of its transactions: it takes the lease row `for key share`, so a
   * takeover (which locks the row `for update` first) waits for that commit and every batch after it sees the new
   * epoch and is refused. A renewal (an update of no key column) does not conflict with it: a writer's transaction
   * that is slow to commit (a loaded machine, a stalled event loop) cannot hold the renewal back.
   * @throws TraderError `E_TRADER_PERSISTENCE` (field `ha.lease`) when this process's epoch is no longer the lease's.
   */
  fence(): (tx: SqlRunner) => Promise<void> {
    return async (tx) => {
      const { rows } = await tx.query(`select epoch from ${this.#table} where lease_group = $1 for key share`, [
        this.options.group,
      ]);
      const current = Number(rows[0]?.epoch ?? 0);
      if (current !== this.#epoch || this.#epoch === 0)
        throw new TraderError(
          'E_TRADER_PERSISTENCE',
          `fenced: the engine lease ${this.options.group} is at epoch ${current}, this engine holds ${this.#epoch}; it writes nothing more`,
          { field: 'ha.lease' },
        );
    };
  }
}
