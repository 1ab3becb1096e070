import type { Keyring, KeyringQueryable } from './keyring.js';
import { checkSchema } from './keyring-ddl.js';
import { type KeyAuditEntry, type ReencryptResult, reencryptAll } from './reencrypt.js';

/** Options of {@link startRotationWorker}. */
export interface RotationWorkerOptions {
  keyring: Keyring;
  pool: KeyringQueryable;
  audit?: (entry: KeyAuditEntry) => Promise<unknown>;
  /** How often to look for retiring keys. @default 10000 */
  intervalMs?: number;
  /** Pause between batches of 100 values. @default 50 */
  pauseMs?: number;
  /** Errors (counted, never thrown). */
  onError?: (e: unknown) => void;
  /** After each run that did something. */
  onRun?: (r: ReencryptResult) => void;
}

/** A running {@link startRotationWorker}. */
export interface RotationWorker {
  /** Runs counted so far, and errors. */
  stats(): { runs: number; errors: number; reencrypted: number; retired: number };
  /** Stops after the current batch; idempotent. */
  close(): Promise<void>;
}

/**
 * The re-encryption in the background of a running trader: every `intervalMs` it looks for retiring data keys (a
 * `trader keys rotate --no-wait`, or a rotation cut short) and runs `reencryptAll` in small batches with pauses. Runs
 * in every process that holds the keyring; concurrent runs are safe (compare-and-set writes). A run that left values
 * it cannot decrypt is retried at a growing interval (at most hourly), not every interval.
 */
export function startRotationWorker(options: RotationWorkerOptions): RotationWorker {
  const s = checkSchema(options.keyring.schema);
  const intervalMs = options.intervalMs ?? 10_000;
  const abort = new AbortController();
  const stats = { runs: 0, errors: 0, reencrypted: 0, retired: 0 };
  let backoffMs = intervalMs;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  const schedule = (ms: number) => {
    if (abort.signal.aborted) return;
    timer = setTimeout(() => {
      running = tick().finally(() => {
        running = undefined;
      });
    }, ms);
    timer.unref();
  };
  const tick = async () => {
    let next = intervalMs;
    try {
      const { rows } = await options.pool.query(`SELECT 1 FROM ${s}.data_keys WHERE state = 'retiring' LIMIT 1`);
      if (rows.length > 0) {
        stats.runs++;
        const r = await reencryptAll({
          keyring: options.keyring,
          pool: options.pool,
          actor: 'trader',
          signal: abort.signal,
          pauseMs: options.pauseMs ?? 50,
          ...(options.audit === undefined ? {} : { audit: options.audit }),
        });
        stats.reencrypted += r.reencrypted;
        stats.retired += r.retired.length;
        options.onRun?.(r);
        if (r.remaining.length > 0 && !abort.signal.aborted) {
          backoffMs = Math.min(backoffMs * 4, 3_600_000);
          next = backoffMs;
        } else backoffMs = intervalMs;
      }
    } catch (e) {
      // The tables may not exist yet (PostgreSQL down at start): try again at the next interval.
      if ((e as { code?: string }).code !== '42P01') {
        stats.errors++;
        options.onError?.(e);
      }
    }
    schedule(next);
  };
  schedule(Math.min(1_000, intervalMs));
  return {
    stats: () => ({ ...stats }),
    async close() {
      abort.abort();
      clearTimeout(timer);
      await running;
    },
  };
}
