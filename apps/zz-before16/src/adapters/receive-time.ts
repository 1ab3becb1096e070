import { performance } from 'node:perf_hooks';
import type { StreamMessage } from '@cryptoscalp/ws-manager';

/**
 * A delivered message's frame arrival on the `performance.now()` clock, which the engine's stage latencies use:
 * ws-manager's `receivedAtMono` (µs resolution). The fallback maps `receivedAt` (`Date.now()`, 1 ms resolution) onto
 * the performance clock, for a message built without the stamp (an older ws-manager, a test double).
 */
export function receiveTime(msg: StreamMessage): number {
  return msg.receivedAtMono ?? performance.now() - Math.max(0, Date.now() - msg.receivedAt);
}
