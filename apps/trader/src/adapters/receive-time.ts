import { performance } from 'node:perf_hooks';
import type { StreamMessage } from '@cryptoscalp/ws-manager';

/**
 * A delivered message's frame arrival on the `performance.now()` clock, which the engine's stage latencies use.
 * ws-manager stamps `receivedAtMono` (µs resolution) at the frame; without it, `receivedAt` (`Date.now()`, 1 ms
 * resolution) is mapped onto the performance clock, which is as good as the wall clock allows.
 */
export function receiveTime(msg: StreamMessage): number {
  return (
    (msg as { receivedAtMono?: number }).receivedAtMono ?? performance.now() - Math.max(0, Date.now() - msg.receivedAt)
  );
}
