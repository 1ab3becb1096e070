import { conformanceSuite, loadSecondCopy } from '@cryptoscalp/testkit/conformance';
import { afterAll } from 'vitest';
import {
  type ClosableIndicator,
  createEventLoopDelayIndicator,
  DEFAULTS,
  HEALTH_CHECK_CHANNEL,
  HEALTH_SHUTDOWN_CHANNEL,
  HEALTH_STATUS_CHANNEL,
  HealthError,
  HealthRegistry,
  isHealthError,
} from '../../src/index.js';

/** The SIGTERM listener each registry added: released once it is gone from the process. */
const listeners = new WeakMap<HealthRegistry, unknown>();
/** The indicator each registry runs (one the package ships). */
const indicators = new WeakMap<HealthRegistry, ClosableIndicator>();
/** The registry closes only the indicators it created itself. */
const owned: ClosableIndicator[] = [];
let checks = 0;
afterAll(() => {
  for (const indicator of owned) indicator.close();
});

conformanceSuite<HealthRegistry>({
  package: 'health',
  async create() {
    const before = new Set(process.listeners('SIGTERM'));
    const health = new HealthRegistry({ handleSignals: true, eventLoopDelay: false });
    listeners.set(
      health,
      process.listeners('SIGTERM').find((l) => !before.has(l)),
    );
    const indicator = createEventLoopDelayIndicator();
    indicators.set(health, indicator);
    owned.push(indicator);
    health.register(indicator, { critical: true });
    await health.results();
    return health;
  },
  healthCheck: async (health) => {
    const indicator = indicators.get(health);
    if (indicator === undefined) throw new Error('no indicator registered');
    return indicator.healthCheck();
  },
  stats: (health) => health.stats(),
  released: (health) => {
    const listener = listeners.get(health);
    return listener !== undefined && !process.listeners('SIGTERM').some((l) => l === listener);
  },
  defaults: DEFAULTS,
  channels: [HEALTH_CHECK_CHANNEL, HEALTH_STATUS_CHANNEL, HEALTH_SHUTDOWN_CHANNEL],
  invalidOption: { field: 'timeoutMs', construct: () => new HealthRegistry({ timeoutMs: -1 }) },
  codePrefix: 'E_HEALTH',
  hooks: [
    {
      name: 'onStatusChange',
      channel: HEALTH_STATUS_CHANNEL,
      hook: (health) => health.onStatusChange,
      // A new check's first result is a change from `unknown`.
      fire: async (health) => {
        health.register({ name: `hook-${++checks}`, healthCheck: async () => ({ status: 'pass' }) });
        await health.results();
      },
    },
  ],
  guard: {
    is: isHealthError,
    localClass: HealthError,
    // A second instance of the errors module, as a duplicate install would load it.
    foreignError: async () => {
      const copy = await loadSecondCopy<typeof import('../../src/errors.js')>(
        new URL('../../src/errors.ts', import.meta.url),
      );
      return new copy.HealthError(copy.HealthErrorCode.INVALID_OPTION, 'from another copy');
    },
  },
});
