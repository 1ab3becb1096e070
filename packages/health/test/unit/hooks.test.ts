import diagnostics from 'node:diagnostics_channel';
import type { HealthShutdownEvent, HealthStatusEvent } from '@cryptoscalp/contracts';
import { afterEach, describe, expect, expectTypeOf, it } from 'vitest';
import {
  HEALTH_SHUTDOWN_CHANNEL,
  HEALTH_STATUS_CHANNEL,
  type HealthCheckResult,
  HealthRegistry,
  type Hook,
} from '../../src/index.js';

const registries: HealthRegistry[] = [];
function registry(name: string): HealthRegistry {
  const h = new HealthRegistry({
    name,
    eventLoopDelay: false,
    heap: false,
    backgroundRefresh: false,
    cacheTtlMs: 1,
    shutdownDelayMs: 0,
  });
  registries.push(h);
  return h;
}
afterEach(() => {
  for (const h of registries.splice(0)) h.close();
});

function indicator(name: string) {
  let status: HealthCheckResult['status'] = 'pass';
  return {
    name,
    set(next: HealthCheckResult['status']) {
      status = next;
    },
    healthCheck: async (): Promise<HealthCheckResult> => ({ status }),
  };
}

describe('HealthRegistry hooks', () => {
  it('onStatusChange and onShutdownPhase deliver the channel payloads', async () => {
    const h = registry('hooks-svc');
    expectTypeOf(h.onStatusChange).toEqualTypeOf<Hook<HealthStatusEvent>>();
    expectTypeOf(h.onShutdownPhase).toEqualTypeOf<Hook<HealthShutdownEvent>>();
    const statusChannel: unknown[] = [];
    const phaseChannel: unknown[] = [];
    const onStatus = (m: unknown) => {
      if ((m as HealthStatusEvent).component === 'hooks-svc') statusChannel.push(m);
    };
    const onPhase = (m: unknown) => {
      if ((m as HealthShutdownEvent).component === 'hooks-svc') phaseChannel.push(m);
    };
    diagnostics.subscribe(HEALTH_STATUS_CHANNEL, onStatus);
    diagnostics.subscribe(HEALTH_SHUTDOWN_CHANNEL, onPhase);
    const statuses: HealthStatusEvent[] = [];
    const phases: HealthShutdownEvent[] = [];
    h.onStatusChange((e) => statuses.push(e));
    h.onShutdownPhase((e) => phases.push(e));
    try {
      const db = indicator('db');
      h.register(db, { critical: true });
      await h.results();
      db.set('fail');
      await new Promise((r) => setTimeout(r, 5));
      await h.results();
      await h.shutdown('test');
    } finally {
      diagnostics.unsubscribe(HEALTH_STATUS_CHANNEL, onStatus);
      diagnostics.unsubscribe(HEALTH_SHUTDOWN_CHANNEL, onPhase);
    }
    expect(statuses.map((e) => `${e.check}:${e.from}->${e.to}`)).toEqual(['db:unknown->pass', 'db:pass->fail']);
    expect(statuses).toEqual(statusChannel);
    expect(phases.map((e) => e.phase)).toEqual(['draining', 'closing', 'cleanup', 'stopped']);
    expect(phases[0]).toMatchObject({ component: 'hooks-svc', reason: 'test' });
    expect(phases).toEqual(phaseChannel);
  });

  it('a throwing listener is counted and does not stop the others nor the shutdown; dispose is idempotent', async () => {
    const h = registry('hooks-throw');
    h.onShutdownPhase(() => {
      throw new Error('listener bug');
    });
    const phases: string[] = [];
    h.onShutdownPhase((e) => phases.push(e.phase));
    const statuses: string[] = [];
    const sub = h.onStatusChange((e) => statuses.push(e.to));
    sub.dispose();
    sub.dispose();
    h.register(indicator('db'));
    await h.results();
    const report = await h.shutdown('test');
    expect(report).toBeDefined();
    expect(statuses).toEqual([]);
    expect(phases).toEqual(['draining', 'closing', 'cleanup', 'stopped']);
    expect(h.stats().hookListenerErrors).toBe(4);
  });
});
