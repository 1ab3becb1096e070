import type { Hook, MonitoringAlertEvent } from '@cryptoscalp/contracts';
import { conformanceSuite, loadSecondCopy } from '@cryptoscalp/testkit/conformance';
import { Gauge } from 'prom-client';
import { DEFAULTS, isMonitoringError, MONITORING_ALERT_CHANNEL, Monitoring, MonitoringError } from '../../src/index.js';

/** A gauge each monitor alerts on, flipped by the hook case so that each evaluation records an event. */
const depths = new WeakMap<Monitoring, { gauge: Gauge; high: boolean }>();

conformanceSuite<Monitoring>({
  package: 'monitoring',
  async create() {
    const m = new Monitoring({
      defaultMetrics: false,
      tracing: false,
      alerting: {
        rules: [{ name: 'Deep', condition: { type: 'threshold', metric: 'conformance_depth', op: '>', value: 10 } }],
      },
    });
    depths.set(m, {
      gauge: new Gauge({ name: 'conformance_depth', help: 'depth', registers: [m.registry] }),
      high: false,
    });
    m.watch({ name: 'orders', stats: () => ({ open: 1 }) });
    await m.metrics();
    return m;
  },
  healthCheck: (m) => m.healthCheck(),
  stats: (m) => m.stats(),
  // Unsubscribed from every channel, nothing watched, the system metrics' timers stopped.
  released: (m) => !m.subscribed && m.watching().length === 0,
  defaults: DEFAULTS,
  channels: [MONITORING_ALERT_CHANNEL],
  invalidOption: { field: 'prefix', construct: () => new Monitoring({ prefix: 'not a prefix' }) },
  codePrefix: 'E_MONITORING',
  hooks: [
    {
      name: 'alerts.onAlert',
      channel: MONITORING_ALERT_CHANNEL,
      // The hook delivers the typed AlertEvent; the channel adds the instance name as `component`.
      hook: (m) => m.alerts.onAlert as unknown as Hook<MonitoringAlertEvent>,
      fire: async (m) => {
        const depth = depths.get(m);
        if (depth === undefined) throw new Error('no gauge');
        depth.high = !depth.high;
        depth.gauge.set(depth.high ? 50 : 0);
        await m.alerts.evaluate();
      },
    },
  ],
  guard: {
    is: isMonitoringError,
    localClass: MonitoringError,
    // A second instance of the errors module, as a duplicate install would load it.
    foreignError: async () => {
      const copy = await loadSecondCopy<typeof import('../../src/errors.js')>(
        new URL('../../src/errors.ts', import.meta.url),
      );
      return new copy.MonitoringError('E_MONITORING_CLOSED', 'from another copy');
    },
  },
});
