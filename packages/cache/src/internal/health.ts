import { performance } from 'node:perf_hooks';
import type { CacheStats, HealthCheckResult } from '../types.js';
import type { InvalidationBus } from './bus.js';
import type { CoreState } from './state.js';

/** `stats()`: a snapshot of the counters, the L1 store, the breaker and the bus. */
export function cacheStats(s: CoreState, bus: InvalidationBus | undefined): CacheStats {
  return {
    name: s.name,
    l1Hits: s.l1Hits,
    l1Misses: s.l1Misses,
    l2Hits: s.l2Hits,
    l2Misses: s.l2Misses,
    loaderCalls: s.loaderCalls,
    staleServed: s.staleServed,
    evictions: s.store?.evictions ?? 0,
    expirations: s.store?.expirations ?? 0,
    l1Entries: s.store?.size ?? 0,
    l1Bytes: s.store?.bytes ?? 0,
    errors: { ...s.errors },
    breaker: s.tier === undefined ? 'none' : s.tier.breaker.state,
    bus: {
      state: bus === undefined ? 'off' : bus.state,
      published: bus?.published ?? 0,
      received: bus?.received ?? 0,
      drops: bus?.drops ?? 0,
      epoch: s.writeEpoch,
    },
    latency: {
      l1: s.l1Latency.summary(),
      l2: s.l2Latency.summary(),
      loader: s.loaderLatency.summary(),
    },
  };
}

/** `healthCheck()`: a Redis PING bounded by the command timeout (and `signal`), then breaker, latency and bus. */
export async function cacheHealth(
  s: CoreState,
  bus: InvalidationBus | undefined,
  signal: AbortSignal | undefined,
): Promise<HealthCheckResult> {
  const time = new Date().toISOString();
  const details: Record<string, unknown> = {
    breaker: s.tier === undefined ? 'none' : s.tier.breaker.state,
    bus: bus === undefined ? 'off' : bus.state,
    l1Entries: s.store?.size ?? 0,
  };
  if (s.closed) return { status: 'fail', output: 'closed', time, details };
  if (s.tier === undefined) return { status: 'pass', output: 'L1 only (no Redis configured)', time, details };
  const timeoutMs = Math.max(s.opts.commandTimeout, 1);
  const t0 = performance.now();
  let timer: NodeJS.Timeout | undefined;
  let onAbort: (() => void) | undefined;
  try {
    await Promise.race([
      s.tier.ping(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`PING timed out after ${timeoutMs} ms`)), timeoutMs);
        if (signal !== undefined) {
          onAbort = () => reject(new Error('health check aborted'));
          if (signal.aborted) onAbort();
          else signal.addEventListener('abort', onAbort, { once: true });
        }
      }),
    ]);
  } catch (error) {
    return { status: 'fail', output: `Redis PING failed: ${(error as Error).message}`, time, details };
  } finally {
    clearTimeout(timer);
    if (onAbort !== undefined) signal?.removeEventListener('abort', onAbort);
  }
  const ms = Math.round((performance.now() - t0) * 1000) / 1000;
  const base = { observedValue: ms, observedUnit: 'ms', time, details };
  const breaker = s.tier.breaker.state;
  if (breaker === 'open') return { status: 'fail', output: 'circuit breaker open', ...base };
  if (breaker === 'half-open') return { status: 'warn', output: 'circuit breaker half-open', ...base };
  if (ms > s.opts.healthWarnLatencyMs) return { status: 'warn', output: `slow PING (${ms} ms)`, ...base };
  if (bus !== undefined && bus.state === 'down') {
    return { status: 'warn', output: 'invalidation bus down (L1 bypassed)', ...base };
  }
  return { status: 'pass', ...base };
}
