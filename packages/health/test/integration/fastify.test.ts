import Fastify from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearerAuthorize, HealthRegistry, healthPlugin } from '../../src/index.js';
import { get } from './helpers.js';

const TOKEN = 'fastify-token-0123456789';

describe('healthPlugin on a real Fastify server', () => {
  const health = new HealthRegistry({ version: '2.0.0', eventLoopDelay: false });
  const app = Fastify();
  let url: string;

  beforeAll(async () => {
    health.register({ name: 'db', healthCheck: async () => ({ status: 'pass' }) }, { critical: true });
    await app.register(healthPlugin, {
      registry: health,
      prefix: '/ops',
      authorize: bearerAuthorize(TOKEN),
      metrics: () => 'up 1\n',
    });
    app.get('/api/ping', async () => ({ pong: true }));
    url = await app.listen({ port: 0, host: '127.0.0.1' });
    await health.results();
  });
  afterAll(async () => {
    await app.close();
    health.close();
  });

  it('serves the probes under the prefix with the same bodies and headers', async () => {
    const live = await get(`${url}/ops/health/liveness`);
    expect(live.status).toBe(200);
    expect(live.headers.get('content-type')).toBe('application/health+json');
    expect(live.headers.get('cache-control')).toBe('no-store');
    expect(live.json()).toEqual({ status: 'pass' });
    expect((await get(`${url}/ops/health/readiness`)).json()).toEqual({ status: 'pass' });
    expect((await get(`${url}/ops/health`)).status).toBe(200);
    expect((await get(`${url}/health/liveness`)).status).toBe(404);
    expect((await get(`${url}/api/ping`)).json()).toEqual({ pong: true });
  });

  it('same semantics for auth, 404, 405 and HEAD', async () => {
    expect((await get(`${url}/ops/health/status`)).status).toBe(401);
    const status = await get(`${url}/ops/health/status`, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(status.status).toBe(200);
    expect(status.json()).toMatchObject({ status: 'pass', version: '2.0.0', phase: 'running' });
    const metrics = await get(`${url}/ops/health/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(metrics.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
    const missing = await get(`${url}/ops/health/nope`);
    expect(missing.status).toBe(404);
    expect(missing.json()).toEqual({ status: 'fail', output: 'not found' });
    const post = await get(`${url}/ops/health/readiness`, { method: 'POST' });
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET, HEAD');
    const head = await get(`${url}/ops/health/readiness`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.text).toBe('');
  });

  it('rejects a registration without a registry', async () => {
    const bad = Fastify();
    await expect(bad.register(healthPlugin, {} as never)).rejects.toThrow(/registry/);
    await bad.close();
  });
});
