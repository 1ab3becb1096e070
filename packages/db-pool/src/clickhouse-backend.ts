import { performance } from 'node:perf_hooks';
import { decorrelatedJitter } from './backoff.js';
import { DbPoolError, InvalidOptionError } from './errors.js';
import { Batcher } from './internal/batcher.js';
import type { HealthCheckResult } from './types.js';

/** Batching of inserts. */
export interface ClickHouseBatchOptions {
  /** Rows per INSERT. @default 10000 */
  maxRows?: number;
  /** Longest a row waits before its batch is written. @default 1000 */
  maxDelayMs?: number;
  /** Rows buffered in memory in total; more makes `insert` reject (backpressure). @default 100000 */
  maxBufferedRows?: number;
  /** Attempts per batch for network failures (decorrelated jitter between). @default 3 */
  maxAttempts?: number;
}

/**
 * The part of `@clickhouse/client`'s `ClickHouseClient` the backend uses; a client from
 * `createClient()` fits it. Declared here so the published types do not need the optional peer.
 */
export interface ClickHouseClientLike {
  insert(params: { table: string; values: Record<string, unknown>[]; format: 'JSONEachRow' }): Promise<unknown>;
  query(params: {
    query: string;
    format: 'JSONEachRow';
    query_params?: Record<string, unknown>;
    abort_signal?: AbortSignal;
  }): Promise<{ json(): Promise<unknown> }>;
  command(params: { query: string }): Promise<unknown>;
  close(): Promise<void>;
}

/** Options of {@link ClickHouseBackend}. */
export interface ClickHouseBackendOptions {
  /** Component name for health and stats. @default 'clickhouse' */
  name?: string;
  /** HTTP endpoint. @default 'http://127.0.0.1:8123' */
  url?: string;
  /** @default 'default' */
  username?: string;
  /** @default '' */
  password?: string;
  /** @default 'default' */
  database?: string;
  /** Per-request timeout. @default 30000 */
  requestTimeoutMs?: number;
  /** Use this client instead of creating one (it is not closed by `close()`). */
  client?: ClickHouseClientLike;
  /** Insert batching. */
  batch?: ClickHouseBatchOptions;
}

/** Defaults of {@link ClickHouseBackend}. */
export const CLICKHOUSE_DEFAULTS = {
  name: 'clickhouse',
  url: 'http://127.0.0.1:8123',
  username: 'default',
  password: '',
  database: 'default',
  requestTimeoutMs: 30_000,
  batch: { maxRows: 10_000, maxDelayMs: 1_000, maxBufferedRows: 100_000, maxAttempts: 3 },
} as const;

const TABLE = /^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$/;

function positiveInt(field: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1)
    throw new InvalidOptionError(field, 'must be a positive integer');
  return value;
}

/**
 * Analytics backend on ClickHouse through `@clickhouse/client` (an optional peer dependency,
 * loaded on first use): batched inserts (per table, by size or delay, bounded buffer,
 * retried on network failures), queries with bound parameters, a health check and stats.
 */
export class ClickHouseBackend {
  /** Component name for health and stats. */
  readonly name: string;
  private readonly options: Required<Omit<ClickHouseBackendOptions, 'client' | 'batch'>> & {
    batch: Required<ClickHouseBatchOptions>;
  };
  private client: ClickHouseClientLike | undefined;
  private clientPromise: Promise<ClickHouseClientLike> | undefined;
  private readonly ownsClient: boolean;
  private readonly batcher: Batcher<Record<string, unknown>>;
  private closed = false;
  private closing: Promise<void> | undefined;
  private readonly counters = { queries: 0, queryErrors: 0, insertRetries: 0 };

  constructor(options: ClickHouseBackendOptions = {}) {
    if (typeof options !== 'object' || options === null) throw new InvalidOptionError('options', 'must be an object');
    const d = CLICKHOUSE_DEFAULTS;
    const b = options.batch ?? {};
    if (typeof b !== 'object' || b === null) throw new InvalidOptionError('batch', 'must be an object');
    if (options.url !== undefined) {
      try {
        const u = new URL(options.url);
        if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error('protocol');
      } catch {
        throw new InvalidOptionError('url', 'must be an http(s) URL');
      }
    }
    const name = options.name ?? d.name;
    if (typeof name !== 'string' || name === '') throw new InvalidOptionError('name', 'must be a non-empty string');
    this.options = {
      name,
      url: options.url ?? d.url,
      username: options.username ?? d.username,
      password: options.password ?? d.password,
      database: options.database ?? d.database,
      requestTimeoutMs: positiveInt('requestTimeoutMs', options.requestTimeoutMs, d.requestTimeoutMs),
      batch: {
        maxRows: positiveInt('batch.maxRows', b.maxRows, d.batch.maxRows),
        maxDelayMs: positiveInt('batch.maxDelayMs', b.maxDelayMs, d.batch.maxDelayMs),
        maxBufferedRows: positiveInt('batch.maxBufferedRows', b.maxBufferedRows, d.batch.maxBufferedRows),
        maxAttempts: positiveInt('batch.maxAttempts', b.maxAttempts, d.batch.maxAttempts),
      },
    };
    this.name = name;
    this.client = options.client;
    this.ownsClient = options.client === undefined;
    this.batcher = new Batcher<Record<string, unknown>>({
      maxRows: this.options.batch.maxRows,
      maxDelayMs: this.options.batch.maxDelayMs,
      maxBufferedRows: this.options.batch.maxBufferedRows,
      write: (table, rows) => this.writeBatch(table, rows),
      overflowError: (buffered) =>
        new DbPoolError('E_DB_CLICKHOUSE', `insert buffer full (${buffered} rows waiting)`, { host: this.hostLabel }),
    });
  }

  private get hostLabel(): string {
    try {
      const u = new URL(this.options.url);
      return `${u.hostname}:${u.port || (u.protocol === 'https:' ? '8443' : '8123')}`;
    } catch {
      return 'clickhouse';
    }
  }

  private getClient(): Promise<ClickHouseClientLike> {
    if (this.client !== undefined) return Promise.resolve(this.client);
    this.clientPromise ??= import('@clickhouse/client').then((mod) => {
      this.client = mod.createClient({
        url: this.options.url,
        username: this.options.username,
        password: this.options.password,
        database: this.options.database,
        request_timeout: this.options.requestTimeoutMs,
        // Failures reach the caller as E_DB_CLICKHOUSE errors and stats; the client's own console logging stays off.
        log: { level: mod.ClickHouseLogLevel.OFF },
      });
      return this.client;
    });
    return this.clientPromise;
  }

  private async writeBatch(table: string, rows: Record<string, unknown>[]): Promise<void> {
    const client = await this.getClient();
    let delay = 50;
    for (let attempt = 1; ; attempt++) {
      try {
        await client.insert({ table, values: rows, format: 'JSONEachRow' });
        return;
      } catch (error) {
        // A server-side error (bad row, unknown table) will fail the same way again.
        const network = isNetworkError(error);
        if (!network || attempt >= this.options.batch.maxAttempts || this.closed) {
          throw new DbPoolError('E_DB_CLICKHOUSE', `insert into ${table} failed: ${(error as Error).message}`, {
            host: this.hostLabel,
            cause: error,
          });
        }
        this.counters.insertRetries++;
        delay = decorrelatedJitter(delay, 50, 2_000);
        await new Promise((r) => setTimeout(r, delay));
      }
    }
  }

  /**
   * Queues rows for `table`; resolves once the batch holding them is written. Rejects with
   * `E_DB_CLICKHOUSE` when the buffer is full or the batch failed.
   */
  insert(table: string, rows: Record<string, unknown> | Record<string, unknown>[]): Promise<void> {
    if (this.closed) return Promise.reject(new DbPoolError('E_DB_CLOSED', 'the ClickHouse backend is closed'));
    if (!TABLE.test(table))
      return Promise.reject(new InvalidOptionError('table', 'must be an identifier (optionally database-qualified)'));
    return this.batcher.add(table, Array.isArray(rows) ? rows : [rows]);
  }

  /** Writes everything buffered now. */
  flush(): Promise<void> {
    return this.batcher.flush();
  }

  /** Runs a query and returns its rows (`JSONEachRow`); `params` bind `{name:Type}` placeholders. */
  async query<T = Record<string, unknown>>(
    sql: string,
    params?: Record<string, unknown>,
    signal?: AbortSignal,
  ): Promise<T[]> {
    if (this.closed) throw new DbPoolError('E_DB_CLOSED', 'the ClickHouse backend is closed');
    const client = await this.getClient();
    this.counters.queries++;
    try {
      const rs = await client.query({
        query: sql,
        format: 'JSONEachRow',
        ...(params === undefined ? {} : { query_params: params }),
        ...(signal === undefined ? {} : { abort_signal: signal }),
      });
      return (await rs.json()) as T[];
    } catch (error) {
      this.counters.queryErrors++;
      throw new DbPoolError('E_DB_CLICKHOUSE', `query failed: ${(error as Error).message}`, {
        host: this.hostLabel,
        cause: error,
      });
    }
  }

  /** Runs a statement without result rows (DDL). */
  async command(sql: string): Promise<void> {
    if (this.closed) throw new DbPoolError('E_DB_CLOSED', 'the ClickHouse backend is closed');
    const client = await this.getClient();
    try {
      await client.command({ query: sql });
    } catch (error) {
      throw new DbPoolError('E_DB_CLICKHOUSE', `command failed: ${(error as Error).message}`, {
        host: this.hostLabel,
        cause: error,
      });
    }
  }

  /**
   * `pass` when the server answers `select 1`; `warn` when it answers but the insert buffer is
   * over 80% full or the last batch failed; `fail` when unreachable. observedValue: latency ms.
   */
  async healthCheck(signal?: AbortSignal): Promise<HealthCheckResult> {
    const time = new Date().toISOString();
    if (this.closed) return { status: 'fail', output: 'closed', time };
    const started = performance.now();
    try {
      await this.query('select 1 as ok', undefined, signal);
    } catch (error) {
      return {
        status: 'fail',
        output: `${this.hostLabel} unreachable: ${((error as Error).cause as Error | undefined)?.message ?? (error as Error).message}`,
        time,
        details: { host: this.hostLabel },
      };
    }
    const latency = Math.round((performance.now() - started) * 100) / 100;
    const fill = this.batcher.bufferedRows / this.options.batch.maxBufferedRows;
    const lastFailed = this.batcher.lastError !== undefined;
    const status = fill > 0.8 || lastFailed ? 'warn' : 'pass';
    const result: HealthCheckResult = {
      status,
      observedValue: latency,
      observedUnit: 'ms',
      time,
      details: { host: this.hostLabel, bufferedRows: this.batcher.bufferedRows },
    };
    if (status === 'warn')
      result.output = lastFailed ? `last batch failed: ${this.batcher.lastError}` : 'insert buffer over 80% full';
    return result;
  }

  /** Inserts and queries so far: batches, rows written/failed, buffered rows, retries. */
  stats(): Record<string, unknown> {
    return {
      name: this.name,
      host: this.hostLabel,
      bufferedRows: this.batcher.bufferedRows,
      inflightBatches: this.batcher.inflightBatches,
      ...this.batcher.counters,
      ...this.counters,
    };
  }

  /** Flushes buffered rows and closes the client (if created here). Idempotent. */
  close(): Promise<void> {
    if (this.closing !== undefined) return this.closing;
    this.closing = (async () => {
      await this.batcher.close();
      this.closed = true;
      if (this.ownsClient && this.client !== undefined) await this.client.close();
    })();
    return this.closing;
  }
}

function isNetworkError(error: unknown): boolean {
  const code = (error as { code?: unknown })?.code;
  if (typeof code === 'string' && /^E[A-Z]+/.test(code)) return true; // ECONNREFUSED, ECONNRESET, ETIMEDOUT...
  const message = (error as Error)?.message ?? '';
  return /timeout|socket hang up|ECONN|network/i.test(message);
}
