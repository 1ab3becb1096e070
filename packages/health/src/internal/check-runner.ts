import { performance } from 'node:perf_hooks';
import { HealthError, HealthErrorCode } from '../errors.js';
import type { HealthCheckEntry, HealthCheckResult, HealthIndicator, HealthStatus } from '../types.js';
import { describeError, sanitizeOutput } from './sanitize.js';

/** Resolved settings of one registered check. */
export interface CheckSettings {
  readonly name: string;
  readonly kind: 'readiness' | 'liveness';
  readonly critical: boolean;
  readonly timeoutMs: number;
  readonly cacheTtlMs: number;
  readonly measurement: string;
  readonly componentType: string | undefined;
  readonly componentId: string | undefined;
  readonly backgroundRefresh: boolean;
}

/** One completed run of a check, immutable, with its IETF entry built once. */
export interface CheckRecord {
  readonly status: HealthStatus;
  /** The IETF `checks` entry (no details). */
  readonly entry: HealthCheckEntry;
  readonly details: Record<string, unknown> | undefined;
  /** `performance.now()` when the run finished. */
  readonly at: number;
  readonly durationMs: number;
  readonly timedOut: boolean;
}

/** Callbacks from a runner to its registry. */
export interface RunnerHooks {
  onResult(runner: CheckRunner, previous: CheckRecord | undefined, next: CheckRecord): void;
  /** Wraps a run for the tracing channel; identity when nobody listens. */
  trace(runner: CheckRunner, run: () => Promise<CheckRecord>): Promise<CheckRecord>;
}

const TIMED_OUT = 'timed out';
const STATUSES: ReadonlySet<string> = new Set(['pass', 'warn', 'fail']);

/**
 * Runs one indicator: per-run timeout with an AbortSignal, single flight (concurrent callers share one run),
 * results cached for a TTL and refreshed in the background (stale-while-revalidate, plus an optional timer).
 */
export class CheckRunner {
  readonly settings: CheckSettings;
  readonly indicator: HealthIndicator;
  last: CheckRecord | undefined;
  /** True once a run returned pass or warn. */
  passedOnce = false;
  runs = 0;
  failures = 0;
  timeouts = 0;
  cacheHits = 0;
  sharedRuns = 0;
  private inflight: Promise<CheckRecord> | undefined;
  private controller: AbortController | undefined;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  private readonly hooks: RunnerHooks;

  constructor(indicator: HealthIndicator, settings: CheckSettings, hooks: RunnerHooks) {
    this.indicator = indicator;
    this.settings = settings;
    this.hooks = hooks;
  }

  /** The cached result if any (triggering a background refresh when stale), else the result of a shared run. */
  get(): Promise<CheckRecord> | CheckRecord {
    const last = this.last;
    if (last !== undefined) {
      this.cacheHits++;
      if (this.inflight === undefined && !this.closed && performance.now() - last.at >= this.settings.cacheTtlMs) {
        void this.refresh();
      }
      return last;
    }
    return this.refresh();
  }

  /** Refreshes in the background when the cached result is stale (or missing) and no run is in flight. */
  refreshIfStale(now: number): void {
    if (this.inflight !== undefined || this.closed) return;
    const last = this.last;
    if (last === undefined || now - last.at >= this.settings.cacheTtlMs) void this.refresh();
  }

  /** Starts a run, or joins the one in flight. Never rejects. */
  refresh(): Promise<CheckRecord> {
    if (this.inflight !== undefined) {
      this.sharedRuns++;
      return this.inflight;
    }
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    const run = this.hooks.trace(this, () => this.run());
    this.inflight = run;
    // run() settles every indicator outcome itself; this only keeps a throwing event subscriber from leaving an
    // unhandled rejection or a stuck single flight.
    run.catch(() => {
      if (this.inflight === run) this.inflight = undefined;
    });
    return run;
  }

  /** One direct call of the indicator with a timeout, bypassing cache and stats (self-benchmark). */
  async probe(timeoutMs: number): Promise<{ ok: boolean; durationMs: number }> {
    const started = performance.now();
    const result = await this.call(timeoutMs, new AbortController());
    return { ok: !result.timedOut && result.result.status !== 'fail', durationMs: performance.now() - started };
  }

  /** Stops the refresh timer and aborts a run in flight. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.controller?.abort(
      new HealthError(HealthErrorCode.CLOSED, 'health registry closed', { check: this.settings.name }),
    );
  }

  private async run(): Promise<CheckRecord> {
    this.runs++;
    const started = performance.now();
    const controller = new AbortController();
    this.controller = controller;
    const { result, timedOut } = await this.call(this.settings.timeoutMs, controller);
    const finished = performance.now();
    if (this.controller === controller) this.controller = undefined;
    if (timedOut) this.timeouts++;
    if (result.status === 'fail') this.failures++;
    else this.passedOnce = true;
    const record = this.toRecord(result, finished, finished - started, timedOut);
    const previous = this.last;
    this.last = record;
    this.inflight = undefined;
    if (this.settings.backgroundRefresh && !this.closed) {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        void this.refresh();
      }, this.settings.cacheTtlMs);
      this.timer.unref();
    }
    this.hooks.onResult(this, previous, record);
    return record;
  }

  private async call(
    timeoutMs: number,
    controller: AbortController,
  ): Promise<{ result: HealthCheckResult; timedOut: boolean }> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), timeoutMs);
    });
    let call: Promise<HealthCheckResult>;
    try {
      call = Promise.resolve(this.indicator.healthCheck(controller.signal));
    } catch (error) {
      call = Promise.reject(error);
    }
    // The indicator's promise may settle after the timeout: these handlers keep it from becoming unhandled.
    const guarded = call.then(
      normalize,
      (error: unknown) => ({ status: 'fail', output: describeError(error) }) as const,
    );
    const winner = await Promise.race([guarded, timeout]);
    clearTimeout(timer);
    if (winner === 'timeout') {
      controller.abort(
        new HealthError(HealthErrorCode.CHECK_TIMEOUT, `check ${this.settings.name} timed out after ${timeoutMs} ms`, {
          check: this.settings.name,
          timeoutMs,
        }),
      );
      return { result: { status: 'fail', output: TIMED_OUT }, timedOut: true };
    }
    return { result: winner, timedOut: false };
  }

  private toRecord(result: HealthCheckResult, at: number, durationMs: number, timedOut: boolean): CheckRecord {
    const s = this.settings;
    const entry = {} as HealthCheckEntry;
    if (s.componentId !== undefined) entry.componentId = s.componentId;
    if (s.componentType !== undefined) entry.componentType = s.componentType;
    if (typeof result.observedValue === 'number' && Number.isFinite(result.observedValue)) {
      entry.observedValue = result.observedValue;
      if (typeof result.observedUnit === 'string') entry.observedUnit = sanitizeOutput(result.observedUnit);
    } else {
      entry.observedValue = Math.round(durationMs * 1000) / 1000;
      entry.observedUnit = 'ms';
    }
    entry.status = result.status;
    entry.time = typeof result.time === 'string' ? result.time : new Date().toISOString();
    if (typeof result.output === 'string' && result.output.length > 0) entry.output = sanitizeOutput(result.output);
    entry.critical = s.critical;
    const details =
      typeof result.details === 'object' && result.details !== null && !Array.isArray(result.details)
        ? result.details
        : undefined;
    return { status: result.status, entry, details, at, durationMs, timedOut };
  }
}

function normalize(value: unknown): HealthCheckResult {
  if (typeof value !== 'object' || value === null || !STATUSES.has((value as { status?: unknown }).status as string)) {
    return { status: 'fail', output: 'invalid health check result' };
  }
  return value as HealthCheckResult;
}
