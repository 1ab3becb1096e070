import type { BreakerState } from '@cryptoscalp/contracts';
import CircuitBreaker from 'opossum';
import { CacheError } from '../errors.js';

export type { BreakerState } from '@cryptoscalp/contracts';

/** Settings of {@link L2Breaker}. */
export interface L2BreakerOptions {
  /** Deadline of every call (opossum's `timeout`). */
  timeoutMs: number;
  errorThresholdPercentage: number;
  resetTimeoutMs: number;
  volumeThreshold: number;
  rollingWindowMs: number;
  onStateChange: (state: BreakerState) => void;
}

type Thunk = () => Promise<unknown>;

function invoke(thunk: Thunk): Promise<unknown> {
  return thunk();
}

/**
 * An opossum circuit breaker around every Redis call. opossum's `timeout` is the per-call
 * deadline; a timeout, an error or an open breaker all reject with a {@link CacheError}
 * (`E_CACHE_TIMEOUT` or `E_CACHE_UNAVAILABLE`). The reset timer lets one trial call through
 * after `resetTimeoutMs` (half-open), which closes the breaker again if it succeeds.
 */
export class L2Breaker {
  private readonly breaker: CircuitBreaker<[Thunk], unknown>;
  state: BreakerState = 'closed';

  constructor(private readonly options: L2BreakerOptions) {
    this.breaker = new CircuitBreaker(invoke, {
      timeout: options.timeoutMs,
      errorThresholdPercentage: options.errorThresholdPercentage,
      resetTimeout: options.resetTimeoutMs,
      volumeThreshold: options.volumeThreshold,
      rollingCountTimeout: options.rollingWindowMs,
      rollingCountBuckets: 10,
      enableSnapshots: false,
    });
    this.breaker.on('open', () => this.transition('open'));
    // opossum names it `halfOpen`; the suite's word (contracts' BreakerState) is `half-open`.
    this.breaker.on('halfOpen', () => this.transition('half-open'));
    this.breaker.on('close', () => this.transition('closed'));
  }

  /** True while calls are rejected without reaching Redis. */
  get isOpen(): boolean {
    return this.breaker.opened;
  }

  /** Runs one Redis call under the breaker and its deadline. */
  run<T>(thunk: () => Promise<T>): Promise<T> {
    return (this.breaker.fire(thunk) as Promise<T>).catch(translate) as Promise<T>;
  }

  /** Stops the breaker's timers. Idempotent. */
  shutdown(): void {
    if (!this.breaker.isShutdown) this.breaker.shutdown();
  }

  private transition(state: BreakerState): void {
    if (this.state === state) return;
    this.state = state;
    this.options.onStateChange(state);
  }
}

function translate(error: unknown): never {
  const code = (error as { code?: string } | null)?.code;
  if (code === 'ETIMEDOUT') {
    throw new CacheError('E_CACHE_TIMEOUT', 'Redis call missed its deadline', { cause: error });
  }
  if (code === 'EOPENBREAKER') {
    throw new CacheError('E_CACHE_UNAVAILABLE', 'Redis circuit breaker is open', { cause: error });
  }
  if (error instanceof CacheError) throw error;
  throw new CacheError('E_CACHE_UNAVAILABLE', `Redis call failed: ${(error as Error)?.message ?? String(error)}`, {
    cause: error,
  });
}
