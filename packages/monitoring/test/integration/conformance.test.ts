import { conformanceSuite, loadSecondCopy } from '@cryptoscalp/testkit/conformance';
import { DEFAULTS, isMonitoringError, MONITORING_ALERT_CHANNEL, Monitoring, MonitoringError } from '../../src/index.js';

conformanceSuite<Monitoring>({
  package: 'monitoring',
  async create() {
    const m = new Monitoring({ defaultMetrics: false, tracing: false });
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
