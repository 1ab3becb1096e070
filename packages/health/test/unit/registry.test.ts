import diagnostics from 'node:diagnostics_channel';
import { waitFor } from '@cryptoscalp/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import {
  HEALTH_CHECK_CHANNEL,
  HEALTH_SHUTDOWN_CHANNEL,
  HEALTH_STATUS_CHANNEL,
  type HealthCheckResult,
  HealthRegistry,
  type HealthRegistryOptions,
  isHealthError,
  ReadinessState,
} from '../../src/index.js';

const registries: HealthRegistry[] = [];
function registry(options: HealthRegistryOptions = {}): HealthRegistry {
  const h = new HealthRegistry({ eventLoopDelay: false, heap: false, backgroundRefresh: false, ...options });
  registries.push(h);
  return h;
}
afterEach(() => {
  for (const h of registries.splice(0)) h.close();
});

/** An indicator whose answer the test controls, counting its calls. */
function controlled(name: string, initial: HealthCheckResult['status'] = 'pass') {
  let status = initial;
  let delayMs = 0;
  let hang = false;
  const signals: AbortSignal[] = [];
  const indicator = {
    name,
    calls: 0,
    set(next: HealthCheckResult['status']) {
      status = next;
    },
    delay(ms: number) {
      delayMs = ms;
    },
    hang(on: boolean) {
      hang = on;
    },
    signals,
    async healthCheck(signal?: AbortSignal): Promise<HealthCheckResult> {
      indicator.calls++;
      if (signal) signals.push(signal);
      if (hang) return await new Promise<never>(() => {});
      if (delayMs > 0) await new Promise((r) => setTimeout(r, delayMs));
      return { status, output: status === 'pass' ? undefined : `${name} is ${status}` };
    },
  };
  return indicator;
}

describe('check runner', () => {
  it('times out a hanging check as fail "timed out" and aborts its signal', async () => {
    const h = registry({ timeoutMs: 50 });
    const hanging = controlled('hanging');
    hanging.hang(true);
    h.register(hanging, { critical: true });
    const started = Date.now();
    const [result] = await h.results();
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(result?.record.status).toBe('fail');
    expect(result?.record.entry.output).toBe('timed out');
    expect(result?.record.timedOut).toBe(true);
    expect(hanging.signals[0]?.aborted).toBe(true);
    expect(isHealthError(hanging.signals[0]?.reason)).toBe(true);
    expect(h.stats().timeouts).toBe(1);
  });

  it('shares one run among concurrent callers and caches the result for the TTL', async () => {
    const h = registry({ cacheTtlMs: 60_000 });
    const dep = controlled('dep');
    dep.delay(30);
    h.register(dep);
    const all = await Promise.all(Array.from({ length: 200 }, () => h.results()));
    expect(all).toHaveLength(200);
    expect(dep.calls).toBe(1);
    await h.results();
    expect(dep.calls).toBe(1);
    expect(h.stats().sharedRuns).toBeGreaterThanOrEqual(199);
    expect(h.stats().cacheHits).toBeGreaterThanOrEqual(1);
  });

  it('serves a stale result at once and refreshes it once in the background (stale-while-revalidate)', async () => {
    const h = registry({ cacheTtlMs: 30, timeoutMs: 5_000 });
    const dep = controlled('dep');
    h.register(dep, { critical: true });
    await waitFor(() => h.readinessState() === ReadinessState.pass);
    dep.delay(300);
    dep.set('fail');
    await new Promise((r) => setTimeout(r, 40));
    const before = dep.calls;
    const started = Date.now();
    for (let i = 0; i < 100; i++) expect(h.readinessState()).toBe(ReadinessState.pass);
    const [first] = await h.results();
    expect(Date.now() - started).toBeLessThan(250);
    expect(first?.record.status).toBe('pass');
    expect(dep.calls).toBe(before + 1);
    await waitFor(() => h.readinessState() === ReadinessState.fail, { timeoutMs: 5_000 });
  });

  it('refreshes in the background on a timer when backgroundRefresh is on', async () => {
    const h = registry({ backgroundRefresh: true, cacheTtlMs: 20 });
    const dep = controlled('dep');
    h.register(dep, { critical: true });
    await waitFor(() => dep.calls >= 4, { timeoutMs: 5_000 });
    h.close();
    const after = dep.calls;
    await new Promise((r) => setTimeout(r, 80));
    expect(dep.calls).toBeLessThanOrEqual(after + 1);
  });

  it('turns thrown errors and invalid results into sanitized fails', async () => {
    const h = registry();
    h.register({
      name: 'thrower',
      healthCheck: async () => {
        throw new Error('cannot reach postgres://app:secret@db:5432/prod\n    at x (y.js:1:1)');
      },
    });
    h.register({
      name: 'sync-thrower',
      healthCheck: () => {
        throw new Error('sync');
      },
    });
    h.register({ name: 'bogus', healthCheck: async () => ({ status: 'ok' }) as never });
    h.register({
      name: 'custom',
      healthCheck: async () => ({
        status: 'warn',
        observedValue: 42,
        observedUnit: 'connections',
        time: '2020-01-01T00:00:00.000Z',
        details: { idle: 3 },
        output: 'password=abc high',
      }),
    });
    const results = Object.fromEntries((await h.results()).map((r) => [r.runner.settings.name, r.record]));
    expect(results.thrower?.entry.output).toBe('cannot reach [redacted-url]');
    expect(results['sync-thrower']?.entry.output).toBe('sync');
    expect(results.bogus?.entry.output).toBe('invalid health check result');
    expect(results.custom?.entry).toMatchObject({
      status: 'warn',
      observedValue: 42,
      observedUnit: 'connections',
      time: '2020-01-01T00:00:00.000Z',
      output: 'password=[redacted] high',
    });
    expect(results.custom?.details).toEqual({ idle: 3 });
    expect(results.thrower?.entry.observedUnit).toBe('ms');
  });
});

describe('readiness, startup and liveness', () => {
  it('holds readiness in "starting" until the critical checks pass, then never again for a failure', async () => {
    const h = registry({ cacheTtlMs: 10 });
    const db = controlled('db', 'fail');
    h.register(db, { critical: true });
    expect(h.readinessState()).toBe(ReadinessState.starting);
    await waitFor(() => db.calls >= 1);
    await h.results();
    expect(h.started).toBe(false);
    expect(h.readinessState()).toBe(ReadinessState.starting);
    db.set('pass');
    await waitFor(() => h.readinessState() === ReadinessState.pass, { timeoutMs: 5_000 });
    expect(h.started).toBe(true);
    db.set('fail');
    await waitFor(() => h.readinessState() === ReadinessState.fail, { timeoutMs: 5_000 });
    expect(h.started).toBe(true);
  });

  it('gives warn for failing non-critical checks and fail for failing critical ones', async () => {
    const h = registry({ cacheTtlMs: 10 });
    const critical = controlled('critical');
    const optional = controlled('optional', 'fail');
    h.register(critical, { critical: true }).register(optional);
    await waitFor(() => h.readinessState() === ReadinessState.warn, { timeoutMs: 5_000 });
    expect(h.checksStatus).toBe('warn');
    optional.set('pass');
    await waitFor(() => h.readinessState() === ReadinessState.pass, { timeoutMs: 5_000 });
    critical.set('warn');
    await waitFor(() => h.readinessState() === ReadinessState.warn, { timeoutMs: 5_000 });
    critical.set('fail');
    await waitFor(() => h.readinessState() === ReadinessState.fail, { timeoutMs: 5_000 });
  });

  it('computes liveness from liveness checks only, warn instead of fail during the startup grace period', async () => {
    const h = registry({ cacheTtlMs: 10, startupGracePeriodMs: 60_000 });
    const loop = controlled('loop', 'fail');
    const dep = controlled('dep', 'fail');
    h.registerLiveness(loop);
    h.register(dep, { critical: true });
    await waitFor(() => loop.calls >= 1 && h.livenessState() === 1);
    const strict = registry({ cacheTtlMs: 10 });
    const loop2 = controlled('loop2', 'fail');
    strict.registerLiveness(loop2);
    await waitFor(() => strict.livenessState() === 2);
    loop2.set('pass');
    await waitFor(() => strict.livenessState() === 0, { timeoutMs: 5_000 });
    expect(strict.readinessState()).toBe(ReadinessState.pass);
  });

  it('includes the built-in event-loop and heap checks by default', async () => {
    const h = new HealthRegistry({ backgroundRefresh: false });
    registries.push(h);
    expect(h.checkNames()).toEqual(['event-loop', 'heap']);
    const results = await h.results();
    expect(results.map((r) => `${r.runner.settings.name}:${r.runner.settings.measurement}`)).toEqual([
      'event-loop:delay',
      'heap:utilization',
    ]);
    expect(h.livenessState()).toBe(0);
    const stats = h.stats();
    expect(stats.perCheck['event-loop']?.kind).toBe('liveness');
    expect(stats.checks).toBe(2);
  });
});

describe('events', () => {
  it('publishes check traces, status changes and shutdown phases', async () => {
    const statuses: unknown[] = [];
    const phases: unknown[] = [];
    const traces: unknown[] = [];
    const onStatus = (m: unknown) => statuses.push(m);
    const onPhase = (m: unknown) => phases.push((m as { phase: string }).phase);
    const tracing = diagnostics.tracingChannel(HEALTH_CHECK_CHANNEL);
    const handlers = {
      start: () => {},
      end: () => {},
      asyncStart: () => {},
      asyncEnd: (ctx: unknown) => traces.push({ ...(ctx as object) }),
      error: () => {},
    };
    diagnostics.subscribe(HEALTH_STATUS_CHANNEL, onStatus);
    diagnostics.subscribe(HEALTH_SHUTDOWN_CHANNEL, onPhase);
    tracing.subscribe(handlers);
    try {
      const h = registry({ name: 'svc', shutdownDelayMs: 0 });
      h.register(controlled('db'), { critical: true });
      await h.results();
      await waitFor(() => traces.length >= 1);
      expect(statuses).toContainEqual({
        component: 'svc',
        check: 'db',
        kind: 'readiness',
        from: 'unknown',
        to: 'pass',
      });
      expect(traces[0]).toMatchObject({
        component: 'svc',
        operation: 'check',
        check: 'db',
        status: 'pass',
        timedOut: false,
      });
      await h.shutdown();
      expect(phases).toEqual(['draining', 'closing', 'cleanup', 'stopped']);
    } finally {
      diagnostics.unsubscribe(HEALTH_STATUS_CHANNEL, onStatus);
      diagnostics.unsubscribe(HEALTH_SHUTDOWN_CHANNEL, onPhase);
      tracing.unsubscribe(handlers);
    }
  });
});

describe('shutdown handlers', () => {
  it('flips readiness at once, runs handlers in reverse order with their own timeouts, and reports', async () => {
    const h = registry({ shutdownDelayMs: 50, shutdownHandlerTimeoutMs: 1_000 });
    h.register(controlled('db'), { critical: true });
    await waitFor(() => h.readinessState() === ReadinessState.pass);
    const order: string[] = [];
    let abortedSignal: AbortSignal | undefined;
    h.onShutdown(() => void order.push('first'), { name: 'first' });
    h.onShutdown(
      async (signal) => {
        abortedSignal = signal;
        order.push('hangs');
        await new Promise(() => {});
      },
      { name: 'hangs', timeoutMs: 30 },
    );
    h.onShutdown(() => {
      order.push('throws');
      throw new Error('redis://u:p@h:1 close failed');
    });
    const pending = h.shutdown('test');
    expect(h.shutdown()).toBe(pending);
    expect(h.phase).toBe('draining');
    expect(h.readinessState()).toBe(ReadinessState.draining);
    expect(h.livenessState()).toBe(0);
    const report = await pending;
    expect(order).toEqual(['throws', 'hangs', 'first']);
    expect(report.reason).toBe('test');
    expect(report.clean).toBe(false);
    expect(report.handlers.map((x) => [x.name, x.outcome])).toEqual([
      ['handler-3', 'error'],
      ['hangs', 'timeout'],
      ['first', 'ok'],
    ]);
    expect(report.handlers[0]?.error).toBe('[redacted-url] close failed');
    expect(abortedSignal?.aborted).toBe(true);
    expect(report.durationMs).toBeGreaterThanOrEqual(45);
    expect(h.phase).toBe('stopped');
    expect(() => h.register(controlled('late'))).toThrow(expect.objectContaining({ code: 'E_HEALTH_CLOSED' }));
  });

  it('exits after a signal with code 0 when clean, and at once on a second signal', async () => {
    const codes: number[] = [];
    const h = registry({ handleSignals: true, shutdownDelayMs: 20, exit: (code) => codes.push(code) });
    expect(h.phase).toBe('running');
    const listener = process.listeners('SIGTERM').at(-1) as (s: NodeJS.Signals) => void;
    listener('SIGTERM');
    listener('SIGTERM');
    expect(codes).toEqual([1]);
    await waitFor(() => codes.length === 2);
    expect(codes).toEqual([1, 0]);
    expect(process.listeners('SIGTERM')).not.toContain(listener);
    const quiet = registry({ handleSignals: true, shutdownDelayMs: 0, exit: false });
    const l2 = process.listeners('SIGINT').at(-1) as (s: NodeJS.Signals) => void;
    l2('SIGINT');
    await waitFor(() => quiet.phase === 'stopped');
  });
});
