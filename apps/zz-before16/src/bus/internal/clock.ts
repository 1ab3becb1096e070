import { performance } from 'node:perf_hooks';

/**
 * Epoch ms with a microsecond fraction: what the Redis log stamps on records, so a reader on the same machine can
 * measure sub-millisecond lag against it (`Date.now()` would round every lag to whole milliseconds).
 */
export function preciseNow(): number {
  return performance.timeOrigin + performance.now();
}
