/**
 * What a hook returns: `dispose()` removes the listener. Calling it again does nothing, so a caller can dispose
 * from several cleanup paths without tracking whether one already ran.
 */
export interface HookDisposable {
  dispose(): void;
}

/** A listener of a {@link Hook}: it receives the event's typed payload. Its return value is ignored. */
export type HookListener<T> = (event: T) => void;

/**
 * A typed event hook in cockatiel's `Event<T>` style: `manager.onBreakerStateChange(listener)` adds `listener` and
 * returns a {@link HookDisposable} that removes it. Every package of the suite offers its events this way beside its
 * `diagnostics_channel` channels; a hook's payload is the payload type of the channel it mirrors.
 *
 * A listener runs synchronously when the event happens. A listener that throws does not stop the others nor the
 * component: the package counts the error and reports it the way it reports its other listener errors.
 *
 * @example
 * const subscription = cache.onBreakerStateChange((event) => log.warn(`cache breaker ${event.state}`));
 * // later
 * subscription.dispose();
 */
export type Hook<T> = (listener: HookListener<T>) => HookDisposable;

/** The payload type a {@link Hook} delivers. */
export type HookPayload<H> = H extends Hook<infer T> ? T : never;
