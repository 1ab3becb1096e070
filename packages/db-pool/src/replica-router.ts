import { channels, type ReplicaStateEvent } from './channels.js';
import { type HostEntry, parseLsn } from './internal/host-entry.js';
import type { ResolvedOptions } from './options.js';

const LAG_SQL = `select pg_is_in_recovery() as recovery,
  pg_last_wal_replay_lsn()::text as replay_lsn,
  case when pg_last_wal_receive_lsn() is null or pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() then 0
       else greatest(0, extract(epoch from (now() - pg_last_xact_replay_timestamp())) * 1000) end::float8 as lag_ms`;

/**
 * Chooses a replica for each read (least outstanding queries, or round-robin) among those
 * that are healthy, whose breaker is closed and whose replay lag is under `maxReplicaLagMs`;
 * checks lag on an interval.
 */
export class ReplicaRouter {
  private cursor = 0;
  private timer: NodeJS.Timeout | undefined;
  private checking = false;
  /** Completed lag-check rounds. */
  checks = 0;

  constructor(
    readonly replicas: HostEntry[],
    private readonly options: ResolvedOptions,
  ) {}

  /** Starts the periodic lag check (unref'd). */
  start(): void {
    if (this.replicas.length === 0 || this.timer !== undefined) return;
    this.timer = setInterval(() => {
      this.checkAll().catch(() => {});
    }, this.options.replica.lagCheckIntervalMs);
    this.timer.unref();
    this.checkAll().catch(() => {});
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /**
   * A replica for a read, or undefined (caller falls back to the primary).
   * `minLsn`: only replicas known to have replayed at least this LSN (read-your-writes).
   * `exclude`: a host that just failed this call.
   */
  pick(minLsn?: bigint, exclude?: HostEntry): HostEntry | undefined {
    const list = this.replicas;
    const n = list.length;
    if (n === 0) return undefined;
    let best: HostEntry | undefined;
    if (this.options.replica.balance === 'round-robin') {
      for (let i = 0; i < n; i++) {
        const r = list[(this.cursor + i) % n]!;
        if (this.eligible(r, minLsn, exclude)) {
          this.cursor = (this.cursor + i + 1) % n;
          best = r;
          break;
        }
      }
    } else {
      // least outstanding, ties broken by rotating the start so equal replicas share load
      const start = this.cursor++ % n;
      for (let i = 0; i < n; i++) {
        const r = list[(start + i) % n]!;
        if (!this.eligible(r, minLsn, exclude)) continue;
        if (best === undefined || r.pool.outstanding < best.pool.outstanding) best = r;
      }
    }
    if (best !== undefined) best.picks++;
    return best;
  }

  private eligible(r: HostEntry, minLsn: bigint | undefined, exclude: HostEntry | undefined): boolean {
    if (r === exclude || !r.routable || !r.breaker.allows) return false;
    if (minLsn !== undefined && (r.replayLsn === undefined || r.replayLsn < minLsn)) return false;
    return true;
  }

  /** Marks a replica unroutable until its next successful check (a read on it failed at the connection level). */
  markDown(r: HostEntry, reason: string): void {
    this.setRoutable(r, false, reason);
  }

  /** Runs one lag check on every replica. */
  async checkAll(): Promise<void> {
    if (this.checking) return;
    this.checking = true;
    try {
      await Promise.all(this.replicas.map((r) => this.check(r)));
      this.checks++;
    } finally {
      this.checking = false;
    }
  }

  private async check(r: HostEntry): Promise<void> {
    const timeoutMs = Math.max(1_000, this.options.replica.lagCheckIntervalMs * 2);
    try {
      const { result } = await r.pool.run(LAG_SQL, undefined, undefined, {
        priority: 0,
        deadlineAt: Date.now() + timeoutMs,
        timeoutMs,
        signal: undefined,
        captureLsn: false,
      });
      const row = result.rows[0] as { recovery: boolean; replay_lsn: string | null; lag_ms: number } | undefined;
      r.lastCheckError = undefined;
      if (row === undefined) throw new Error('no row');
      r.replayLsn = parseLsn(row.replay_lsn);
      if (!row.recovery) {
        // Promoted (or misconfigured): it is not replaying anything; do not read stale-free data from it as a replica.
        r.lagMs = 0;
        this.setRoutable(r, false, 'not in recovery');
        return;
      }
      r.lagMs = Number(row.lag_ms);
      const max = this.options.replica.maxReplicaLagMs;
      if (max > 0 && r.lagMs > max) this.setRoutable(r, false, 'lag');
      else this.setRoutable(r, true, 'ok');
    } catch (error) {
      r.lastCheckError = (error as Error).message;
      this.setRoutable(r, false, 'unreachable');
    }
  }

  private setRoutable(r: HostEntry, routable: boolean, reason: string): void {
    if (r.routable === routable) return;
    r.routable = routable;
    const hook = this.options.hooks.replica;
    if (!channels.replica.hasSubscribers && !hook.hasListeners) return;
    const event: ReplicaStateEvent = {
      component: this.options.name,
      host: r.label,
      routable,
      lagMs: r.lagMs,
      reason,
    };
    if (channels.replica.hasSubscribers) channels.replica.publish(event);
    hook.emit(event);
  }
}
