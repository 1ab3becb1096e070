import { WebSocketManager } from '@cryptoscalp/ws-manager';
import { createDataClient } from '../../adapters/index.js';
import { ExchangeSimulator } from '../../adapters/sim/exchange-simulator.js';
import type { TraderConfig } from '../../config/config-types.js';
import type { Component, ComponentHealth } from '../../kernel/component.js';
import type { DataClient, DataSink } from '../../model/data-client.js';
import type { EngineComponent } from './engine-component.js';

/**
 * Market data: the built-in exchange simulator (unless `market.wsUrl` is set), `@cryptoscalp/ws-manager` and the
 * venue's data client, delivering normalized events and snapshots into the engine.
 */
export class MarketDataComponent implements Component {
  readonly name = 'market-data';
  readonly critical = true;
  #simulator: ExchangeSimulator | undefined;
  #manager: WebSocketManager | undefined;
  #feed: DataClient | undefined;
  #urls = { wsUrl: '', restUrl: '' };

  constructor(
    private readonly config: TraderConfig,
    private readonly engine: EngineComponent,
    private readonly watch: (source: WebSocketManager) => void,
    /** Wraps the engine's sink before the data client gets it (market-data recording). @default none */
    private readonly tapSink: (sink: DataSink) => DataSink = (sink) => sink,
  ) {}

  async start(): Promise<void> {
    const c = this.config;
    let wsUrl = c.market.wsUrl;
    let restUrl = c.market.restUrl;
    if (c.simulator.enabled && !wsUrl) {
      this.#simulator = new ExchangeSimulator({
        symbols: [...c.symbols],
        port: c.simulator.port,
        tickMs: c.simulator.tickMs,
        eventsPerSecond: c.simulator.eventsPerSecond,
        seed: c.simulator.seed,
      });
      ({ wsUrl, restUrl } = await this.#simulator.start());
    }
    this.#urls = { wsUrl, restUrl };
    const engine = this.engine.engine();
    const venue = c.market.venue;
    this.#manager = new WebSocketManager({
      name: 'ws-manager',
      exchanges: { [venue]: { endpoints: [wsUrl], limits: { messagesPerSecond: 50, messageBurst: 50 } } },
    });
    const feed = createDataClient({
      venue,
      manager: this.#manager,
      wsUrl,
      restUrl,
      symbols: c.symbols,
      depthLimit: c.market.depthLimit,
      sink: this.tapSink(engine.sink),
    });
    feed.onDecode = (ms) => engine.latency.decode.record(ms);
    this.#feed = feed;
    this.engine.setSnapshotRequester((s) => feed.requestSnapshot(s));
    this.watch(this.#manager);
    await feed.start();
  }

  /** The built-in simulator, when it runs (fault switches for tests and demos). */
  simulator(): ExchangeSimulator | undefined {
    return this.#simulator;
  }

  /** Where the market data comes from. */
  urls(): { wsUrl: string; restUrl: string } {
    return this.#urls;
  }

  /** Malformed frames and gaps so far (the market-data error-rate alert). */
  errors(): number {
    return (this.#feed?.counters.malformed ?? 0) + (this.#feed === undefined ? 0 : this.engine.engine().counters.gaps);
  }

  /** Feed counters. */
  stats(): Record<string, unknown> {
    return { ...(this.#feed?.counters ?? {}) };
  }

  async healthCheck(signal?: AbortSignal): Promise<ComponentHealth> {
    if (this.#feed === undefined || this.#manager === undefined) return { status: 'fail', output: 'not started' };
    const engine = this.engine.engine();
    const symbols = this.config.symbols;
    const synced = symbols.filter((s) => engine.isSynced(s)).length;
    const ws = await this.#manager.healthCheck(signal);
    const out = symbols.filter((s) => !engine.isSynced(s));
    const why = engine.outOfSync();
    const outputs = [
      ...(out.length === 0
        ? []
        : [
            `out of sync (no new orders on them): ${out.map((s) => (why.has(s) ? `${s} (${why.get(s)?.reason})` : s)).join(', ')}`,
          ]),
      ...(ws.status !== 'pass' && ws.output !== undefined ? [`ws-manager: ${ws.output}`] : []),
    ];
    return {
      status: synced === symbols.length ? (ws.status === 'fail' ? 'warn' : 'pass') : synced > 0 ? 'warn' : 'fail',
      observedValue: synced,
      observedUnit: 'books in sync',
      ...(outputs.length === 0 ? {} : { output: outputs.join('; ') }),
      ...(out.length === 0 ? {} : { details: { outOfSync: out } }),
    };
  }

  async stop(): Promise<void> {
    await this.#feed?.close();
    await this.#manager?.close();
    await this.#simulator?.close();
  }
}
