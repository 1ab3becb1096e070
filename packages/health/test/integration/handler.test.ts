import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  bearerAuthorize,
  createHealthHandler,
  type HealthCheckResult,
  HealthRegistry,
  type HealthResponse,
} from '../../src/index.js';
import { get, type Served, serve } from './helpers.js';

const TOKEN = 'test-token-0123456789abcdef';
const auth = { authorization: `Bearer ${TOKEN}` };

describe('createHealthHandler on a real node:http server', () => {
  let health: HealthRegistry;
  let served: Served;
  let base: string;
  let alertsCalls = 0;

  beforeAll(async () => {
    health = new HealthRegistry({ version: '1.4.2', serviceId: 'trader', cacheTtlMs: 60_000, timeoutMs: 300 });
    health.register(
      {
        name: 'postgres',
        healthCheck: async (): Promise<HealthCheckResult> => ({ status: 'pass', details: { total: 10, idle: 8 } }),
      },
      { critical: true, componentType: 'datastore', componentId: 'primary' },
    );
    health.register({
      name: 'broken',
      healthCheck: async () => {
        throw new Error('connect ECONNREFUSED via redis://default:hunter2@10.0.0.5:6379\n    at Socket.<anonymous>');
      },
    });
    served = await serve(
      createHealthHandler(health, {
        authorize: bearerAuthorize(TOKEN),
        metrics: async () => '# HELP up 1\nup 1\n',
        alerts: () => {
          alertsCalls++;
          return [{ name: 'HighLatency', severity: 'warning' }];
        },
        benchmark: { rounds: 5, budgetMs: 1_000, minIntervalMs: 60_000 },
      }),
    );
    base = `${served.url}/health`;
    await health.results();
  });
  afterAll(async () => {
    await served.close();
    health.close();
  });

  it('liveness and readiness answer application/health+json, no-store, with no internals', async () => {
    for (const path of ['liveness', 'readiness']) {
      const res = await get(`${base}/${path}`);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe('application/health+json');
      expect(res.headers.get('cache-control')).toBe('no-store');
      // A non-critical failure makes readiness warn, still 200; the body says nothing else.
      expect(res.json()).toEqual({ status: path === 'readiness' ? 'warn' : 'pass' });
      expect(res.text).not.toContain('broken');
    }
    const withQuery = await get(`${base}/readiness?probe=k8s`);
    expect(withQuery.json()).toEqual({ status: 'warn' });
    expect((await get(`${base}/startup`)).status).toBe(200);
    expect((await get(`${served.url}/health`)).json()).toEqual({ status: 'warn' });
  });

  it('status reports version, uptime, phase and every component, IETF style, sanitized', async () => {
    const res = await get(`${base}/status`, { headers: auth });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/health+json');
    const body = res.json() as unknown as HealthResponse;
    expect(body).toMatchObject({
      status: 'warn',
      version: '1.4.2',
      serviceId: 'trader',
      phase: 'running',
      started: true,
    });
    expect(body.uptimeSeconds).toBeGreaterThan(0);
    expect(Object.keys(body.checks ?? {})).toEqual([
      'uptime',
      'postgres:responseTime',
      'broken:responseTime',
      'event-loop:delay',
      'heap:utilization',
    ]);
    expect(body.checks?.['postgres:responseTime']?.[0]).toMatchObject({
      componentType: 'datastore',
      componentId: 'primary',
      status: 'pass',
      observedUnit: 'ms',
    });
    const broken = body.checks?.['broken:responseTime']?.[0];
    expect(broken?.status).toBe('fail');
    expect(broken?.output).toBe('connect ECONNREFUSED via [redacted-url]');
    expect(res.text).not.toContain('hunter2');
    expect(res.text).not.toContain('at Socket');
    expect(typeof broken?.time).toBe('string');
  });

  it('components and components/:name, details only on the single component', async () => {
    const all = await get(`${base}/components`, { headers: auth });
    expect(all.status).toBe(200);
    expect(all.json().status).toBe('warn');
    expect(all.text).not.toContain('idle');
    const one = await get(`${base}/components/postgres`, { headers: auth });
    expect(one.status).toBe(200);
    expect(one.json()).toMatchObject({
      status: 'pass',
      checks: { 'postgres:responseTime': [{ status: 'pass', details: { total: 10, idle: 8 } }] },
    });
    const failing = await get(`${base}/components/broken`, { headers: auth });
    expect(failing.status).toBe(503);
    expect(failing.json().status).toBe('fail');
    const missing = await get(`${base}/components/nope`, { headers: auth });
    expect(missing.status).toBe(404);
    expect(missing.headers.get('content-type')).toBe('application/health+json');
    expect((await get(`${base}/components/%E0%A4%A`, { headers: auth })).status).toBe(404);
  });

  it('metrics in the Prometheus text format, alerts as JSON', async () => {
    const metrics = await get(`${base}/metrics`, { headers: auth });
    expect(metrics.status).toBe(200);
    expect(metrics.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
    expect(metrics.text).toBe('# HELP up 1\nup 1\n');
    const alerts = await get(`${base}/alerts`, { headers: auth });
    expect(alerts.status).toBe(200);
    expect(alerts.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(alerts.json()).toEqual({ alerts: [{ name: 'HighLatency', severity: 'warning' }] });
  });

  it('guards detail endpoints: 401 without credentials, 403 with wrong ones', async () => {
    for (const path of ['status', 'components', 'components/postgres', 'metrics', 'alerts', 'benchmark']) {
      const anonymous = await get(`${base}/${path}`);
      expect(anonymous.status, path).toBe(401);
      expect(anonymous.headers.get('www-authenticate')).toBe('Bearer');
      expect(anonymous.json()).toEqual({ status: 'fail', output: 'unauthorized' });
      const wrong = await get(`${base}/${path}`, { headers: { authorization: 'Bearer wrong' } });
      expect(wrong.status, path).toBe(403);
    }
    const before = alertsCalls;
    await get(`${base}/alerts`);
    expect(alertsCalls).toBe(before);
  });

  it('404 in the same format for unknown paths, 405 with Allow for other methods, HEAD without a body', async () => {
    const unknown = await get(`${base}/nope`);
    expect(unknown.status).toBe(404);
    expect(unknown.headers.get('content-type')).toBe('application/health+json');
    expect(unknown.json()).toEqual({ status: 'fail', output: 'not found' });
    expect((await get(`${served.url}/elsewhere`)).status).toBe(404);
    for (const method of ['POST', 'PUT', 'DELETE', 'PATCH']) {
      const res = await get(`${base}/readiness`, { method });
      expect(res.status).toBe(405);
      expect(res.headers.get('allow')).toBe('GET, HEAD');
    }
    expect((await get(`${base}/status`, { method: 'POST', headers: auth })).status).toBe(405);
    const head = await get(`${base}/readiness`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.text).toBe('');
    expect(head.headers.get('content-length')).toBe(String(Buffer.byteLength('{"status":"warn"}')));
    const headStatus = await get(`${base}/status`, { method: 'HEAD', headers: auth });
    expect(headStatus.status).toBe(200);
    expect(headStatus.text).toBe('');
  });

  it('runs a bounded self-benchmark, then rate-limits with 429 and Retry-After', async () => {
    const res = await get(`${base}/benchmark`, { headers: auth });
    expect(res.status).toBe(200);
    const body = res.json() as { components: Record<string, { rounds: number; errors: number; p99Ms: number }> };
    expect(body.components.postgres).toMatchObject({ rounds: 5, errors: 0 });
    expect(body.components.broken).toMatchObject({ rounds: 5, errors: 5 });
    expect(body.components['event-loop']).toBeUndefined();
    const again = await get(`${base}/benchmark`, { headers: auth });
    expect(again.status).toBe(429);
    expect(Number(again.headers.get('retry-after'))).toBeGreaterThan(0);
  });
});

describe('handler behaviour', () => {
  it('a hanging check does not hang readiness; status answers within the check timeout', async () => {
    const health = new HealthRegistry({ timeoutMs: 200, cacheTtlMs: 60_000, eventLoopDelay: false, heap: false });
    let calls = 0;
    health.register(
      {
        name: 'stuck',
        healthCheck: (signal) => {
          calls++;
          return new Promise((_, reject) => signal?.addEventListener('abort', () => reject(signal.reason)));
        },
      },
      { critical: true },
    );
    const served = await serve(createHealthHandler(health));
    try {
      const t0 = Date.now();
      const ready = await get(`${served.url}/health/readiness`);
      expect(Date.now() - t0).toBeLessThan(150);
      expect(ready.status).toBe(503);
      expect(ready.json()).toEqual({ status: 'fail', output: 'starting' });
      const startup = await get(`${served.url}/health/startup`);
      expect(startup.status).toBe(503);
      const t1 = Date.now();
      const status = await get(`${served.url}/health/status`);
      expect(Date.now() - t1).toBeLessThan(2_000);
      expect(status.status).toBe(503);
      expect(status.json()).toMatchObject({ status: 'fail', output: 'starting', started: false });
      expect(
        (status.json().checks as Record<string, Array<{ output?: string }>>)['stuck:responseTime']?.[0]?.output,
      ).toBe('timed out');
      expect(calls).toBe(1);
    } finally {
      await served.close();
      health.close();
    }
  });

  it('a flood of concurrent probes runs each dependency check at most once per TTL (single flight + cache)', async () => {
    const health = new HealthRegistry({
      cacheTtlMs: 400,
      backgroundRefresh: false,
      eventLoopDelay: false,
      heap: false,
    });
    let calls = 0;
    health.register(
      {
        name: 'slowdb',
        healthCheck: async () => {
          calls++;
          await new Promise((r) => setTimeout(r, 100));
          return { status: 'pass' };
        },
      },
      { critical: true },
    );
    const served = await serve(createHealthHandler(health));
    try {
      // Cold: 300 concurrent status requests share the first run (plus at most one refresh per elapsed TTL).
      const coldStart = Date.now();
      const cold = await Promise.all(Array.from({ length: 300 }, () => get(`${served.url}/health/status`)));
      expect(cold.every((r) => r.status === 200)).toBe(true);
      expect(calls).toBeLessThanOrEqual(1 + Math.floor((Date.now() - coldStart) / 400));
      expect(health.stats().sharedRuns + health.stats().cacheHits).toBeGreaterThanOrEqual(299);
      calls = 0;
      // Warm flood for ~1.2 s: every probe is answered from the cache, the dependency sees about one call per TTL.
      const started = Date.now();
      let probes = 0;
      const worker = async () => {
        while (Date.now() - started < 1_200) {
          const path = probes % 2 === 0 ? 'readiness' : 'components/slowdb';
          const res = await get(`${served.url}/health/${path}`);
          expect(res.status).toBe(200);
          probes++;
        }
      };
      await Promise.all(Array.from({ length: 20 }, worker));
      const elapsed = Date.now() - started;
      expect(probes).toBeGreaterThan(100);
      expect(calls).toBeLessThanOrEqual(Math.ceil(elapsed / 400) + 1);
      expect(calls).toBeGreaterThanOrEqual(1);
      expect(health.stats().cacheHits).toBeGreaterThan(probes / 4);
    } finally {
      await served.close();
      health.close();
    }
  });

  it('is Express-compatible: calls next() outside basePath, serves a custom basePath', async () => {
    const health = new HealthRegistry({ eventLoopDelay: false, heap: false });
    const handler = createHealthHandler(health, { basePath: '/ops/health/' });
    const served = await serve((req, res) => {
      handler(req, res, () => {
        res.writeHead(418, { 'content-type': 'text/plain' });
        res.end('app');
      });
    });
    try {
      expect((await get(`${served.url}/ops/health/liveness`)).json()).toEqual({ status: 'pass' });
      expect((await get(`${served.url}/ops/health/readiness/`)).json()).toEqual({ status: 'pass' });
      const app = await get(`${served.url}/api/orders`);
      expect(app.status).toBe(418);
      expect(app.text).toBe('app');
      expect((await get(`${served.url}/ops/health/unknown`)).status).toBe(404);
      // Without authorize, detail endpoints are open; metrics, alerts and benchmark are 404 when not configured.
      expect((await get(`${served.url}/ops/health/status`)).status).toBe(200);
      for (const path of ['metrics', 'alerts', 'benchmark']) {
        expect((await get(`${served.url}/ops/health/${path}`)).status).toBe(404);
      }
    } finally {
      await served.close();
    }
    // Mounted by a router that strips its prefix (app.use('/health', handler)): basePath '/'.
    const mounted = createHealthHandler(health, { basePath: '/' });
    const router = await serve((req, res) => {
      if (req.url?.startsWith('/health/')) {
        req.url = req.url.slice('/health'.length);
        mounted(req, res, () => res.end('next'));
      } else {
        res.end('app');
      }
    });
    try {
      expect((await get(`${router.url}/health/liveness`)).json()).toEqual({ status: 'pass' });
      expect((await get(`${router.url}/health/components`)).status).toBe(200);
      expect((await get(`${router.url}/health/zzz`)).status).toBe(404);
    } finally {
      await router.close();
      health.close();
    }
  });

  it('keeps serving cached results after close() without running checks again', async () => {
    const health = new HealthRegistry({ eventLoopDelay: false, heap: false, cacheTtlMs: 10, backgroundRefresh: false });
    let calls = 0;
    health.register({
      name: 'dep',
      healthCheck: async () => {
        calls++;
        return { status: 'pass' };
      },
    });
    const served = await serve(createHealthHandler(health));
    try {
      await health.results();
      health.close();
      health.close();
      const before = calls;
      await new Promise((r) => setTimeout(r, 30));
      expect((await get(`${served.url}/health/components/dep`)).status).toBe(200);
      expect((await get(`${served.url}/health/readiness`)).status).toBe(200);
      expect(calls).toBe(before);
    } finally {
      await served.close();
      health.close();
    }
  });

  it('summarizes a failing metrics source as 500 without leaking; protectMetrics=false leaves metrics open', async () => {
    const health = new HealthRegistry({ eventLoopDelay: false, heap: false });
    const served = await serve(
      createHealthHandler(health, {
        authorize: () => {
          throw new Error('verifier down');
        },
        protectMetrics: false,
        metrics: () => {
          throw new Error('registry at postgres://u:pw@db/x exploded\n    at y');
        },
        alerts: async () => undefined,
      }),
    );
    try {
      const res = await get(`${served.url}/health/metrics`);
      expect(res.status).toBe(500);
      expect(res.json()).toEqual({ status: 'fail', output: 'internal error: registry at [redacted-url] exploded' });
      // authorize throwing counts as 401
      expect((await get(`${served.url}/health/alerts`)).status).toBe(401);
    } finally {
      await served.close();
      health.close();
    }
  });

  it('answers 403 from an authorize hook that says so, and passes alerts through', async () => {
    const health = new HealthRegistry({ eventLoopDelay: false, heap: false });
    const served = await serve(
      createHealthHandler(health, {
        authorize: async (req) => (req.headers['x-role'] === 'ops' ? true : { status: 403 }),
        alerts: async () => undefined,
        metrics: async () => 42 as never,
      }),
    );
    try {
      expect((await get(`${served.url}/health/alerts`)).status).toBe(403);
      const ok = await get(`${served.url}/health/alerts`, { headers: { 'x-role': 'ops' } });
      expect(ok.json()).toEqual({ alerts: [] });
      expect((await get(`${served.url}/health/metrics`, { headers: { 'x-role': 'ops' } })).status).toBe(500);
    } finally {
      await served.close();
      health.close();
    }
  });
});
