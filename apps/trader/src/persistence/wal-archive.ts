import { type PoolManager, Priority } from '@cryptoscalp/db-pool';

/** What the WAL archive check found at its last sample (`stats().persistence.walArchive`, one gauge per leaf). */
export interface WalArchiveStats {
  /** `archive_mode` is on (or always) on the server the writer writes to. */
  enabled: boolean;
  /** The archiver's last attempt failed: `pg_stat_archiver.last_failed_time` is newer than its last success. */
  failing: boolean;
  /** WAL files archived since the server's statistics were reset (`pg_stat_archiver.archived_count`). */
  archived: number;
  /** Failed attempts to archive a WAL file since the statistics were reset (`failed_count`). */
  failures: number;
  /**
   * Complete WAL segments written after the last archived one and not archived yet (the segment in progress is not
   * counted). 0 or 1 when archiving keeps up; grows while `archive_command` fails or hangs. 0 when nothing has been
   * archived yet or archiving is off (unknown then).
   */
  segmentsPending: number;
  /** Seconds since the last WAL file was archived; -1 when none has been since the statistics were reset. */
  lastArchivedAgeSeconds: number;
  /** `archive_timeout` in seconds (0: off): the longest a written change waits for its segment to be archived. */
  timeoutSeconds: number;
  /**
   * The newest base backup's age can be read: archiving is on and the role may list `pg_wal` (`pg_ls_waldir()`:
   * superuser, `pg_monitor`, or an explicit grant). False leaves {@link lastBaseBackupAgeSeconds} at -1, unknown.
   */
  baseBackupKnown: boolean;
  /**
   * Seconds since the newest base backup of this primary finished (`pg_basebackup`, or `pg_backup_stop()`), read
   * from the backup history file (`<segment>.<offset>.backup`) that PostgreSQL keeps in `pg_wal` while archiving is
   * on, until the next backup replaces it. -1 when none is there (no base backup since archiving was turned on, or
   * since this server was promoted) or when {@link baseBackupKnown} is false. A backup that `base-backup.sh` then
   * rejected (`pg_verifybackup`) counts here too: its exit status says so.
   */
  lastBaseBackupAgeSeconds: number;
  /** Samples that could not be taken (the server unreachable or the query refused). */
  checkErrors: number;
}

/** Options of {@link WalArchiveMonitor}. */
export interface WalArchiveMonitorOptions {
  /** The pool whose primary is checked (the journal writer's). */
  db: PoolManager;
  /** Time between samples, ms. */
  intervalMs: number;
  /** Called with each sample's error (at most once per error message in a row). */
  onError?: (error: Error) => void;
}

const SQL = `select a.archived_count::float8 as archived, a.failed_count::float8 as failures,
  a.last_archived_wal as last_wal,
  extract(epoch from now() - a.last_archived_time)::float8 as last_age,
  (a.last_failed_time is not null and (a.last_archived_time is null or a.last_failed_time > a.last_archived_time)) as failing,
  current_setting('archive_mode') <> 'off' as enabled,
  (select setting::float8 from pg_settings where name = 'archive_timeout') as timeout_s,
  (select setting::float8 from pg_settings where name = 'wal_segment_size') as segment_bytes,
  case when pg_is_in_recovery() then null else pg_current_wal_lsn()::text end as current_lsn,
  has_function_privilege('pg_catalog.pg_ls_waldir()', 'execute') as can_list_wal
from pg_stat_archiver a`;

/**
 * The newest backup history file in `pg_wal`. A second query, run only when the first found that the role may call
 * `pg_ls_waldir()`: a function the role may not execute fails the whole statement, even in a branch never taken.
 */
const BACKUP_SQL = `select extract(epoch from now() - max(modification))::float8 as age
from pg_catalog.pg_ls_waldir() where name ~ '^[0-9A-F]{24}[.][0-9A-F]{8}[.]backup$'`;

/**
 * An age in seconds from the server (null: there is nothing to be old), to the millisecond. `now()` is the
 * statement's start, so a file or an archive written while the statement ran reads a hair below 0: that is 0, not
 * the -1 that means "none".
 */
function ageSeconds(value: unknown): number {
  return value === null || value === undefined ? -1 : Math.max(0, Math.round(Number(value) * 1000) / 1000);
}

/**
 * The segment number of a WAL file name (`TTTTTTTTXXXXXXXXYYYYYYYY`, also the prefix of a `.backup` or `.partial`
 * file's name), or undefined for a timeline history file or anything else.
 */
export function walSegmentNumber(name: string, segmentBytes: number): bigint | undefined {
  const m = /^[0-9A-F]{8}([0-9A-F]{8})([0-9A-F]{8})/.exec(name);
  if (m === null || !(segmentBytes > 0)) return undefined;
  const perLogId = 0x1_0000_0000n / BigInt(segmentBytes);
  return BigInt(`0x${m[1]}`) * perLogId + BigInt(`0x${m[2]}`);
}

/**
 * The segment an LSN (`X/Y`) falls in. At a segment's very start (right after a switch) that is the new segment,
 * where `pg_walfile_name()` names the previous one.
 */
export function lsnSegmentNumber(lsn: string, segmentBytes: number): bigint | undefined {
  const m = /^([0-9A-F]{1,8})\/([0-9A-F]{1,8})$/i.exec(lsn);
  if (m === null || !(segmentBytes > 0)) return undefined;
  return ((BigInt(`0x${m[1]}`) << 32n) | BigInt(`0x${m[2]}`)) / BigInt(segmentBytes);
}

/**
 * Samples `pg_stat_archiver` on the primary every `intervalMs`: whether archiving is on, failing or falling behind.
 * A failing `archive_command` keeps every later WAL segment in `pg_wal` (the primary's disk fills) and the newest
 * restorable point of a point-in-time recovery stops moving (the RPO grows), while the database itself stays
 * healthy: nothing else in the system sees it. The view is readable by any role; one query per sample, at analytics
 * priority, with its own timeout, never two at once. Where the role may list `pg_wal`, a second query reads the
 * newest base backup's age from its backup history file: a backup job that stopped running shows here.
 */
export class WalArchiveMonitor {
  #stats: WalArchiveStats = {
    enabled: false,
    failing: false,
    archived: 0,
    failures: 0,
    segmentsPending: 0,
    lastArchivedAgeSeconds: -1,
    timeoutSeconds: 0,
    baseBackupKnown: false,
    lastBaseBackupAgeSeconds: -1,
    checkErrors: 0,
  };
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #lastError = '';
  #closed = false;

  constructor(private readonly options: WalArchiveMonitorOptions) {}

  /** Takes a first sample now and then one every `intervalMs` until {@link close}. */
  start(): void {
    if (this.#closed || this.#timer !== undefined) return;
    void this.sample();
    this.#timer = setInterval(() => void this.sample(), this.options.intervalMs);
    this.#timer.unref();
  }

  /** Takes one sample (the one in flight, if any); resolves when it is done. Never rejects. */
  sample(): Promise<void> {
    if (this.#running === undefined)
      this.#running = this.#sample().finally(() => {
        this.#running = undefined;
      });
    return this.#running;
  }

  async #sample(): Promise<void> {
    const timeoutMs = Math.max(1000, Math.min(this.options.intervalMs, 5000));
    try {
      const signal = AbortSignal.timeout(timeoutMs);
      const ask = (sql: string) =>
        this.options.db.query(sql, [], {
          role: 'write',
          idempotent: true,
          priority: Priority.analytics,
          timeoutMs,
          signal,
        });
      const { rows } = await ask(SQL);
      const r = rows[0] as Record<string, unknown> | undefined;
      if (r === undefined) throw new Error('pg_stat_archiver returned no row');
      const segmentBytes = Number(r.segment_bytes);
      const enabled = r.enabled === true;
      const last = typeof r.last_wal === 'string' ? walSegmentNumber(r.last_wal, segmentBytes) : undefined;
      const current = typeof r.current_lsn === 'string' ? lsnSegmentNumber(r.current_lsn, segmentBytes) : undefined;
      // Unknown (0) when archiving is off, nothing is archived yet or the server is a standby. When a timeline
      // history file was archived last (no segment number), keep the previous figure until a segment is.
      let pending = this.#stats.segmentsPending;
      if (!enabled || r.last_wal === null || current === undefined) pending = 0;
      else if (last !== undefined) pending = Math.max(0, Number(current - last - 1n));
      // With archiving off, PostgreSQL deletes a backup history file as soon as it writes it: none to read.
      const baseBackupKnown = enabled && r.can_list_wal === true && current !== undefined;
      const backupAge = baseBackupKnown ? ageSeconds((await ask(BACKUP_SQL)).rows[0]?.age) : -1;
      this.#stats = {
        enabled,
        failing: enabled && r.failing === true,
        archived: Number(r.archived),
        failures: Number(r.failures),
        segmentsPending: pending,
        lastArchivedAgeSeconds: ageSeconds(r.last_age),
        timeoutSeconds: Number(r.timeout_s),
        baseBackupKnown,
        lastBaseBackupAgeSeconds: backupAge,
        checkErrors: this.#stats.checkErrors,
      };
      this.#lastError = '';
    } catch (e) {
      this.#stats.checkErrors++;
      const error = e as Error;
      if (error.message !== this.#lastError) {
        this.#lastError = error.message;
        this.options.onError?.(error);
      }
    }
  }

  /** The last sample's figures. */
  stats(): WalArchiveStats {
    return { ...this.#stats };
  }

  /** Stops sampling and waits for a sample in flight. Idempotent. */
  async close(): Promise<void> {
    this.#closed = true;
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#running;
  }
}
