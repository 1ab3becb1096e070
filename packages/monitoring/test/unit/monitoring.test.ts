import { Counter, Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { isMonitoringError, Monitoring, parseProcNetDev } from '../../src/index.js';
import { sample } from '../helpers.js';

const open: Monitoring[] = [];
function make(options: ConstructorParameters<typeof Monitoring>[0] = {}): Monitoring {
  const m = new Monitoring({ tracing: false, ...options });
  open.push(m);
  return m;
}
afterEach(async () => {
  await Promise.all(open.splice(0).map((m) => m.close()));
});

describe('Monitoring registry', () => {
  it('creates its own registry with default, process and system metrics', async () => {
    const m = make();
    const text = await m.metrics();
    expect(text).toContain('# TYPE nodejs_eventloop_lag_seconds gauge');
    expect(text).toContain('nodejs_heap_size_used_bytes');
    expect(sample(text, 'system_memory_limit_bytes')).toBeGreaterThan(0);
    expect(sample(text, 'system_memory_usage_bytes', { state: 'used' })).toBeGreaterThan(0);
    expect(sample(text, 'system_cpu_logical_cpus')).toBeGreaterThanOrEqual(1);
    expect(sample(text, 'system_cpu_load_average_1m')).toBeGreaterThanOrEqual(0);
    expect(sample(text, 'system_filesystem_limit_bytes', { mountpoint: '/' })).toBeGreaterThan(0);
    expect(sample(text, 'system_filesystem_usage_bytes', { mountpoint: '/', state: 'used' })).toBeGreaterThan(0);
    expect(sample(text, 'process_memory_usage_bytes')).toBeGreaterThan(0);
    // Second scrape has a CPU delta.
    const again = await m.metrics();
    const util = sample(again, 'system_cpu_utilization_ratio');
    expect(util).toBeGreaterThanOrEqual(0);
    expect(util).toBeLessThanOrEqual(1);
    expect(sample(again, 'cryptoscalp_monitoring_scrape_duration_seconds')).toBeGreaterThan(0);
    expect(m.contentType).toContain('version=0.0.4');
  });

  it('reads network counters from /proc/net/dev when present', async () => {
    const m = make({ defaultMetrics: false });
    const text = await m.metrics();
    if (process.platform === 'linux')
      expect(
        sample(text, 'system_network_io_bytes_total', { device: 'lo', direction: 'receive' }),
      ).toBeGreaterThanOrEqual(0);
    const parsed = parseProcNetDev(
      'Inter-|   Receive   |  Transmit\n face |bytes packets errs drop fifo frame compressed multicast|bytes packets errs drop fifo colls carrier compressed\n    lo: 100 2 0 0 0 0 0 0 200 3 1 4 0 0 0 0\nbad line\n',
    );
    expect(parsed).toEqual([
      {
        device: 'lo',
        rxBytes: 100,
        rxPackets: 2,
        rxErrors: 0,
        rxDropped: 0,
        txBytes: 200,
        txPackets: 3,
        txErrors: 1,
        txDropped: 4,
      },
    ]);
  });

  it('applies the prefix to every metric it creates', async () => {
    const m = make({ prefix: 'app_' });
    const text = await m.metrics();
    const names = [...text.matchAll(/^# TYPE (\S+)/gm)].map((x) => x[1] as string);
    expect(names.length).toBeGreaterThan(10);
    for (const n of names) expect(n.startsWith('app_')).toBe(true);
  });

  it('uses an injected registry, keeps foreign metrics and removes only its own on close', async () => {
    const registry = new Registry();
    const mine = new Counter({ name: 'app_requests_total', help: 'x', registers: [registry] });
    mine.inc(3);
    const m = make({ registry, systemMetrics: false });
    expect(m.registry).toBe(registry);
    const text = await m.metrics();
    expect(sample(text, 'app_requests_total')).toBe(3);
    expect(registry.getSingleMetric('nodejs_heap_size_used_bytes')).toBeDefined();
    m.watch({ name: 'c', stats: () => ({ size: 1 }) });
    await m.close();
    await m.close(); // idempotent
    expect(registry.getMetricsAsArray().map((x) => x.name)).toEqual(['app_requests_total']);
  });

  it('reports a duplicate registration of default metrics with a typed error', () => {
    const registry = new Registry();
    make({ registry, systemMetrics: false });
    try {
      new Monitoring({ registry, systemMetrics: false, tracing: false });
      expect.unreachable();
    } catch (error) {
      expect(isMonitoringError(error) && error.code).toBe('E_MONITORING_DUPLICATE_METRIC');
    }
  });

  it('exposes a cheap stats() snapshot', async () => {
    const m = make({ defaultMetrics: false, systemMetrics: false });
    m.watch({ name: 'a' });
    await m.metrics();
    const s = m.stats() as {
      watched: number;
      subscribed: number;
      lastScrapeSeconds: number;
      alerts: Record<string, unknown>;
    };
    expect(s.watched).toBe(1);
    expect(s.subscribed).toBe(1);
    expect(s.lastScrapeSeconds).toBeGreaterThan(0);
    expect(s.alerts).toEqual({
      pending: 0,
      firing: 0,
      groups: 0,
      silences: 0,
      history: 0,
      rules: 0,
      queues: {},
      hookListenerErrors: 0,
    });
  });

  it('refuses work after close and reports fail health', async () => {
    const m = make({ defaultMetrics: false, systemMetrics: false });
    expect((await m.healthCheck()).status).toBe('pass');
    await m.close();
    await expect(m.metrics()).rejects.toMatchObject({ code: 'E_MONITORING_CLOSED' });
    expect(() => m.watch({ name: 'x' })).toThrow(/closed/);
    expect((await m.healthCheck()).status).toBe('fail');
  });
});
