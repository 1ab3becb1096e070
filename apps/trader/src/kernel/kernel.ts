import { TraderError } from '../errors.js';
import type { Log } from '../internal/log.js';
import { withTimeout } from '../internal/with-timeout.js';
import type { Component } from './component.js';

/** Options of {@link Kernel}. */
export interface KernelOptions {
  /** Log lines (start, stop, failures). @default console.log */
  log?: Log;
}

/** How one component's start or stop went. */
export interface KernelStep {
  readonly component: string;
  readonly phase: 'start' | 'quiesce' | 'stop';
  readonly ms: number;
  readonly error?: string;
}

/**
 * Starts components in their declared order and stops them in reverse, in two phases (quiesce, then stop), each
 * step bounded by the component's timeout. A start that fails stops what had started and rethrows; a stop step
 * that fails or times out is logged and the next one still runs, so one stuck dependency never keeps the process
 * from releasing the others.
 */
export class Kernel {
  private readonly components: Component[] = [];
  private readonly started: Component[] = [];
  private readonly log: Log;
  private readonly abort = new AbortController();
  private stopping: Promise<void> | undefined;
  private readonly history: KernelStep[] = [];

  constructor(options: KernelOptions = {}) {
    this.log = options.log ?? ((l) => console.log(l));
  }

  /** Declares a component; returns it (so a factory's result can be declared and kept in one line). */
  add<C extends Component>(component: C): C {
    if (this.components.some((c) => c.name === component.name))
      throw new TraderError('E_TRADER_INVALID_OPTION', `component ${component.name} declared twice`, { field: 'name' });
    if (this.stopping !== undefined || this.started.length > 0)
      throw new TraderError('E_TRADER_INVALID_OPTION', 'components are declared before start', { field: 'name' });
    this.components.push(component);
    return component;
  }

  /** The declared components, in start order. */
  list(): readonly Component[] {
    return this.components;
  }

  /** What each start and stop step took (ms) and how it failed. */
  steps(): readonly KernelStep[] {
    return this.history;
  }

  /**
   * Starts every component in order, then tells each one the process is ready; on failure stops the started ones
   * in reverse and rethrows.
   */
  async start(): Promise<void> {
    for (const c of this.components) {
      if (this.stopping !== undefined) throw new TraderError('E_TRADER_INVALID_OPTION', 'stopped while starting');
      const t0 = performance.now();
      try {
        await bounded(c.start(this.abort.signal), c.startTimeoutMs ?? 30_000, `${c.name} start`);
        this.started.push(c);
        this.history.push({ component: c.name, phase: 'start', ms: performance.now() - t0 });
      } catch (e) {
        this.history.push({ component: c.name, phase: 'start', ms: performance.now() - t0, error: errorText(e) });
        // The failed component may hold part of what it made: stop it too (stop is idempotent).
        this.started.push(c);
        await this.stop(`${c.name} failed to start`);
        throw e;
      }
    }
    for (const c of this.components) c.ready?.();
  }

  /** Two-phase shutdown in reverse order; idempotent (every caller gets the same promise). */
  stop(reason: string): Promise<void> {
    this.stopping ??= this.doStop(reason);
    return this.stopping;
  }

  private async doStop(reason: string): Promise<void> {
    this.abort.abort();
    const order = [...this.started].reverse();
    for (const phase of ['quiesce', 'stop'] as const) {
      for (const c of order) {
        const fn = phase === 'quiesce' ? c.quiesce : c.stop;
        if (fn === undefined) continue;
        const t0 = performance.now();
        try {
          await bounded(fn.call(c, reason), c.stopTimeoutMs ?? 10_000, `${c.name} ${phase}`);
          this.history.push({ component: c.name, phase, ms: performance.now() - t0 });
        } catch (e) {
          this.history.push({ component: c.name, phase, ms: performance.now() - t0, error: errorText(e) });
          this.log(`trader: shutdown: ${c.name} ${phase} failed: ${errorText(e)}`, 'error');
        }
      }
    }
  }
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** A step's work within its timeout; a synchronous step has nothing to wait for. */
async function bounded(work: Promise<void> | void, ms: number, what: string): Promise<void> {
  if (work instanceof Promise) await withTimeout(work, ms, what);
}
