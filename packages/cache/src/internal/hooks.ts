import { HookEmitter } from '@cryptoscalp/contracts';
import type { CacheBreakerEvent, CacheBusEvent, CacheErrorEvent } from '../channels.js';

/**
 * The emitters behind `CacheManager`'s hooks, shared by every namespace view of one manager (like the breaker and
 * the bus they report on). A listener that throws is counted as an error of kind `listener` and published on the
 * error channel; the error hook's own listeners are not called for it, so a throwing error listener cannot loop.
 */
export class CacheHooks {
  readonly breaker: HookEmitter<CacheBreakerEvent>;
  readonly bus: HookEmitter<CacheBusEvent>;
  readonly error: HookEmitter<CacheErrorEvent>;

  constructor(reportListenerError: (hook: string, error: unknown) => void) {
    this.breaker = new HookEmitter((error) => reportListenerError('onBreakerStateChange', error));
    this.bus = new HookEmitter((error) => reportListenerError('onBusStateChange', error));
    this.error = new HookEmitter((error) => reportListenerError('onError', error));
  }
}
