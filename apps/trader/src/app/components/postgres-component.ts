import { resolve } from 'node:path';
import { PoolManager } from '@cryptoscalp/db-pool';
import type { TraderConfig } from '../../config/config-types.js';
import { TraderError } from '../../errors.js';
import type { Log } from '../../internal/log.js';
import type { Component, ComponentHealth } from '../../kernel/component.js';
import { type EmbeddedPostgres, startEmbeddedPostgres } from '../embedded-postgres.js';

/**
 * PostgreSQL through `@cryptoscalp/db-pool`: `DATABASE_URL` (and replicas), or an embedded PGlite behind a
 * wire-protocol socket when none is configured, so the same `pg` code path runs on a fresh machine.
 */
export class PostgresComponent implements Component {
  readonly name = 'postgres';
  readonly critical = false;
  #pool: PoolManager | undefined;
  #embedded: EmbeddedPostgres | undefined;
  #url = '';

  constructor(
    private readonly config: TraderConfig,
    private readonly log: Log = () => {},
  ) {}

  async start(): Promise<void> {
    const c = this.config;
    let url = c.database.url;
    if (!url) {
      this.#embedded = await startEmbeddedPostgres({
        schema: c.database.schema,
        ...(c.database.embedded === 'disk' ? { dataDir: resolve(c.dataDir, 'pglite') } : {}),
      });
      url = this.#embedded.url;
    }
    this.#url = url;
    this.#pool = new PoolManager({
      name: 'postgres',
      primary: { connectionString: url },
      replicas: c.database.replicaUrls.map((connectionString) => ({ connectionString })),
      // Embedded PGlite is one database session behind a multiplexing socket: one connection keeps transactions
      // from interleaving, and no named prepared statements means none can collide inside that session.
      pool: { max: this.#embedded ? 1 : 5, acquireTimeoutMs: 2000, connectTimeoutMs: 2000 },
      ...(this.#embedded ? { prepare: false } : {}),
      queryTimeoutMs: 5000,
      // A primary that is away (refused, starting up) is waited for: say so in the trader's log (at warn), not as a process warning.
      onConnectWait: (e) =>
        this.log(
          `trader: postgres   waiting for a primary (${e.hosts.join(', ')}): ${e.attempts} attempts in ${Math.round(e.elapsedMs / 1000)} s of ${Math.round(e.timeoutMs / 1000)} s; last: ${e.lastError}`,
          'warn',
        ),
    });
  }

  /** The pool (journal writer, audit log). */
  pool(): PoolManager {
    if (this.#pool === undefined) throw new TraderError('E_TRADER_PERSISTENCE', 'postgres is not started');
    return this.#pool;
  }

  /** True when the database is the embedded PGlite (no `database.url`); set by {@link start}. */
  get embedded(): boolean {
    return this.#embedded !== undefined;
  }

  /** Where the database is, password redacted. */
  describe(): string {
    return this.#embedded ? `embedded PGlite (${this.#embedded.storage}) at ${redact(this.#url)}` : redact(this.#url);
  }

  async healthCheck(signal?: AbortSignal): Promise<ComponentHealth> {
    if (this.#pool === undefined) return { status: 'fail', output: 'not started' };
    return this.#pool.healthCheck(signal);
  }

  stats(): Record<string, unknown> {
    return this.#pool?.stats() ?? {};
  }

  async stop(): Promise<void> {
    await this.#pool?.close();
    await this.#embedded?.stop();
  }
}

/** A URL with its password replaced by `***`. */
export function redact(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    // Not a WHATWG URL (redis+sentinel:// lists several hosts): hide the password of the userinfo all the same.
    return url.replace(/^([a-z+]+:\/\/[^:@/]*):[^@/]*@/, '$1:***@');
  }
}
