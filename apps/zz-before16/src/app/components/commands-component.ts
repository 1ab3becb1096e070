import type { CommandBus, CommandHandler } from '../../bus/types.js';
import type { Component, ComponentHealth } from '../../kernel/component.js';

/**
 * The command channel: the engine serves it (kill switch, cancel, alerts from any gateway), a gateway sends on it.
 * In `--role all` it is in process, so the API's commands take the same path as a gateway's.
 */
export class CommandsComponent implements Component {
  readonly name = 'commands';

  constructor(
    readonly bus: CommandBus,
    private readonly handler: (() => CommandHandler) | undefined,
  ) {}

  async start(): Promise<void> {
    await this.bus.start();
    if (this.handler !== undefined) this.bus.serve(this.handler());
  }

  healthCheck(signal?: AbortSignal): Promise<ComponentHealth> {
    return this.bus.healthCheck(signal);
  }

  stats(): Record<string, unknown> {
    return this.bus.stats();
  }

  async stop(): Promise<void> {
    await this.bus.close();
  }
}
