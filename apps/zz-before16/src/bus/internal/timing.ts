/**
 * Timing of the Redis buses' blocking reads and retries, shared so the event log and the command bus behave alike
 * when the server goes away.
 */

/** How long one XREAD / XREADGROUP blocks server-side. */
export const BLOCK_MS = 1_000;
/** Added to {@link BLOCK_MS} before a read with no answer at all counts as a dead link (and its connection is replaced). */
export const BLOCK_GRACE_MS = 4_000;
/** First backoff after a failed write or read. */
export const BACKOFF_MIN_MS = 50;
/** Longest backoff: short enough that a server coming back is noticed within about a second. */
export const BACKOFF_MAX_MS = 1_000;
/** A health check's PING that has not answered in this time counts as the server being unreachable. */
export const PING_TIMEOUT_MS = 2_000;

/** The backoff after one more failure: doubled, up to {@link BACKOFF_MAX_MS}. */
export function nextBackoff(ms: number): number {
  return Math.min(ms * 2, BACKOFF_MAX_MS);
}
