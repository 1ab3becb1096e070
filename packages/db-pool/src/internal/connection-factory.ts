import pg from 'pg';
import type { PooledConnection } from './pooled-connection.js';

const noop = () => {};

/** What a {@link ConnectionFactory} needs to know about the connections it opens. */
export interface ConnectionFactoryOptions {
  /** Maximum lifetime (ms, 0 = none) and its jitter (`[max*(1-jitter), max]`). */
  maxLifetimeMs: number;
  lifetimeJitter: number;
  /** The session's `statement_timeout` set through the client config (0 = none). */
  statementTimeoutMs: number;
  /** A client of an open connection failed or ended (the connection is already marked broken). */
  onClientError(error: Error): void;
}

/**
 * Opens and closes the `pg.Client` connections of one host. Opens after consecutive failures are paced (25 ms
 * doubling to 1 s) so callers waiting on a dead host do not hammer it; a close that hangs is cut after 1 s.
 */
export class ConnectionFactory {
  /** Failed opens since the last successful one. */
  private consecutiveFailures = 0;

  constructor(
    private readonly clientConfig: pg.ClientConfig,
    private readonly options: ConnectionFactoryOptions,
  ) {}

  /** Opens one connection; rejects with pg's error (the client is ended). */
  async open(generation: number): Promise<PooledConnection> {
    if (this.consecutiveFailures > 0) {
      const delay = Math.min(1_000, 25 * 2 ** Math.min(this.consecutiveFailures, 6));
      await new Promise((resolve) => setTimeout(resolve, delay).unref());
    }
    const client = new pg.Client(this.clientConfig);
    const now = Date.now();
    const o = this.options;
    const conn: PooledConnection = {
      client,
      generation,
      createdAt: now,
      expiresAt:
        o.maxLifetimeMs > 0 ? now + o.maxLifetimeMs * (1 - o.lifetimeJitter * Math.random()) : Number.POSITIVE_INFINITY,
      lastUsedAt: now,
      broken: false,
      destroyed: false,
      statementTimeoutMs: o.statementTimeoutMs,
    };
    // A pg.Client emits 'error' when its idle socket dies (server terminated it, network drop):
    // without a listener that crashes the process. Mark it so the next borrow replaces it.
    client.on('error', (error: Error) => {
      conn.broken = true;
      o.onClientError(error);
    });
    client.on('end', () => {
      conn.broken = true;
    });
    try {
      await client.connect();
    } catch (error) {
      this.consecutiveFailures++;
      client.end().catch(noop);
      throw error;
    }
    this.consecutiveFailures = 0;
    return conn;
  }

  /** Ends the connection's session; resolves within about 1 s whatever the server does. */
  async close(conn: PooledConnection): Promise<void> {
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
}
