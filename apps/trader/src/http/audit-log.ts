import { appendFile } from 'node:fs/promises';
import type { Log } from '../internal/log.js';
import { auditJson, auditText } from './audit-text.js';
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

/** The `prev_hash` of the first chained row. */
export const AUDIT_CHAIN_GENESIS = '0'.repeat(64);

/**
 * The canonical serialization of an audit row `r` that its hash covers (after the previous row's hash): a JSON array
 * of every column, the time as integer microseconds since the epoch (independent of `DateStyle` and `TimeZone`),
 * `detail` in jsonb's normalised text. The insert trigger and `trader audit verify` use this same expression.
 */
export function auditCanonicalSql(r: string): string {
  return `jsonb_build_array(${r}.id::text, (extract(epoch FROM ${r}.at) * 1000000)::bigint::text, ${r}.actor, ${r}.role, ${r}.action, ${r}.request_id, ${r}.ip, ${r}.outcome, ${r}.detail)::text`;
}

/**
 * The DDL of the audit table in `schema`: table `audit_log` with triggers that refuse UPDATE, DELETE and TRUNCATE, and
 * an insert trigger that chains the rows: each carries `prev_hash` (the previous row's `hash`) and
 * `hash = sha256(prev_hash || canonical row)` ({@link auditCanonicalSql}); a table from before the chain gets the
 * columns and the trigger (its older rows stay unchained).
 * Idempotent (it takes a transaction-scoped advisory lock) and a no-op once the table and its trigger exist, so a role
 * that may only insert runs it safely; the embedded database runs it as its owner before handing the session to the
 * application's role.
 */
export function auditLogDdl(schema: string): string {
  if (!IDENT.test(schema))
    throw new ApiError('E_API_INVALID_OPTION', 'audit.schema must be a lowercase SQL identifier', {
      field: 'audit.schema',
    });
  const s = `"${schema}"`;
  const table = `${s}.audit_log`;
  return `DO $audit$
BEGIN
  PERFORM pg_advisory_xact_lock(hashtext('cryptoscalp.audit_log'));
  IF to_regclass('${table}') IS NOT NULL AND EXISTS (SELECT 1 FROM pg_trigger WHERE tgname = 'audit_log_chain'
                 AND tgrelid = to_regclass('${table}')) THEN
    RETURN;
  END IF;
  CREATE SCHEMA IF NOT EXISTS ${s};
  CREATE TABLE IF NOT EXISTS ${table} (
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
  CREATE INDEX IF NOT EXISTS audit_log_at_idx ON ${table} (at);
  ALTER TABLE ${table} ADD COLUMN IF NOT EXISTS prev_hash text, ADD COLUMN IF NOT EXISTS hash text;
  CREATE OR REPLACE FUNCTION ${s}.audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $fn$
  BEGIN
    RAISE EXCEPTION 'audit_log is append-only: % refused', TG_OP USING ERRCODE = '42501';
  END
  $fn$;
  -- The hash chain, computed in the database so every writer (each gateway, any tool) extends one chain: the lock
  -- (held to commit) orders the inserts, and the id is drawn under it so id order is chain order.
  CREATE OR REPLACE FUNCTION ${s}.audit_log_chain() RETURNS trigger LANGUAGE plpgsql AS $fn$
  BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('cryptoscalp.audit_log.chain.' || TG_TABLE_SCHEMA));
    NEW.id := nextval(pg_get_serial_sequence(format('%I.%I', TG_TABLE_SCHEMA, TG_TABLE_NAME), 'id'));
    SELECT coalesce((SELECT hash FROM ${table} ORDER BY id DESC LIMIT 1), '${AUDIT_CHAIN_GENESIS}') INTO NEW.prev_hash;
    NEW.hash := encode(sha256(convert_to(NEW.prev_hash || ${auditCanonicalSql('NEW')}, 'UTF8')), 'hex');
    RETURN NEW;
  END
  $fn$;
  CREATE OR REPLACE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON ${table}
    FOR EACH ROW EXECUTE FUNCTION ${s}.audit_log_append_only();
  CREATE OR REPLACE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON ${table}
    FOR EACH STATEMENT EXECUTE FUNCTION ${s}.audit_log_append_only();
  CREATE OR REPLACE TRIGGER audit_log_chain BEFORE INSERT ON ${table}
    FOR EACH ROW EXECUTE FUNCTION ${s}.audit_log_chain();
END
$audit$`;
}

/**
 * The append-only audit log in PostgreSQL: table `audit_log` (created if missing, {@link auditLogDdl}) with a trigger
 * that refuses UPDATE, DELETE and TRUNCATE, so not even the application's own role can rewrite history.
 *
 * Writes never block the caller for long and never throw. Text and JSON values are made storable first (NUL and lone
 * surrogates, which PostgreSQL refuses, are written as the escape text `\u0000`). A row that cannot be written because
 * the database is away waits in a bounded queue and is retried in order; a row PostgreSQL refuses for its data
 * (SQLSTATE class 22 or 23) is set aside at once, so it never holds up the rows behind it. Set-aside rows, rows beyond
 * `maxPending` and rows still queued at `close()` are appended to the dead-letter file (`deadLetterPath`, JSON lines)
 * with an error log; only without that file, or when writing it fails, are rows dropped (counted and logged).
 */
export class AuditLog {
  readonly #pool: Queryable;
  readonly #table: string;
  readonly #schema: string;
  readonly #maxPending: number;
  readonly #retryIntervalMs: number;
  readonly #deadLetterPath: string | undefined;
  readonly #log: Log;
  readonly #pending: AuditEntry[] = [];
  /** The dead-letter appends in flight, chained so lines keep their order and `close()` can wait for them. */
  #deadLetters: Promise<void> = Promise.resolve();
  #ready = false;
  #initializing: Promise<void> | undefined;
  #retryTimer: NodeJS.Timeout | undefined;
  #flushing: Promise<void> | undefined;
  #closed = false;
  /** Rows written. */
  written = 0;
  /** Failed insert attempts. */
  failed = 0;
  /** Rows lost: the queue was full or a row was refused, and there was no dead-letter file (or writing it failed). */
  dropped = 0;
  /** Rows appended to the dead-letter file instead of the table. */
  deadLettered = 0;

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
    if (o.deadLetterPath !== undefined && (typeof o.deadLetterPath !== 'string' || o.deadLetterPath === ''))
      throw new ApiError('E_API_INVALID_OPTION', 'audit.deadLetterPath must be a non-empty file path', {
        field: 'audit.deadLetterPath',
      });
    if (o.log !== undefined && typeof o.log !== 'function')
      throw new ApiError('E_API_INVALID_OPTION', 'audit.log must be a function', { field: 'audit.log' });
    this.#deadLetterPath = o.deadLetterPath;
    this.#log = o.log ?? ((line) => console.error(line));
    this.#pool = o.pool;
    this.#schema = schema;
    this.#table = `"${schema}".audit_log`;
  }

  /** The pool rows are written through (the people-login tables live beside the audit log). */
  get pool(): Queryable {
    return this.#pool;
  }

  /** The schema of the audit table. */
  get schema(): string {
    return this.#schema;
  }

  /** Where this audit log reports its problems (its `log` option); the HTTP parts beside it report there too. */
  get log(): Log {
    return this.#log;
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
    await this.#pool.query(auditLogDdl(this.#schema));
    this.#ready = true;
  }

  /**
   * Writes one row. Resolves `true` once written, `false` when it was queued for retry (database failing
   * or slower than `timeoutMs`); never rejects.
   */
  append(raw: AuditEntry, timeoutMs = 2_000): Promise<boolean> {
    const entry = storable(raw);
    const initializing = this.#initializing;
    if (initializing !== undefined && !this.#closed) return this.#afterInit(initializing, entry, timeoutMs);
    if (this.#closed) {
      // Nothing will flush the queue any more.
      this.#deadLetter(entry, 'appended after close');
      return Promise.resolve(false);
    }
    if (!this.#ready || this.#pending.length > 0) {
      this.#enqueue(entry);
      return Promise.resolve(false);
    }
    const write = this.#insert(entry).then(
      () => true,
      (e: unknown) => {
        this.failed++;
        if (refusedForData(e)) this.#deadLetter(entry, 'refused by the database', e);
        else this.#enqueue(entry);
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
          const head = this.#pending[0] as AuditEntry;
          try {
            await this.#insert(head);
          } catch (e) {
            // A row refused for its data would be refused forever: set it aside, go on with the next one.
            if (!refusedForData(e)) throw e;
            this.failed++;
            this.#deadLetter(head, 'refused by the database', e);
          }
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

  /**
   * Tries a last flush, stops the retry timer, and appends the rows still not written to the dead-letter file (and
   * waits for that). Idempotent. Does not end the pool (the caller owns it).
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    if (this.#retryTimer !== undefined) clearTimeout(this.#retryTimer);
    this.#retryTimer = undefined;
    if (this.#pending.length > 0) await this.flush();
    this.#closed = true;
    for (const entry of this.#pending.splice(0)) this.#deadLetter(entry, 'not written before shutdown');
    await this.#deadLetters;
  }

  async #insert(e: AuditEntry): Promise<void> {
    await this.#pool.query(
      `INSERT INTO ${this.#table} (actor, role, action, request_id, ip, outcome, detail) VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb)`,
      [e.actor, e.role ?? null, e.action, e.requestId ?? null, e.ip ?? null, e.outcome, auditJson(e.detail ?? {})],
    );
    this.written++;
  }

  #enqueue(entry: AuditEntry): void {
    if (this.#pending.length >= this.#maxPending) {
      this.#deadLetter(entry, `audit queue full (${this.#maxPending} rows waiting for the database)`);
      return;
    }
    this.#pending.push(entry);
    if (!this.#closed) this.#scheduleRetry();
  }

  /** Appends `entry` to the dead-letter file (in order), or counts it as dropped when there is none; logs either way. */
  #deadLetter(entry: AuditEntry, reason: string, error?: unknown): void {
    const cause = error === undefined ? '' : `: ${(error as { code?: string }).code ?? ''} ${(error as Error).message}`;
    const path = this.#deadLetterPath;
    if (path === undefined) {
      this.dropped++;
      this.#log(
        `audit: row ${entry.action} by ${entry.actor} dropped (${reason}${cause}); no dead-letter file set`,
        'error',
      );
      return;
    }
    const line = `${JSON.stringify({ at: new Date().toISOString(), reason: `${reason}${cause}`, entry })}\n`;
    this.#deadLetters = this.#deadLetters
      .then(() => appendFile(path, line, { mode: 0o600 }))
      .then(
        () => {
          this.deadLettered++;
          this.#log(`audit: row ${entry.action} by ${entry.actor} set aside in ${path} (${reason}${cause})`, 'warn');
        },
        (e: unknown) => {
          this.dropped++;
          this.#log(
            `audit: row ${entry.action} by ${entry.actor} lost (${reason}${cause}); ${(e as Error).message}`,
            'error',
          );
        },
      );
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

/** True for errors PostgreSQL raises about the row itself (SQLSTATE class 22 data exception, 23 integrity): retrying cannot help. */
function refusedForData(e: unknown): boolean {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code.length === 5 && (code.startsWith('22') || code.startsWith('23'));
}

/** The entry with every text made storable (see `audit-text.ts`); the detail is made storable when serialised. */
function storable(e: AuditEntry): AuditEntry {
  return {
    ...e,
    actor: auditText(String(e.actor)),
    action: auditText(String(e.action)),
    ...(typeof e.role === 'string' ? { role: auditText(e.role) } : {}),
    ...(typeof e.requestId === 'string' ? { requestId: auditText(e.requestId) } : {}),
    ...(typeof e.ip === 'string' ? { ip: auditText(e.ip) } : {}),
  };
}

function isQueryable(x: unknown): x is Queryable {
  return typeof x === 'object' && x !== null && typeof (x as Queryable).query === 'function';
}

function positiveInt(v: unknown, field: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0)
    throw new ApiError('E_API_INVALID_OPTION', `${field} must be a positive integer`, { field });
  return v;
}
