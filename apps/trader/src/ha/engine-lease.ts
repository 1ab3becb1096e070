import { TraderError } from '../errors.js';
import { checkSchemaName } from '../persistence/schema.js';
import type { SqlRunner } from '../persistence/sql-database.js';

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
  /** Monotonic clock (ms). @default performance.now */
  now?: () => number;
}

/**
 * A lease with a fencing token in PostgreSQL: one row per group (holder, epoch, expires_at by the database's clock).
 * Acquiring and renewing are one conditional UPDATE each:
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
    this.#now = options.now ?? (() => performance.now());
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
    const sentAt = this.#now();
    let epoch: number | undefined;
    try {
      const { rows } = await this.options.db.query(
        `update ${this.#table} set holder = $2, expires_at = now() + $3 * interval '1 millisecond',
           epoch = case when $4::bigint = 0 then epoch + 1 else epoch end
         where lease_group = $1 and case when $4::bigint = 0 then expires_at <= now()
           else holder = $2 and epoch = $4::bigint and expires_at > now() end
         returning epoch`,
        [this.options.group, this.options.holder, this.options.ttlMs, active ? this.#epoch : 0],
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
    return this.#state;
  }

  /** True while this process holds the lease by its own clock (checked before every venue action). */
  validLocally(): boolean {
    return this.#state === 'active' && this.#now() < this.#validUntil;
  }

  /** Milliseconds the lease is still valid locally (0 when not held). */
  remainingMs(): number {
    return this.#state === 'active' ? Math.max(0, this.#validUntil - this.#now()) : 0;
  }

  /** Marks the lease lost (a fenced write told us first); the holder acts no more. */
  markLost(): void {
    if (this.#state === 'active') this.#state = 'lost';
  }

  /**
   * Gives the lease up (graceful stop of the holder): it expires now, so a standby takes over on its next attempt
   * instead of waiting for the TTL. Only this holder's own epoch is touched.
   */
  async release(): Promise<void> {
    const held = this.#state === 'active';
    this.#state = 'closed';
    if (!held) return;
    await this.options.db.query(
      `update ${this.#table} set expires_at = now() where lease_group = $1 and holder = $2 and epoch = $3`,
      [this.options.group, this.options.holder, this.#epoch],
    );
  }

  /**
   * The check the journal writer runs last in each of its transactions: it takes the lease row `for share`, so a
   * takeover (an UPDATE of that row) waits for that commit and every batch after it sees the new epoch and is
   * refused. Taken last, the lock is held for the commit only, so renewals hardly ever wait for it. @throws TraderError `E_TRADER_PERSISTENCE` (field `ha.lease`) when this process's epoch is no longer
   * the lease's.
   */
  fence(): (tx: SqlRunner) => Promise<void> {
    return async (tx) => {
      const { rows } = await tx.query(`select epoch from ${this.#table} where lease_group = $1 for share`, [
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
