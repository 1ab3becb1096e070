import type pg from 'pg';

/** A pooled pg.Client and what the pool knows about it. */
export interface PooledConnection {
  readonly client: pg.Client;
  /** The pool generation it was opened in: a reset (failover) starts a new one, older connections are destroyed on release. */
  readonly generation: number;
  readonly createdAt: number;
  /** Randomized end of life (ms since epoch); Infinity when lifetimes are off. */
  readonly expiresAt: number;
  lastUsedAt: number;
  /** Set by the client's error/end events or a connection-level failure: destroy instead of reuse. */
  broken: boolean;
  /** Set once destroyed: a second destroy does nothing. */
  destroyed: boolean;
  /** The server's `statement_timeout` currently in effect on this session (ms, 0 = none). */
  statementTimeoutMs: number;
}
