import { HealthRegistry } from '@cryptoscalp/health';
import { waitFor } from '@cryptoscalp/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Harness, startHarness, upgradeRequest } from './api-harness.js';

let h: Harness;
const registry = new HealthRegistry({ eventLoopDelay: false, heap: false });

beforeAll(async () => {
  // A heap threshold of 1 byte: under pressure from the first sample on.
  h = await startHarness({
    health: { registry },
    loadShedding: { maxHeapUsedBytes: 1, maxEventLoopDelayMs: 0, sampleIntervalMs: 100, retryAfterSec: 7 },
  });
});

afterAll(async () => {
  await h?.close();
  registry.close();
});

describe('load shedding (@fastify/under-pressure)', () => {
  it('answers 503 with Retry-After to API, metrics and stream upgrades, but never to the probes', async () => {
    await waitFor(async () => (await h.call('GET', '/api/me', { token: h.tokens.viewer })).status === 503, {
      timeoutMs: 5_000,
      what: 'shedding',
    });
    const shed = await h.call('GET', '/api/positions', { token: h.tokens.viewer });
    expect(shed.status).toBe(503);
    expect(shed.body).toMatchObject({ statusCode: 503, code: 'E_API_OVERLOADED' });
    expect(shed.body.message).toMatch(/heapUsedBytes/);
    expect(shed.headers.get('retry-after')).toBe('7');
    // Before authentication: an unauthenticated caller is shed too, not told 401.
    expect((await h.call('GET', '/api/me')).status).toBe(503);
    for (const probe of ['/health/liveness', '/health/readiness', '/health/startup', '/health'])
      expect((await h.call('GET', probe)).status, probe).toBe(200);
    expect(
      await upgradeRequest(`${h.api.url}/api/stream`, { 'sec-websocket-protocol': `bearer, ${h.tokens.viewer}` }),
    ).toEqual({
      status: 503,
      retryAfter: '7',
    });
    expect(h.api.stats().shed).toBeGreaterThanOrEqual(4);
    const health = await h.api.healthCheck();
    expect(health.status).toBe('warn');
    expect(health.output).toMatch(/shedding load/);
  });
});
