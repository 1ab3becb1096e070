import { describe, expect, it } from 'vitest';
import {
  bearerAuthorize,
  createEventLoopDelayIndicator,
  createHealthHandler,
  createHeapIndicator,
  HealthError,
  HealthErrorCode,
  HealthRegistry,
  isHealthError,
  isHealthOptionError,
} from '../../src/index.js';

const ok = { name: 'ok', healthCheck: async () => ({ status: 'pass' as const }) };

function fieldOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (error) {
    expect(isHealthOptionError(error)).toBe(true);
    return (error as HealthError).field;
  }
  throw new Error('did not throw');
}

describe('HealthRegistry options', () => {
  it.each([
    [{ cacheTtlMs: 0 }, 'cacheTtlMs'],
    [{ cacheTtlMs: 1.5 }, 'cacheTtlMs'],
    [{ timeoutMs: -1 }, 'timeoutMs'],
    [{ timeoutMs: '100' }, 'timeoutMs'],
    [{ version: '' }, 'version'],
    [{ name: 42 }, 'name'],
    [{ backgroundRefresh: 'yes' }, 'backgroundRefresh'],
    [{ shutdownDelayMs: Number.NaN }, 'shutdownDelayMs'],
    [{ shutdownTimeoutMs: -5 }, 'shutdownTimeoutMs'],
    [{ shutdownHandlerTimeoutMs: 0 }, 'shutdownHandlerTimeoutMs'],
    [{ startupGracePeriodMs: -1 }, 'startupGracePeriodMs'],
    [{ handleSignals: 1 }, 'handleSignals'],
    [{ exit: 'now' }, 'exit'],
    [{ eventLoopDelay: { warnMs: 0 } }, 'eventLoopDelay.warnMs'],
    [{ eventLoopDelay: { warnMs: 500, failMs: 100 } }, 'eventLoopDelay.warnMs'],
    [{ eventLoopDelay: { bogus: 1 } }, 'eventLoopDelay.bogus'],
    [{ eventLoopDelay: 5 }, 'eventLoopDelay'],
    [{ heap: { failRatio: 2 } }, 'heap.failRatio'],
    [{ heap: { warnRatio: 0.9, failRatio: 0.5 } }, 'heap.warnRatio'],
    [{ cachTtlMs: 10 }, 'cachTtlMs'],
  ])('rejects %j naming %s', (options, field) => {
    expect(fieldOf(() => new HealthRegistry(options as never))).toBe(field);
  });

  it('rejects a non-object options argument', () => {
    expect(fieldOf(() => new HealthRegistry('x' as never))).toBe('options');
  });

  it('accepts valid options and exposes the IETF service fields', () => {
    const h = new HealthRegistry({
      version: '1.2.3',
      releaseId: 'r1',
      serviceId: 'svc',
      description: 'd',
      eventLoopDelay: false,
      heap: false,
    });
    expect([h.version, h.releaseId, h.serviceId, h.description]).toEqual(['1.2.3', 'r1', 'svc', 'd']);
    expect(h.checkNames()).toEqual([]);
    h.close();
  });
});

describe('register', () => {
  it('rejects duplicate names, bad indicators, bad names and bad options', () => {
    const h = new HealthRegistry({ eventLoopDelay: false, heap: false, backgroundRefresh: false });
    h.register(ok);
    let dup: unknown;
    try {
      h.register({ ...ok });
    } catch (e) {
      dup = e;
    }
    expect(isHealthError(dup)).toBe(true);
    expect((dup as HealthError).code).toBe(HealthErrorCode.DUPLICATE_CHECK);
    expect((dup as HealthError).check).toBe('ok');
    expect(() => h.register({ name: 'x' } as never)).toThrow(
      expect.objectContaining({ code: 'E_HEALTH_INVALID_INDICATOR' }),
    );
    expect(() => h.register(null as never)).toThrow(expect.objectContaining({ code: 'E_HEALTH_INVALID_INDICATOR' }));
    expect(() => h.register({ ...ok, name: 'has space' })).toThrow(
      expect.objectContaining({ code: 'E_HEALTH_INVALID_INDICATOR' }),
    );
    expect(fieldOf(() => h.register({ ...ok, name: 'a' }, { critical: 'yes' } as never))).toBe('options.critical');
    expect(fieldOf(() => h.register({ ...ok, name: 'b' }, { timeoutMs: 0 }))).toBe('options.timeoutMs');
    expect(fieldOf(() => h.register({ ...ok, name: 'c' }, { cacheTtlMs: -1 }))).toBe('options.cacheTtlMs');
    expect(fieldOf(() => h.register({ ...ok, name: 'd' }, { measurement: 'a b' }))).toBe('options.measurement');
    expect(fieldOf(() => h.register({ ...ok, name: 'e' }, { foo: 1 } as never))).toBe('options.foo');
    h.close();
    expect(() => h.register({ ...ok, name: 'late' })).toThrow(expect.objectContaining({ code: 'E_HEALTH_CLOSED' }));
  });

  it('makes registering a dependency on liveness explicit: a readiness dependency is rejected there', () => {
    const h = new HealthRegistry({ eventLoopDelay: false, heap: false, backgroundRefresh: false });
    const redis = { name: 'redis', healthCheck: async () => ({ status: 'pass' as const }) };
    h.register(redis, { critical: true });
    expect(() => h.registerLiveness(redis)).toThrow(expect.objectContaining({ code: 'E_HEALTH_LIVENESS_DEPENDENCY' }));
    h.registerLiveness({ name: 'deadlock', healthCheck: async () => ({ status: 'pass' as const }) });
    expect(h.checkNames()).toEqual(['redis', 'deadlock']);
    h.close();
  });

  it('validates shutdown handler options', () => {
    const h = new HealthRegistry({ eventLoopDelay: false, heap: false });
    expect(fieldOf(() => h.onShutdown('x' as never))).toBe('fn');
    expect(fieldOf(() => h.onShutdown(() => {}, { timeoutMs: 0 }))).toBe('options.timeoutMs');
    expect(fieldOf(() => h.onShutdown(() => {}, { name: '' }))).toBe('options.name');
    expect(fieldOf(() => h.onShutdown(() => {}, { when: 1 } as never))).toBe('options.when');
    h.close();
  });
});

describe('createHealthHandler options', () => {
  const h = new HealthRegistry({ eventLoopDelay: false, heap: false });
  it.each([
    [{ basePath: 'health' }, 'basePath'],
    [{ basePath: '/he alth' }, 'basePath'],
    [{ metrics: 'text' }, 'metrics'],
    [{ alerts: [] }, 'alerts'],
    [{ authorize: true }, 'authorize'],
    [{ protectMetrics: 1 }, 'protectMetrics'],
    [{ benchmark: { rounds: 0 } }, 'benchmark.rounds'],
    [{ benchmark: { budgetMs: 120_000 } }, 'benchmark.budgetMs'],
    [{ benchmark: { minIntervalMs: -1 } }, 'benchmark.minIntervalMs'],
    [{ benchmark: { foo: 1 } }, 'benchmark.foo'],
    [{ basepath: '/x' }, 'basepath'],
  ])('rejects %j naming %s', (options, field) => {
    expect(fieldOf(() => createHealthHandler(h, options as never))).toBe(field);
  });
});

describe('errors', () => {
  it('brands errors so the guard works across copies of the package', () => {
    const e = new HealthError(HealthErrorCode.CHECK_TIMEOUT, 'x', { check: 'db', timeoutMs: 5, cause: new Error('c') });
    expect(e).toBeInstanceOf(Error);
    expect(e.name).toBe('HealthError');
    expect(e.cause).toBeInstanceOf(Error);
    expect(e.timeoutMs).toBe(5);
    const foreign = { [Symbol.for('cryptoscalp.health.error')]: true, code: 'E_HEALTH_CLOSED' };
    expect(isHealthError(foreign)).toBe(true);
    expect(isHealthError(new Error('x'))).toBe(false);
    expect(isHealthError(null)).toBe(false);
    expect(isHealthOptionError(e)).toBe(false);
  });
});

describe('built-in liveness indicators', () => {
  it('reports event-loop delay p99 in ms and heap utilization in percent', async () => {
    const loop = createEventLoopDelayIndicator({ warnMs: 1, failMs: 100_000, resolutionMs: 1 });
    const end = Date.now() + 30;
    while (Date.now() < end) {
      // block the loop so a delay is recorded
    }
    await new Promise((r) => setTimeout(r, 20));
    const result = await loop.healthCheck();
    expect(result.observedUnit).toBe('ms');
    expect(result.observedValue).toBeGreaterThan(1);
    expect(result.status).toBe('warn');
    expect(result.output).toMatch(/event loop delay p99/);
    loop.close();
    loop.close();
    expect((await loop.healthCheck()).status).toBe('fail');

    const heapFail = await createHeapIndicator({ warnRatio: 0.0001, failRatio: 0.0001 }).healthCheck();
    const heapPass = await createHeapIndicator({}).healthCheck();
    expect(heapFail.status).toBe('fail');
    expect(heapFail.observedUnit).toBe('percent');
    expect(heapPass.status).toBe('pass');
  });
});

describe('bearerAuthorize', () => {
  it('401 without a token, 403 with a wrong one, allows a right one', () => {
    const auth = bearerAuthorize(['0123456789abcdef-token', 'second-token-0123456789']);
    const req = (authorization?: string) =>
      ({ headers: authorization === undefined ? {} : { authorization } }) as never;
    expect(auth(req())).toBe(false);
    expect(auth(req('Basic abc'))).toBe(false);
    expect(auth(req('Bearer nope'))).toEqual({ status: 403 });
    expect(auth(req('Bearer 0123456789abcdef-token'))).toBe(true);
    expect(auth(req('bearer second-token-0123456789'))).toBe(true);
    expect(fieldOf(() => bearerAuthorize('short'))).toBe('tokens');
    expect(fieldOf(() => bearerAuthorize([]))).toBe('tokens');
  });
});
