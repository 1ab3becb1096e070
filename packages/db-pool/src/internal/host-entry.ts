import { HostBreaker } from '../circuit-breaker.js';
import { HostPool } from '../host-pool.js';
import type { ResolvedOptions } from '../options.js';
import type { HostConfig } from '../types.js';

/** One configured host: its pool, its breaker and what the checks learned about it. */
export class HostEntry {
  readonly pool: HostPool;
  readonly breaker: HostBreaker;
  /** Replicas: included in read routing (healthy, lag under the limit). */
  routable = true;
  /** Replicas: replay lag in ms from the last check. */
  lagMs: number | undefined;
  /** Replicas: last replayed LSN from the last check. */
  replayLsn: bigint | undefined;
  /** Replicas: last check failed. */
  lastCheckError: string | undefined;
  /** Round-robin cursor helper. */
  picks = 0;

  constructor(
    readonly config: HostConfig,
    readonly kind: 'primary' | 'replica',
    options: ResolvedOptions,
  ) {
    this.pool = new HostPool(
      config,
      options.pool,
      options.statementTimeoutMs,
      options.name,
      options.hooks.connectionError,
    );
    this.breaker = new HostBreaker(this.pool.label, options.name, options.breaker, options.hooks.breaker);
  }

  get label(): string {
    return this.pool.label;
  }

  async close(): Promise<void> {
    this.breaker.shutdown();
    await this.pool.close();
  }
}

/** Parses a `X/Y` pg_lsn into a bigint byte position. */
export function parseLsn(lsn: string | null | undefined): bigint | undefined {
  if (typeof lsn !== 'string') return undefined;
  const m = /^([0-9A-Fa-f]+)\/([0-9A-Fa-f]+)$/.exec(lsn);
  if (m === null) return undefined;
  return (BigInt(`0x${m[1]}`) << 32n) + BigInt(`0x${m[2]}`);
}
