import CircuitBreaker from 'opossum';
import type { ConnectionOptions } from '../types.js';
import { TokenBucket } from './token-bucket.js';
import type { ResolvedBreakerOptions, ResolvedLimits } from './validate.js';

/** One endpoint with its circuit breaker (shared by every connection of the exchange). */
export interface Endpoint {
  url: string;
  breaker: CircuitBreaker<[() => Promise<unknown>], unknown>;
  failures: number;
  successes: number;
}

/** Shared state of one exchange: endpoints with breakers and the connect / message budgets. */
export class ExchangeRuntime {
  readonly endpoints: Endpoint[];
  readonly connectBucket: TokenBucket;
  readonly messageBucket: TokenBucket;

  constructor(
    readonly name: string,
    urls: string[],
    limits: ResolvedLimits,
    breaker: ResolvedBreakerOptions,
    readonly connection: ConnectionOptions,
  ) {
    this.connectBucket = new TokenBucket(limits.connectsPerSecond, limits.connectBurst);
    this.messageBucket = new TokenBucket(limits.messagesPerSecond, limits.messageBurst);
    this.endpoints = urls.map((url) => {
      const cb = new CircuitBreaker<[() => Promise<unknown>], unknown>((open) => open(), {
        timeout: false,
        errorThresholdPercentage: breaker.errorThresholdPercentage,
        volumeThreshold: breaker.volumeThreshold,
        resetTimeout: breaker.resetTimeoutMs,
        rollingCountTimeout: breaker.rollingCountTimeoutMs,
        rollingCountBuckets: 10,
        enableSnapshots: false,
        name: `${name} ${url}`,
      });
      return { url, breaker: cb, failures: 0, successes: 0 };
    });
  }

  /** The breaker state of an endpoint. */
  static breakerState(endpoint: Endpoint): 'closed' | 'open' | 'half-open' {
    if (endpoint.breaker.halfOpen) return 'half-open';
    return endpoint.breaker.opened ? 'open' : 'closed';
  }

  /** Stops breaker timers and rejects budget waiters. */
  close(error: unknown): void {
    for (const endpoint of this.endpoints) endpoint.breaker.shutdown();
    this.connectBucket.close(error);
    this.messageBucket.close(error);
  }
}
