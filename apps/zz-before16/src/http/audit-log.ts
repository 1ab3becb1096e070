import { API_DEFAULTS } from './defaults.js';
import { ApiError } from './errors.js';
import type { AuditOptions, Queryable } from './types.js';

/** One audited event. */
export interface AuditEntry {
  /** The token subject, or `anonymous` when the caller was not authenticated. */
  actor: string;
  /** The caller's role, when known. */
  role?: string | null;
  /** What was attempted, e.g. `kill-switch.engage`, `strategy.params.update`, `auth.failure`. */
  action: string;
  requestId?: string | null;
  ip?: string | null;
  /** `success`, `failure` (the operation failed or was refused as invalid) or `denied` (auth or role). */
  outcome: 'success' | 'failure' | 'denied';
  /** Structured context: the change requested, the error, the path. Never a token. */
  detail?: Record<string, unknown>;
}

/** A row of the audit log. */
export interface AuditRow extends Required<Omit<AuditEntry, 'detail'>> {
  id: string;
  at: string;
  detail: Record<string, unknown>;
}

const IDENT = /^[a-z_][a-z0-9_]{0,62}$/;

/**
 * The append-only audit log in PostgreSQL: table `audit_log` (created if missing) with a trigger that
 * refuses UPDATE, DELETE and TRUNCATE, so not even the application's own role can rewrite history.
 *
 * Writes never block the caller for long and never throw: a row that cannot be written (database down)
 * waits in a bounded queue and is retried; rows beyond `maxPending` are dropped and counted.
 */
export class AuditLog {
  readonly #pool: Queryable;
  readonly #table: string;
  readonly #schema: string;
  readonly #maxPending: number;
  readonly #retryIntervalMs: number;
  readonly #pending: AuditEntry[] = [];
  #ready = false;
  #initializing: Promise<void> | undefined;
  #retryTimer: NodeJS.Timeout | undefined;
  #flushing: Promise<void> | undefined;
  #closed = false;
  /** Rows written. */
  written = 0;
  /** Failed insert attempts. */
  failed = 0;
  /** Rows dropped because the queue was full. */
  dropped = 0;

  /** @throws ApiError `E_API_INVALID_OPTION` naming the bad `audit.*` field. */
  constructor(options: Queryable | AuditOptions) {
    const o: AuditOptions = isQueryable(options) ? { pool: options } : options;
    if (o === null || typeof o !== 'object' || !isQueryable(o.pool))
      throw new ApiError('E_API_INVALID_OPTION', 'audit must be a pg-compatible pool or { pool, schema }', {
        field: 'audit.pool',
      });
    const d = API_DEFAULTS.audit;
    const schema = o.schema ?? d.schema;
    if (typeof schema !== 'string' || !IDENT.test(schema))
      throw new ApiError('E_API_INVALID_OPTION', 'audit.schema must be a lowercase SQL identifier', {
        field: 'audit.schema',
      });
    this.#maxPending = positiveInt(o.maxPending ?? d.maxPending, 'audit.maxPending');
    this.#retryIntervalMs = positiveInt(o.retryIntervalMs ?? d.retryIntervalMs, 'audit.retryIntervalMs');
    this.#pool = o.pool;
    this.#schema = schema;
    this.#table = `"${schema}".audit_log`;
  }

  /** The qualified table name. */
  get table(): string {
    return this.#table;
  }

  /** Rows waiting to be written. */
  get pending(): number {
    return this.#pending.length;
  }

  /** True once the table and its append-only trigger exist. */
  get ready(): boolean {
    return this.#ready;
  }

  /**
   * Creates the schema, table and append-only triggers if missing (idempotent, safe from several instances
   * at once: it takes a transaction-scoped advisory lock). Concurrent calls share one run; rows appended meanwhile
   * wait for it (within their own timeout), and rows queued before are flushed once it succeeds.
   */
  init(): Promise<void> {
    this.#initializing ??= this.#createTable().then(
      () => {
        this.#initializing = undefined;
        if (this.#pending.length > 0 && !this.#closed) void this.flush();
      },
      (e: unknown) => {
        this.#initializing = undefined;
        throw e;
      },
    );
    return this.#initializing;
  }

  async #createTable(): Promise<void> {
    const s = `"${this.#schema}"`;
    await this.#pool.query(`DO $audit$
BEGIN
  PERFORM pg_advisory_xact_lock(hashtext('cryptoscalp.audit_log'));
  CREATE SCHEMA IF NOT EXISTS ${s};
  CREATE TABLE IF NOT EXISTS ${this.#table} (
    id bigserial PRIMARY KEY,
    at timestamptz NOT NULL DEFAULT now(),
    actor text NOT NULL,
    role text,
    action text NOT NULL,
    request_id text,
    ip text,
    outcome text NOT NULL CHECK (outcome IN ('success', 'failure', 'denied')),
    detail jsonb NOT NULL DEFAULT '{}'::jsonb
  );
  CREATE INDEX IF NOT EXISTS audit_log_at_idx ON ${this.#table} (at);
  CREATE OR REPLACE FUNCTION ${s}.audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $fn$
  BEGIN
    RAISE EXCEPTION 'audit_log is append-only: % refused', TG_OP USING ERRCODE = '42501';
  END
  $fn$;
  IF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgname = 'audit_log_append_only'
                 AND tgrelid = '${this.#table}'::regclass) THEN
    CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON ${this.#table}
      FOR EACH ROW EXECUTE FUNCTION ${s}.audit_log_append_only();
    CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON ${this.#table}
      FOR EACH STATEMENT EXECUTE FUNCTION ${s}.audit_log_append_only();
  END IF;
END
$audit$`);
    this.#ready = true;
  }

  /**
   * Writes one row. Resolves `true` once written, `false` when it was queued for retry (database failing
   * or slower than `timeoutMs`); never rejects.
   */
  append(entry: AuditEntry, timeoutMs = 2_000): Promise<boolean> {
    const initializing = this.#initializing;
    if (initializing !== undefined && !this.#closed) return this.#afterInit(initializing, entry, timeoutMs);
    if (this.#closed || !this.#ready || this.#pending.length > 0) {
      this.#enqueue(entry);
      return Promise.resolve(false);
    }
    const write = this.#insert(entry).then(
      () => true,
      () => {
        this.failed++;
        this.#enqueue(entry);
        return false;
      },
    );
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), timeoutMs);
    });
    return Promise.race([write, timeout]).finally(() => clearTimeout(timer));
  }

  /** An append that arrived while the table is being created: waits for it, within the same time budget. */
  #afterInit(initializing: Promise<void>, entry: AuditEntry, timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    return new Promise<boolean>((resolve) => {
      let settled = false;
      const timer = setTimeout(() => {
        if (settled) return;
        settled = true;
        this.#enqueue(entry);
        resolve(false);
      }, timeoutMs);
      const go = () => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve(this.append(entry, Math.max(1, deadline - Date.now())));
      };
      initializing.then(go, go);
    });
  }

  /** The newest rows, newest first. */
  async recent(limit: number, action?: string): Promise<AuditRow[]> {
    const { rows } =
      action === undefined
        ? await this.#pool.query(
            `SELECT id::text, at, actor, role, action, request_id AS "requestId", ip, outcome, detail FROM ${this.#table} ORDER BY id DESC LIMIT $1`,
            [limit],
          )
        : await this.#pool.query(
            `SELECT id::text, at, actor, role, action, request_id AS "requestId", ip, outcome, detail FROM ${this.#table} WHERE action = $2 ORDER BY id DESC LIMIT $1`,
            [limit, action],
          );
    return (rows as AuditRow[]).map((r) => ({ ...r, at: new Date(r.at).toISOString() }));
  }

  /** Tries to write queued rows now. */
  async flush(): Promise<void> {
    if (this.#flushing !== undefined) return await this.#flushing;
    this.#flushing = (async () => {
      try {
        if (!this.#ready) await this.init();
        while (this.#pending.length > 0) {
          await this.#insert(this.#pending[0] as AuditEntry);
          this.#pending.shift();
        }
      } catch {
        this.failed++;
      } finally {
        this.#flushing = undefined;
      }
    })();
    await this.#flushing;
    if (this.#pending.length > 0 && !this.#closed) this.#scheduleRetry();
  }

  /** Tries a last flush and stops the retry timer. Idempotent. Does not end the pool (the caller owns it). */
  async close(): Promise<void> {
    if (this.#closed) return;
    if (this.#retryTimer !== undefined) clearTimeout(this.#retryTimer);
    this.#retryTimer = undefined;
    if (this.#pending.length > 0) await this.flush();
    this.#closed = true;
  }

  async #insert(e: AuditEntry): Promise<void> {
    await this.#pool.query(
      `INSERT INTO ${this.#table} (actor, role, action, request_id, ip, outcome, detail) VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb)`,
      [e.actor, e.role ?? null, e.action, e.requestId ?? null, e.ip ?? null, e.outcome, JSON.stringify(e.detail ?? {})],
    );
    this.written++;
  }

  #enqueue(entry: AuditEntry): void {
    if (this.#pending.length >= this.#maxPending) {
      this.dropped++;
      return;
    }
    this.#pending.push(entry);
    if (!this.#closed) this.#scheduleRetry();
  }

  #scheduleRetry(): void {
    if (this.#retryTimer !== undefined) return;
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = undefined;
      void this.flush();
    }, this.#retryIntervalMs);
    this.#retryTimer.unref();
  }
}

function isQueryable(x: unknown): x is Queryable {
  return typeof x === 'object' && x !== null && typeof (x as Queryable).query === 'function';
}

function positiveInt(v: unknown, field: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0)
    throw new ApiError('E_API_INVALID_OPTION', `${field} must be a positive integer`, { field });
  return v;
}
