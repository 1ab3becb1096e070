import type { Hook, HookDisposable, HookListener } from './hook.js';

// Not frozen: a frozen array has another hidden class, which would make the `length` read on the hot path polymorphic.
// Never mutated (the list is copied on write).
const NONE: readonly never[] = [];

/**
 * Where a {@link HookEmitter} reports a listener that threw: the package's own error path (its error channel, an
 * error hook, a counter). It must not throw; if it does, the error is dropped so the emitter keeps going.
 */
export type HookErrorReporter<T> = (error: unknown, event: T) => void;

/**
 * The one implementation behind every package's hooks (cockatiel's `EventEmitter<T>`): a package keeps one per
 * event privately and exposes {@link HookEmitter.hook} as `onX`. It is part of `@cryptoscalp/contracts`' few
 * run-time constants, so each package inlines it at build time like the channel registry.
 *
 * - With no listener, {@link HookEmitter.emit} returns after one length check; callers that must build a payload
 *   test {@link HookEmitter.hasListeners} first, as they test a channel's `hasSubscribers`, so an unobserved hook
 *   costs no allocation.
 * - The listener list is copied on subscribe and dispose, never on emit, so a listener that disposes itself or adds
 *   another during an emit does not change who receives that emit.
 * - A listener that throws is counted ({@link HookEmitter.listenerErrors}) and handed to the reporter; the other
 *   listeners still run.
 */
export class HookEmitter<T> {
  private listeners: readonly HookListener<T>[] = NONE;
  // Kept beside the list so the hot-path check is one boolean field load.
  private active = false;
  private errors = 0;

  /** @param report where a listener's exception goes (the package's error channel or counter). */
  constructor(private readonly report?: HookErrorReporter<T>) {}

  /**
   * The public hook: adds a listener and returns its disposable. Throws a `TypeError` (`ERR_INVALID_ARG_TYPE`, naming
   * `listener`) if `listener` is not a function, at the call that passed it rather than at the next event.
   */
  readonly hook: Hook<T> = (listener: HookListener<T>): HookDisposable => {
    if (typeof listener !== 'function') {
      const error = new TypeError(`listener must be a function, got ${typeof listener}`) as TypeError & {
        code: string;
        field: string;
      };
      error.code = 'ERR_INVALID_ARG_TYPE';
      error.field = 'listener';
      throw error;
    }
    // Wrapped so that one function added twice gives two subscriptions, each removed by its own disposable.
    const entry: HookListener<T> = (event) => listener(event);
    this.listeners = [...this.listeners, entry];
    this.active = true;
    let disposed = false;
    return {
      dispose: () => {
        if (disposed) return;
        disposed = true;
        const index = this.listeners.indexOf(entry);
        if (index < 0) return;
        const next = this.listeners.slice();
        next.splice(index, 1);
        this.listeners = next.length === 0 ? NONE : next;
        this.active = next.length !== 0;
      },
    };
  };

  /** Whether any listener is subscribed: test it before building a payload on a hot path. */
  get hasListeners(): boolean {
    return this.active;
  }

  /** How many listeners are subscribed. */
  get size(): number {
    return this.listeners.length;
  }

  /** How many times a listener threw since the emitter was made. */
  get listenerErrors(): number {
    return this.errors;
  }

  /** Calls every listener with `event`, in subscription order. Never throws. */
  emit(event: T): void {
    const listeners = this.listeners;
    if (listeners.length === 0) return;
    for (let i = 0; i < listeners.length; i++) {
      try {
        (listeners[i] as HookListener<T>)(event);
      } catch (error) {
        this.errors++;
        if (this.report !== undefined) {
          try {
            this.report(error, event);
          } catch {
            // The reporter is the package's last resort; a failing one must not break the emitter (counted above).
          }
        }
      }
    }
  }

  /** Removes every listener (a component's `close()`); their disposables become no-ops. */
  clear(): void {
    this.listeners = NONE;
    this.active = false;
  }
}
