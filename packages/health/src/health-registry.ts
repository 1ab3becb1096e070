import { performance } from 'node:perf_hooks';
import type { HealthShutdownEvent, HealthStatusEvent } from '@cryptoscalp/contracts';
import { type Hook, HookEmitter } from '@cryptoscalp/contracts';
import { DEFAULT_REGISTRY_OPTIONS } from './defaults.js';
import { HealthError, HealthErrorCode } from './errors.js';
import { type CheckRecord, CheckRunner, type CheckSettings, type RunnerHooks } from './internal/check-runner.js';
import { type CheckTraceContext, checkChannel, shutdownChannel, statusChannel } from './internal/diagnostics.js';
import { describeError } from './internal/sanitize.js';
import { ServerTracker } from './internal/server-tracker.js';
import {
  checkBoolean,
  checkFunction,
  checkInteger,
  checkKnownKeys,
  checkObject,
  checkString,
  invalidOption,
} from './internal/validate.js';
import { type ClosableIndicator, createEventLoopDelayIndicator, createHeapIndicator } from './liveness-checks.js';
import type {
  AttachableServer,
  CheckStats,
  ExitFunction,
  HealthIndicator,
  HealthRegistryOptions,
  HealthStats,
  HealthStatus,
  RegisterOptions,
  ShutdownHandler,
  ShutdownHandlerOptions,
  ShutdownHandlerReport,
  ShutdownPhase,
  ShutdownReport,
} from './types.js';

/** Readiness states, as small integers so the HTTP hot path indexes precomputed responses. */
export const ReadinessState = { pass: 0, warn: 1, fail: 2, starting: 3, draining: 4 } as const;
/** One of {@link ReadinessState}'s values. */
export type ReadinessStateValue = (typeof ReadinessState)[keyof typeof ReadinessState];
/** Liveness states: 0 pass, 1 warn, 2 fail. */
export type LivenessStateValue = 0 | 1 | 2;

const REGISTRY_KEYS = [
  'name',
  'version',
  'releaseId',
  'serviceId',
  'description',
  'cacheTtlMs',
  'timeoutMs',
  'backgroundRefresh',
  'startupGracePeriodMs',
  'eventLoopDelay',
  'heap',
  'shutdownDelayMs',
  'shutdownTimeoutMs',
  'shutdownHandlerTimeoutMs',
  'handleSignals',
  'exit',
] as const;
const REGISTER_KEYS = ['critical', 'timeoutMs', 'cacheTtlMs', 'measurement', 'componentType', 'componentId'] as const;
const MAX_MS = 24 * 60 * 60 * 1000;
const SIGNALS = ['SIGTERM', 'SIGINT'] as const;
const STATUS_RANK: Record<HealthStatus, number> = { pass: 0, warn: 1, fail: 2 };

/** A registered check, as the handler sees it. */
export interface RegisteredCheck {
  readonly runner: CheckRunner;
}

interface ShutdownEntry {
  fn: ShutdownHandler;
  name: string;
  timeoutMs: number;
}

/**
 * Holds the health checks of one service: readiness dependencies ({@link register}), in-process liveness checks
 * ({@link registerLiveness}, with built-in event-loop delay and heap checks), their cached results, the startup
 * phase and the graceful shutdown sequence.
 */
export class HealthRegistry {
  /** Name in events and stats. */
  readonly name: string;
  /** Service version (IETF `version`). */
  readonly version: string | undefined;
  /** IETF `releaseId`. */
  readonly releaseId: string | undefined;
  /** IETF `serviceId`. */
  readonly serviceId: string | undefined;
  /** IETF `description`. */
  readonly description: string | undefined;
  private readonly cacheTtlMs: number;
  private readonly timeoutMs: number;
  private readonly backgroundRefresh: boolean;
  private readonly graceUntil: number;
  private readonly shutdownDelayMs: number;
  private readonly shutdownTimeoutMs: number;
  private readonly shutdownHandlerTimeoutMs: number;
  private readonly exitOption: boolean | ExitFunction;
  private readonly readinessRunners: CheckRunner[] = [];
  private readonly livenessRunners: CheckRunner[] = [];
  private readonly byName = new Map<string, CheckRunner>();
  private readonly dependencies = new WeakSet<object>();
  private readonly ownedIndicators: ClosableIndicator[] = [];
  private readonly trackers: ServerTracker[] = [];
  private readonly shutdownHandlers: ShutdownEntry[] = [];
  private readonly hooks: RunnerHooks;
  private readonly signalListener: ((signal: NodeJS.Signals) => void) | undefined;
  private readiness: ReadinessStateValue = ReadinessState.pass;
  private aggregateReadiness: HealthStatus = 'pass';
  private liveness: LivenessStateValue = 0;
  private startupDone = true;
  private phaseValue: ShutdownPhase = 'running';
  private shutdownPromise: Promise<ShutdownReport> | undefined;
  private closed = false;
  // Earliest time a cached result goes stale, for stale-while-revalidate on the hot path (no background timers).
  private readinessStaleAt = 0;
  private livenessStaleAt = 0;
  // A throwing hook listener is counted (`stats().hookListenerErrors`); health has no error channel to report it on.
  private readonly statusHook = new HookEmitter<HealthStatusEvent>();
  private readonly phaseHook = new HookEmitter<HealthShutdownEvent>();

  /**
   * Calls `listener` when a check's status changes (`from` is `unknown` for its first result). Same payload as
   * `cryptoscalp:health:status`. Returns a disposable that removes the listener.
   */
  readonly onStatusChange: Hook<HealthStatusEvent> = this.statusHook.hook;

  /**
   * Calls `listener` when the shutdown phase changes (`draining`, `closing`, `cleanup`, `stopped`). Same payload as
   * `cryptoscalp:health:shutdown`. Returns a disposable. (To run work during shutdown, register a handler with
   * {@link HealthRegistry.onShutdown}: that one is awaited, a hook listener is not.)
   */
  readonly onShutdownPhase: Hook<HealthShutdownEvent> = this.phaseHook.hook;

  /** @throws HealthError `E_HEALTH_INVALID_OPTION` naming the bad field. */
  constructor(options: HealthRegistryOptions = {}) {
    checkObject(options, 'options');
    checkKnownKeys(options, REGISTRY_KEYS);
    checkString(options.name, 'name');
    checkString(options.version, 'version');
    checkString(options.releaseId, 'releaseId');
    checkString(options.serviceId, 'serviceId');
    checkString(options.description, 'description');
    checkInteger(options.cacheTtlMs, 'cacheTtlMs', 1, MAX_MS);
    checkInteger(options.timeoutMs, 'timeoutMs', 1, MAX_MS);
    checkBoolean(options.backgroundRefresh, 'backgroundRefresh');
    checkInteger(options.startupGracePeriodMs, 'startupGracePeriodMs', 0, MAX_MS);
    checkInteger(options.shutdownDelayMs, 'shutdownDelayMs', 0, MAX_MS);
    checkInteger(options.shutdownTimeoutMs, 'shutdownTimeoutMs', 0, MAX_MS);
    checkInteger(options.shutdownHandlerTimeoutMs, 'shutdownHandlerTimeoutMs', 1, MAX_MS);
    checkBoolean(options.handleSignals, 'handleSignals');
    if (options.exit !== undefined && typeof options.exit !== 'boolean') checkFunction(options.exit, 'exit');
    if (options.eventLoopDelay !== false) checkObject(options.eventLoopDelay, 'eventLoopDelay');
    if (options.heap !== false) checkObject(options.heap, 'heap');
    const d = DEFAULT_REGISTRY_OPTIONS;
    this.name = options.name ?? d.name;
    this.version = options.version;
    this.releaseId = options.releaseId;
    this.serviceId = options.serviceId;
    this.description = options.description;
    this.cacheTtlMs = options.cacheTtlMs ?? d.cacheTtlMs;
    this.timeoutMs = options.timeoutMs ?? d.timeoutMs;
    this.backgroundRefresh = options.backgroundRefresh ?? d.backgroundRefresh;
    this.graceUntil = performance.now() + (options.startupGracePeriodMs ?? d.startupGracePeriodMs);
    this.shutdownDelayMs = options.shutdownDelayMs ?? d.shutdownDelayMs;
    this.shutdownTimeoutMs = options.shutdownTimeoutMs ?? d.shutdownTimeoutMs;
    this.shutdownHandlerTimeoutMs = options.shutdownHandlerTimeoutMs ?? d.shutdownHandlerTimeoutMs;
    this.exitOption = options.exit ?? d.exit;
    // Validate the built-in checks' options before creating anything that needs closing.
    const heap = options.heap === false ? undefined : createHeapIndicator(options.heap ?? {});
    const loop =
      options.eventLoopDelay === false ? undefined : createEventLoopDelayIndicator(options.eventLoopDelay ?? {});
    this.hooks = {
      onResult: (runner, previous, next) => this.onResult(runner, previous, next),
      trace: (runner, run) => this.trace(runner, run),
    };
    if (loop !== undefined) {
      this.ownedIndicators.push(loop);
      this.registerLiveness(loop, { componentType: 'system', measurement: 'delay' });
    }
    if (heap !== undefined) this.registerLiveness(heap, { componentType: 'system', measurement: 'utilization' });
    if (options.handleSignals ?? d.handleSignals) {
      const listener = (signal: NodeJS.Signals) => this.onSignal(signal);
      this.signalListener = listener;
      for (const signal of SIGNALS) process.on(signal, listener);
    }
  }

  /** The shutdown phase. */
  get phase(): ShutdownPhase {
    return this.phaseValue;
  }

  /** True when every critical readiness check has passed (or warned) at least once: readiness is no longer `starting`. */
  get started(): boolean {
    return this.startupDone;
  }

  /**
   * Registers a dependency check (readiness). Its first run starts at once.
   * @throws HealthError `E_HEALTH_INVALID_INDICATOR`, `E_HEALTH_DUPLICATE_CHECK`, `E_HEALTH_INVALID_OPTION`, `E_HEALTH_CLOSED`
   */
  register(indicator: HealthIndicator, options: RegisterOptions = {}): this {
    this.add(indicator, options, 'readiness');
    return this;
  }

  /**
   * Registers an in-process liveness check (event loop, heap, a deadlock detector). Liveness must never depend on
   * Redis, PostgreSQL or another service (a dependency outage would restart healthy pods), so an indicator
   * already registered with {@link register} is rejected.
   * @throws HealthError `E_HEALTH_LIVENESS_DEPENDENCY` and the errors of {@link register}
   */
  registerLiveness(indicator: HealthIndicator, options: RegisterOptions = {}): this {
    if (typeof indicator === 'object' && indicator !== null && this.dependencies.has(indicator)) {
      throw new HealthError(
        HealthErrorCode.LIVENESS_DEPENDENCY,
        `${String(indicator.name)} is registered as a dependency (readiness) and cannot be a liveness check`,
        { check: String(indicator.name) },
      );
    }
    this.add(indicator, options, 'liveness');
    return this;
  }

  /** Names of the registered checks, readiness first. */
  checkNames(): string[] {
    return [...this.byName.keys()];
  }

  /**
   * Attaches a node:http or node:https server so shutdown stops it gracefully: stop accepting, answer in-flight
   * requests with `Connection: close`, close idle keep-alive sockets, destroy what outlives `shutdownTimeoutMs`.
   * @throws HealthError `E_HEALTH_CLOSED` once shutdown is past `draining`.
   */
  attach(server: AttachableServer): this {
    if (this.phaseValue !== 'running' && this.phaseValue !== 'draining') {
      throw new HealthError(HealthErrorCode.CLOSED, `cannot attach a server during shutdown (${this.phaseValue})`);
    }
    this.trackers.push(new ServerTracker(server));
    return this;
  }

  /**
   * Adds a shutdown handler. Handlers run after the servers are closed, one after another in reverse order of
   * registration (last registered, first closed), each with its own timeout.
   */
  onShutdown(fn: ShutdownHandler, options: ShutdownHandlerOptions = {}): this {
    checkFunction(fn, 'fn');
    checkObject(options, 'options');
    checkKnownKeys(options, ['name', 'timeoutMs'], 'options.');
    checkString(options.name, 'options.name');
    checkInteger(options.timeoutMs, 'options.timeoutMs', 1, MAX_MS);
    this.shutdownHandlers.push({
      fn,
      name: options.name ?? `handler-${this.shutdownHandlers.length + 1}`,
      timeoutMs: options.timeoutMs ?? this.shutdownHandlerTimeoutMs,
    });
    return this;
  }

  /**
   * Graceful shutdown: `draining` (readiness 503 at once, liveness still 200) for `shutdownDelayMs`, then `closing`
   * (attached servers stop accepting, in-flight requests finish, idle keep-alive sockets close, the rest is destroyed
   * after `shutdownTimeoutMs`), then `cleanup` (shutdown handlers), then `stopped` and {@link close}.
   * Idempotent: later calls return the same promise. Never rejects.
   */
  shutdown(reason = 'manual'): Promise<ShutdownReport> {
    this.shutdownPromise ??= this.runShutdown(reason);
    return this.shutdownPromise;
  }

  /**
   * Stops background refreshes and the event-loop monitor, aborts runs in flight and removes signal handlers.
   * Cached results stay readable. Does not close servers (that is {@link shutdown}). Idempotent. The work is
   * synchronous; the returned promise (already resolved) lets it be awaited like every other `close()` of the suite.
   */
  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.closed = true;
    for (const runner of this.byName.values()) runner.close();
    for (const indicator of this.ownedIndicators) indicator.close();
    if (this.signalListener !== undefined) for (const signal of SIGNALS) process.off(signal, this.signalListener);
    return Promise.resolve();
  }

  /** Readiness as a state index; never waits. Hot path of `/health/readiness`. */
  readinessState(): ReadinessStateValue {
    if (!this.backgroundRefresh && performance.now() >= this.readinessStaleAt) this.refreshStale(this.readinessRunners);
    return this.readiness;
  }

  /** Liveness as a state index (0 pass, 1 warn, 2 fail); never waits. Hot path of `/health/liveness`. */
  livenessState(): LivenessStateValue {
    if (!this.backgroundRefresh && performance.now() >= this.livenessStaleAt) this.refreshStale(this.livenessRunners);
    return this.liveness;
  }

  /** The aggregated readiness status of the checks alone (ignoring startup and shutdown). */
  get checksStatus(): HealthStatus {
    return this.aggregateReadiness;
  }

  /** The registered checks (readiness, then liveness). @internal for the handler */
  runners(): readonly CheckRunner[] {
    return [...this.readinessRunners, ...this.livenessRunners];
  }

  /** One registered check by name. @internal for the handler */
  runner(name: string): CheckRunner | undefined {
    return this.byName.get(name);
  }

  /**
   * Current results of all checks: cached ones at once (refreshing stale ones in the background), a first run
   * awaited (bounded by its timeout) where there is no result yet.
   */
  async results(): Promise<Array<{ runner: CheckRunner; record: CheckRecord }>> {
    const runners = this.runners();
    const records = await Promise.all(runners.map((r) => r.get()));
    return runners.map((runner, i) => ({ runner, record: records[i] as CheckRecord }));
  }

  /** A cheap synchronous snapshot (see README "Stats"). */
  stats(): HealthStats {
    const perCheck: Record<string, CheckStats> = {};
    let runs = 0;
    let cacheHits = 0;
    let sharedRuns = 0;
    let timeouts = 0;
    let failures = 0;
    const now = performance.now();
    for (const r of this.byName.values()) {
      runs += r.runs;
      cacheHits += r.cacheHits;
      sharedRuns += r.sharedRuns;
      timeouts += r.timeouts;
      failures += r.failures;
      perCheck[r.settings.name] = {
        kind: r.settings.kind,
        critical: r.settings.critical,
        status: r.last?.status ?? 'unknown',
        runs: r.runs,
        failures: r.failures,
        timeouts: r.timeouts,
        lastDurationMs: r.last === undefined ? 0 : Math.round(r.last.durationMs * 1000) / 1000,
        ageMs: r.last === undefined ? -1 : Math.round(now - r.last.at),
      };
    }
    return {
      phase: this.phaseValue,
      started: this.startupDone,
      readiness:
        this.readiness === ReadinessState.pass ? 'pass' : this.readiness === ReadinessState.warn ? 'warn' : 'fail',
      liveness: this.liveness === 0 ? 'pass' : this.liveness === 1 ? 'warn' : 'fail',
      checks: this.byName.size,
      runs,
      cacheHits,
      sharedRuns,
      timeouts,
      failures,
      hookListenerErrors: this.statusHook.listenerErrors + this.phaseHook.listenerErrors,
      perCheck,
    };
  }

  private add(indicator: HealthIndicator, options: RegisterOptions, kind: 'readiness' | 'liveness'): void {
    if (this.closed) throw new HealthError(HealthErrorCode.CLOSED, 'the health registry is closed');
    if (
      typeof indicator !== 'object' ||
      indicator === null ||
      typeof indicator.name !== 'string' ||
      typeof indicator.healthCheck !== 'function'
    ) {
      throw new HealthError(
        HealthErrorCode.INVALID_INDICATOR,
        'an indicator needs a string `name` and a `healthCheck(signal)` method',
      );
    }
    const name = indicator.name;
    if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/.test(name)) {
      throw new HealthError(
        HealthErrorCode.INVALID_INDICATOR,
        `invalid check name ${JSON.stringify(name.slice(0, 40))}: use letters, digits, '.', '_' and '-' (max 100)`,
        { check: name.slice(0, 100) },
      );
    }
    if (this.byName.has(name)) {
      throw new HealthError(HealthErrorCode.DUPLICATE_CHECK, `a check named ${name} is already registered`, {
        check: name,
      });
    }
    checkObject(options, 'options');
    checkKnownKeys(options, REGISTER_KEYS, 'options.');
    checkBoolean(options.critical, 'options.critical');
    checkInteger(options.timeoutMs, 'options.timeoutMs', 1, MAX_MS);
    checkInteger(options.cacheTtlMs, 'options.cacheTtlMs', 1, MAX_MS);
    checkString(options.measurement, 'options.measurement');
    checkString(options.componentType, 'options.componentType');
    checkString(options.componentId, 'options.componentId');
    if (options.measurement !== undefined && !/^[A-Za-z0-9._-]+$/.test(options.measurement)) {
      throw invalidOption('options.measurement', "use letters, digits, '.', '_' and '-'");
    }
    const settings: CheckSettings = {
      name,
      kind,
      critical: kind === 'liveness' ? true : (options.critical ?? false),
      timeoutMs: options.timeoutMs ?? this.timeoutMs,
      cacheTtlMs: options.cacheTtlMs ?? this.cacheTtlMs,
      measurement: options.measurement ?? 'responseTime',
      componentType: options.componentType,
      componentId: options.componentId,
      backgroundRefresh: this.backgroundRefresh,
    };
    const runner = new CheckRunner(indicator, settings, this.hooks);
    this.byName.set(name, runner);
    if (kind === 'readiness') {
      this.readinessRunners.push(runner);
      this.dependencies.add(indicator);
    } else {
      this.livenessRunners.push(runner);
    }
    this.recompute();
    // Warm up at once: startup ends as soon as the critical checks pass, not at the first probe.
    void runner.refresh();
  }

  private refreshStale(runners: CheckRunner[]): void {
    const now = performance.now();
    for (const runner of runners) runner.refreshIfStale(now);
  }

  private trace(runner: CheckRunner, run: () => Promise<CheckRecord>): Promise<CheckRecord> {
    if (!checkChannel.hasSubscribers) return run();
    const context: CheckTraceContext = {
      component: this.name,
      operation: 'check',
      check: runner.settings.name,
      kind: runner.settings.kind,
      critical: runner.settings.critical,
    };
    return checkChannel.tracePromise(async () => {
      const record = await run();
      context.status = record.status;
      context.timedOut = record.timedOut;
      return record;
    }, context);
  }

  private onResult(runner: CheckRunner, previous: CheckRecord | undefined, next: CheckRecord): void {
    const changed = previous === undefined || previous.status !== next.status;
    if (changed && (statusChannel.hasSubscribers || this.statusHook.hasListeners)) {
      const event: HealthStatusEvent = {
        component: this.name,
        check: runner.settings.name,
        kind: runner.settings.kind,
        from: previous?.status ?? 'unknown',
        to: next.status,
      };
      if (statusChannel.hasSubscribers) statusChannel.publish(event);
      this.statusHook.emit(event);
    }
    this.recompute();
  }

  private recompute(): void {
    // Readiness: a failing critical check fails, a failing non-critical one (or any warn) warns.
    let worst = 0;
    let startupPending = false;
    let staleAt = Number.POSITIVE_INFINITY;
    for (const r of this.readinessRunners) {
      const last = r.last;
      if (r.settings.critical && !r.passedOnce) startupPending = true;
      if (last === undefined) {
        staleAt = 0;
        continue;
      }
      staleAt = Math.min(staleAt, last.at + r.settings.cacheTtlMs);
      const rank = last.status === 'fail' && !r.settings.critical ? 1 : STATUS_RANK[last.status];
      if (rank > worst) worst = rank;
    }
    this.readinessStaleAt = staleAt;
    // A critical check registered later holds readiness until its first pass, like the ones at startup.
    this.startupDone = !startupPending;
    this.aggregateReadiness = worst === 0 ? 'pass' : worst === 1 ? 'warn' : 'fail';
    this.updateReadiness();

    let live = 0;
    let liveStaleAt = Number.POSITIVE_INFINITY;
    const inGrace = performance.now() < this.graceUntil;
    for (const r of this.livenessRunners) {
      const last = r.last;
      if (last === undefined) {
        liveStaleAt = 0;
        continue;
      }
      liveStaleAt = Math.min(liveStaleAt, last.at + r.settings.cacheTtlMs);
      let rank = STATUS_RANK[last.status];
      if (rank === 2 && inGrace) rank = 1;
      if (rank > live) live = rank;
    }
    this.livenessStaleAt = liveStaleAt;
    this.liveness = live as LivenessStateValue;
  }

  private updateReadiness(): void {
    if (this.phaseValue !== 'running') this.readiness = ReadinessState.draining;
    else if (!this.startupDone) this.readiness = ReadinessState.starting;
    else this.readiness = ReadinessState[this.aggregateReadiness];
  }

  private setPhase(phase: ShutdownPhase, reason: string): void {
    this.phaseValue = phase;
    this.updateReadiness();
    if (!shutdownChannel.hasSubscribers && !this.phaseHook.hasListeners) return;
    const event: HealthShutdownEvent = { component: this.name, phase, reason };
    if (shutdownChannel.hasSubscribers) shutdownChannel.publish(event);
    this.phaseHook.emit(event);
  }

  private async runShutdown(reason: string): Promise<ShutdownReport> {
    const started = performance.now();
    this.setPhase('draining', reason);
    if (this.shutdownDelayMs > 0) await new Promise((resolve) => setTimeout(resolve, this.shutdownDelayMs));
    this.setPhase('closing', reason);
    const closes = await Promise.all(this.trackers.map((t) => t.close(this.shutdownTimeoutMs)));
    let forcedConnections = 0;
    let inFlightAtClose = 0;
    for (const c of closes) {
      forcedConnections += c.forcedConnections;
      inFlightAtClose += c.inFlightAtClose;
    }
    this.setPhase('cleanup', reason);
    const handlers: ShutdownHandlerReport[] = [];
    for (let i = this.shutdownHandlers.length - 1; i >= 0; i--) {
      handlers.push(await runHandler(this.shutdownHandlers[i] as ShutdownEntry));
    }
    void this.close();
    this.setPhase('stopped', reason);
    return {
      reason,
      clean: forcedConnections === 0 && handlers.every((h) => h.outcome === 'ok'),
      durationMs: Math.round(performance.now() - started),
      forcedConnections,
      inFlightAtClose,
      handlers,
    };
  }

  private onSignal(signal: NodeJS.Signals): void {
    if (this.shutdownPromise !== undefined) {
      // A second signal while shutting down: the operator insists, exit now.
      this.exit(1);
      return;
    }
    void this.shutdown(signal).then((report) => this.exit(report.clean ? 0 : 1));
  }

  private exit(code: number): void {
    if (this.exitOption === false) return;
    if (this.exitOption === true) process.exit(code);
    else this.exitOption(code);
  }
}

async function runHandler(entry: ShutdownEntry): Promise<ShutdownHandlerReport> {
  const started = performance.now();
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), entry.timeoutMs);
  });
  let call: Promise<unknown>;
  try {
    call = Promise.resolve(entry.fn(controller.signal));
  } catch (error) {
    call = Promise.reject(error);
  }
  const outcome = await Promise.race([
    call.then(
      () => ({ outcome: 'ok' as const }),
      (error: unknown) => ({ outcome: 'error' as const, error: describeError(error) }),
    ),
    timeout,
  ]);
  clearTimeout(timer);
  const durationMs = Math.round(performance.now() - started);
  if (outcome === 'timeout') {
    controller.abort(
      new HealthError(HealthErrorCode.SHUTDOWN_TIMEOUT, `shutdown handler ${entry.name} timed out`, {
        check: entry.name,
        timeoutMs: entry.timeoutMs,
      }),
    );
    return { name: entry.name, outcome: 'timeout', durationMs };
  }
  return { name: entry.name, ...outcome, durationMs };
}
