import type { Component } from '../../kernel/component.js';
import type { EngineComponent } from './engine-component.js';

/**
 * Trading itself, declared last so it starts after every sink and the market data, and quiesces first: on shutdown
 * the strategy stops deciding, open orders are cancelled and their acknowledgements awaited (bounded), all while
 * the feed, the journal and the writers still run.
 */
export class TradingComponent implements Component {
  readonly name = 'trading';
  readonly stopTimeoutMs = 5_000;
  /** Open orders left when the quiesce ended (0 on a clean drain). */
  leftOpen = 0;

  constructor(
    private readonly engine: EngineComponent,
    private readonly drainTimeoutMs = 3_000,
  ) {}

  start(): void {
    this.engine.engine().start();
  }

  async quiesce(reason: string): Promise<void> {
    const engine = this.engine.engine();
    engine.stopDecisions();
    engine.cancelAll(`shutdown: ${reason}`);
    const until = Date.now() + this.drainTimeoutMs;
    while (engine.orders.openCount > 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
    this.leftOpen = engine.orders.openCount;
  }

  stop(): void {}
}
