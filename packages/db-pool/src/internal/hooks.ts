import { HookEmitter } from '@cryptoscalp/contracts';
import type { BreakerEvent, ConnectionErrorEvent, FailoverEvent, ReplicaStateEvent } from '../channels.js';
import type { ConnectWaitEvent, SlowQueryEvent } from '../types.js';

/**
 * The emitters behind `PoolManager`'s hooks, one set per manager. They travel with the resolved options because
 * every part that emits (failover, breakers, replica router) already receives those. A listener that throws is
 * counted in {@link PoolHooks.listenerErrors} (`stats().hookListenerErrors`), as a throwing `onSlowQuery` option is.
 */
export class PoolHooks {
  readonly failover = new HookEmitter<FailoverEvent>();
  readonly breaker = new HookEmitter<BreakerEvent>();
  readonly slowQuery = new HookEmitter<SlowQueryEvent>();
  readonly replica = new HookEmitter<ReplicaStateEvent>();
  readonly connectWait = new HookEmitter<ConnectWaitEvent>();
  readonly connectionError = new HookEmitter<ConnectionErrorEvent>();

  /** Listener exceptions across every hook of the manager. */
  get listenerErrors(): number {
    return (
      this.failover.listenerErrors +
      this.breaker.listenerErrors +
      this.slowQuery.listenerErrors +
      this.replica.listenerErrors +
      this.connectWait.listenerErrors +
      this.connectionError.listenerErrors
    );
  }
}
