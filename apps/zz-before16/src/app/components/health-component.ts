import { HealthRegistry } from '@cryptoscalp/health';
import type { TraderConfig } from '../../config/config-types.js';
import type { Component } from '../../kernel/component.js';

/**
 * `@cryptoscalp/health`: every component's `healthCheck()` registered under the component's name (critical ones
 * decide readiness). Quiescing turns readiness to 503 for `http.shutdownDelayMs`, so load balancers stop sending
 * before the server closes.
 */
export class HealthComponent implements Component {
  readonly name = 'health';
  readonly registry: HealthRegistry;

  constructor(
    config: TraderConfig,
    private readonly components: () => readonly Component[],
  ) {
    this.registry = new HealthRegistry({
      name: `trader-${config.role}`,
      version: '0.1.0',
      handleSignals: false,
      startupGracePeriodMs: 30_000,
      shutdownDelayMs: config.http.shutdownDelayMs,
      shutdownTimeoutMs: 3_000,
    });
  }

  start(): void {
    for (const c of this.components()) {
      if (c === this || c.healthCheck === undefined) continue;
      const check = c.healthCheck.bind(c);
      this.registry.register(
        { name: c.name, healthCheck: (signal) => check(signal) },
        { critical: c.critical ?? false },
      );
    }
  }

  /** Component statuses for `/api/status` and the engine's status records. */
  async statuses(): Promise<{ name: string; status: 'pass' | 'warn' | 'fail'; output?: string }[]> {
    return (await this.registry.results()).map(({ runner, record }) => ({
      name: runner.indicator.name,
      status: record.status,
      ...(record.entry.output === undefined ? {} : { output: record.entry.output }),
    }));
  }

  async quiesce(reason: string): Promise<void> {
    await this.registry.shutdown(reason);
  }

  stop(): void {
    this.registry.close();
  }
}
