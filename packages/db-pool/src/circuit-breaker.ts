import { performance } from 'node:perf_hooks';
import type { BreakerState, HookEmitter } from '@cryptoscalp/contracts';
import CircuitBreaker from 'opossum';
import { type BreakerEvent, channels } from './channels.js';
import { CircuitOpenError, isDbPoolError, isQueryError } from './errors.js';
import { isTransientSqlState } from './sqlstate.js';
import type { BreakerOptions } from './types.js';

export type { BreakerState } from '@cryptoscalp/contracts';

/** Carries a slow call's result through opossum as a "failure" so the caller still gets it. */
class SlowCall {
  constructor(readonly value: unknown) {}
}

type Thunk = () => Promise<unknown>;

/**
 * A circuit breaker for one host (opossum underneath) that counts connection failures,
 * transient server errors, timeouts AND successful calls slower than `slowCallMs`. Caller
 * mistakes (syntax errors, constraint violations, aborts, a full local queue) never count.
 */
export class HostBreaker {
  private readonly breaker: CircuitBreaker<[Thunk, boolean], unknown> | undefined;
  private readonly status: { increment(property: string): void } | undefined;
  private readonly slowMs: number;
  /** Calls rejected because the breaker was open. */
  rejected = 0;
  /** Successful calls counted as failures because they were slow. */
  slowCalls = 0;

  constructor(
    readonly host: string,
    private readonly component: string,
    options: Required<BreakerOptions>,
    hook?: HookEmitter<BreakerEvent>,
  ) {
    this.slowMs = options.slowCallMs;
    if (!options.enabled) {
      this.status = undefined;
      return;
    }
    const slowMs = options.slowCallMs;
    const action = (fn: Thunk, slowCheck: boolean): Promise<unknown> => {
      if (slowMs === 0 || !slowCheck) return fn();
      const started = performance.now();
      return fn().then((value) => {
        if (performance.now() - started > slowMs) {
          this.slowCalls++;
          throw new SlowCall(value);
        }
        return value;
      });
    };
    this.breaker = new CircuitBreaker(action, {
      timeout: false,
      errorThresholdPercentage: options.errorThresholdPercentage,
      resetTimeout: options.resetTimeoutMs,
      rollingCountTimeout: options.rollingCountTimeoutMs,
      rollingCountBuckets: 10,
      volumeThreshold: options.volumeThreshold,
      rollingPercentilesEnabled: false,
      enableSnapshots: false,
      errorFilter: (error: unknown) => countsAsSuccess(error),
    });
    this.status = (this.breaker as unknown as { status: { increment(property: string): void } }).status;
    const publish = (state: BreakerState) => {
      const toHook = hook?.hasListeners === true;
      if (!channels.breaker.hasSubscribers && !toHook) return;
      const event: BreakerEvent = { component: this.component, host: this.host, state };
      if (channels.breaker.hasSubscribers) channels.breaker.publish(event);
      if (toHook) hook?.emit(event);
    };
    this.breaker.on('open', () => publish('open'));
    this.breaker.on('halfOpen', () => publish('half-open'));
    this.breaker.on('close', () => publish('closed'));
  }

  /**
   * Runs `fn` through the breaker. `slowCheck: false` for work whose length is the caller's
   * business (transactions).
   *
   * While the breaker is closed, a call that succeeds quickly only bumps opossum's rolling
   * `fires` counter (opossum's open decision uses fires and failures only), so the hot path
   * pays one increment instead of opossum's promise, events and latency bookkeeping. Failures
   * and slow calls, and every call while open or half-open, go through `fire()` so opossum's
   * state machine (open, half-open trial, close) and events work as usual.
   */
  run<T>(fn: () => Promise<T>, slowCheck = true): Promise<T> {
    const breaker = this.breaker;
    if (breaker === undefined) return fn();
    if (!breaker.closed) return this.fire(breaker, fn, slowCheck);
    const status = this.status!;
    const slowMs = slowCheck ? this.slowMs : 0;
    const started = slowMs > 0 ? performance.now() : 0;
    return fn().then(
      (value) => {
        if (slowMs > 0 && performance.now() - started > slowMs) {
          this.slowCalls++;
          this.recordFailure(new SlowCall(undefined));
        } else {
          status.increment('fires');
        }
        return value;
      },
      (error: unknown) => {
        if (countsAsSuccess(error)) status.increment('fires');
        else this.recordFailure(error);
        throw error;
      },
    );
  }

  /** True when a call may take the inline fast path (breaker enabled and closed, or disabled). */
  get closedFast(): boolean {
    return this.breaker === undefined || this.breaker.closed;
  }

  /** Inline fast path, success: `durationMs` is checked against `slowCallMs`. */
  succeeded(durationMs: number): void {
    if (this.status === undefined) return;
    if (this.slowMs > 0 && durationMs > this.slowMs) {
      this.slowCalls++;
      this.recordFailure(new SlowCall(undefined));
    } else {
      this.status.increment('fires');
    }
  }

  /** Inline fast path, failure. */
  failed(error: unknown): void {
    if (this.status === undefined) return;
    if (countsAsSuccess(error)) this.status.increment('fires');
    else this.recordFailure(error);
  }

  private fire<T>(
    breaker: CircuitBreaker<[Thunk, boolean], unknown>,
    fn: () => Promise<T>,
    slowCheck: boolean,
  ): Promise<T> {
    return breaker.fire(fn, slowCheck).then(
      (value) => value as T,
      (error: unknown) => {
        if (error instanceof SlowCall) return error.value as T;
        if ((error as { code?: unknown })?.code === 'EOPENBREAKER') {
          this.rejected++;
          throw new CircuitOpenError({ host: this.host });
        }
        throw error;
      },
    );
  }

  /** Feeds a failure through opossum (counts it and opens the breaker if over the threshold). */
  private recordFailure(error: unknown): void {
    this.breaker?.fire(() => Promise.reject(error), false).catch(() => {});
  }

  /** Whether a call would be let through now. */
  get allows(): boolean {
    return this.breaker === undefined || !this.breaker.opened;
  }

  get state(): BreakerState {
    const b = this.breaker;
    if (b === undefined || b.closed) return 'closed';
    return b.halfOpen ? 'half-open' : 'open';
  }

  shutdown(): void {
    this.breaker?.shutdown();
  }
}

/** Errors that say nothing about the host's health. */
function countsAsSuccess(error: unknown): boolean {
  if (error instanceof SlowCall) return false;
  if (isQueryError(error)) return !isTransientSqlState(error.sqlState);
  if (isDbPoolError(error)) {
    return error.code === 'E_DB_ABORTED' || error.code === 'E_DB_POOL_QUEUE_FULL' || error.code === 'E_DB_CLOSED';
  }
  return false;
}
