import { type IntervalHistogram, monitorEventLoopDelay } from 'node:perf_hooks';
import { getHeapStatistics } from 'node:v8';
import { DEFAULT_EVENT_LOOP_DELAY, DEFAULT_HEAP } from './defaults.js';
import { checkKnownKeys, checkNumber, checkObject, invalidOption } from './internal/validate.js';
import type { EventLoopDelayCheckOptions, HealthCheckResult, HealthIndicator, HeapCheckOptions } from './types.js';

/** A liveness indicator that owns a resource to release. */
export interface ClosableIndicator extends HealthIndicator {
  /** Releases the indicator's resources. Idempotent. */
  close(): void;
}

/**
 * The built-in event-loop delay check (name `event-loop`): p99 of `monitorEventLoopDelay` over the window since
 * the previous run, in ms. Warns at `warnMs`, fails at `failMs`.
 */
export function createEventLoopDelayIndicator(
  options: EventLoopDelayCheckOptions = {},
  field = 'eventLoopDelay',
): ClosableIndicator {
  checkObject(options, field);
  checkKnownKeys(options, ['warnMs', 'failMs', 'resolutionMs'], `${field}.`);
  checkNumber(options.warnMs, `${field}.warnMs`, 1);
  checkNumber(options.failMs, `${field}.failMs`, 1);
  checkNumber(options.resolutionMs, `${field}.resolutionMs`, 1, 1_000);
  const warnMs = options.warnMs ?? DEFAULT_EVENT_LOOP_DELAY.warnMs;
  const failMs = options.failMs ?? DEFAULT_EVENT_LOOP_DELAY.failMs;
  if (warnMs > failMs) throw invalidOption(`${field}.warnMs`, 'must not exceed failMs');
  let histogram: IntervalHistogram | undefined = monitorEventLoopDelay({
    resolution: options.resolutionMs ?? DEFAULT_EVENT_LOOP_DELAY.resolutionMs,
  });
  histogram.enable();
  return {
    name: 'event-loop',
    async healthCheck(): Promise<HealthCheckResult> {
      if (histogram === undefined) return { status: 'fail', output: 'event-loop monitor closed' };
      // No samples yet (first run right after start): nothing has been delayed.
      const p99 = histogram.count === 0 ? 0 : histogram.percentile(99) / 1e6;
      const max = histogram.count === 0 ? 0 : histogram.max / 1e6;
      histogram.reset();
      const observedValue = Math.round(p99 * 100) / 100;
      const status = p99 >= failMs ? 'fail' : p99 >= warnMs ? 'warn' : 'pass';
      const result: HealthCheckResult = {
        status,
        observedValue,
        observedUnit: 'ms',
        details: { p99Ms: observedValue, maxMs: Math.round(max * 100) / 100, warnMs, failMs },
      };
      if (status !== 'pass') result.output = `event loop delay p99 ${observedValue} ms`;
      return result;
    },
    close() {
      histogram?.disable();
      histogram = undefined;
    },
  };
}

/** The built-in heap check (name `heap`): `heapUsed / heap_size_limit` as a percentage. */
export function createHeapIndicator(options: HeapCheckOptions = {}, field = 'heap'): HealthIndicator {
  checkObject(options, field);
  checkKnownKeys(options, ['warnRatio', 'failRatio'], `${field}.`);
  checkNumber(options.warnRatio, `${field}.warnRatio`, 0.0001, 1);
  checkNumber(options.failRatio, `${field}.failRatio`, 0.0001, 1);
  const warnRatio = options.warnRatio ?? DEFAULT_HEAP.warnRatio;
  const failRatio = options.failRatio ?? DEFAULT_HEAP.failRatio;
  if (warnRatio > failRatio) throw invalidOption(`${field}.warnRatio`, 'must not exceed failRatio');
  return {
    name: 'heap',
    async healthCheck(): Promise<HealthCheckResult> {
      const heap = getHeapStatistics();
      const ratio = heap.used_heap_size / heap.heap_size_limit;
      const status = ratio >= failRatio ? 'fail' : ratio >= warnRatio ? 'warn' : 'pass';
      const percent = Math.round(ratio * 10_000) / 100;
      const result: HealthCheckResult = {
        status,
        observedValue: percent,
        observedUnit: 'percent',
        details: { usedBytes: heap.used_heap_size, limitBytes: heap.heap_size_limit, warnRatio, failRatio },
      };
      if (status !== 'pass') result.output = `heap ${percent}% of limit`;
      return result;
    },
  };
}
