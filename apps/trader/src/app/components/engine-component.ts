import type { BinanceLiveExecution } from '../../adapters/binance/live-execution.js';
import {
  createBinanceLiveVenue,
  LiveVenueMetrics,
  loadBinanceCredentials,
  reconcileLogLine,
} from '../../adapters/binance/live-venue.js';
import type { BinanceCredentials } from '../../adapters/binance/signing.js';
import { PaperExecution } from '../../adapters/sim/paper-execution.js';
import type { TraderConfig } from '../../config/config-types.js';
import { type ReplayReport, TradingEngine } from '../../engine/trading-engine.js';
import { TraderError } from '../../errors.js';
import type { Log } from '../../internal/log.js';
import type { JournalEntry } from '../../journal/journal.js';
import type { Component, ComponentHealth } from '../../kernel/component.js';
import type { ExecutionClient } from '../../model/execution-client.js';
import type { Strategy } from '../../strategy/strategy.js';
import type { JournalComponent } from './journal-component.js';

/** What the engine's start replayed, with the torn bytes the journal cut. */
export type EngineReplay = ReplayReport & { truncatedBytes: number };

/**
 * The trading engine: built over the open journal and brought to the journal's state by replay (with restart
 * reconciliation) when it starts. It does not trade yet: {@link TradingComponent}, declared last, starts and
 * quiesces the trading itself, so market data and every sink are up before the first decision.
 */
export class EngineComponent implements Component {
  readonly name = 'engine';
  #engine: TradingEngine | undefined;
  #replay: EngineReplay | undefined;
  #startEntries: JournalEntry[] | undefined;
  /** Set by the market-data component, which owns the feed the engine asks for snapshots. */
  #requestSnapshot: (symbol: string) => void = () => {};
  /** `execution.venue: binance`: the credentials, read at construction so a missing key stops the start at once. */
  readonly #credentials: BinanceCredentials | undefined;
  #live: BinanceLiveExecution | undefined;
  /** The live venue's reconciliation metrics (for the monitoring registry); empty on the paper venue. */
  readonly venueMetrics = new LiveVenueMetrics();

  constructor(
    private readonly config: TraderConfig,
    private readonly journal: JournalComponent,
    private readonly options: {
      strategy?: Strategy;
      /** Wraps the paper venue (engine active/standby: the durability rule and the lease check before each action). */
      wrapExecution?: (venue: ExecutionClient) => ExecutionClient;
      /** Where the live venue's credentials come from. @default process.env */
      env?: NodeJS.ProcessEnv;
      /** Log lines (the live venue's reconciliation differences). @default console.log */
      log?: Log;
    } = {},
  ) {
    if (config.execution.venue === 'binance') this.#credentials = loadBinanceCredentials(options.env ?? process.env);
  }

  start(): void {
    const wrap = this.options.wrapExecution;
    const live = this.liveVenue(() => engine);
    const venue = live ?? (wrap === undefined ? undefined : this.paperVenue(() => engine));
    const engine: TradingEngine = new TradingEngine({
      config: this.config,
      journal: this.journal.journal(),
      requestSnapshot: (s) => this.#requestSnapshot(s),
      ...(this.options.strategy === undefined ? {} : { strategy: this.options.strategy }),
      ...(venue === undefined ? {} : { execution: wrap === undefined ? venue : wrap(venue) }),
    });
    const recovery = this.journal.takeRecovery();
    // Entries the replay itself journals (restart reconciliation) reach listeners; keep them with the recovered
    // ones, so the event stream gets the whole journal without reading the file again.
    const reconciled: JournalEntry[] = [];
    let replaying = true;
    engine.onEntry((e) => {
      if (replaying) reconciled.push(e);
    });
    this.#replay = { ...engine.replay(recovery.entries), truncatedBytes: recovery.truncatedBytes };
    replaying = false;
    this.#startEntries = recovery.entries.concat(reconciled);
    this.#engine = engine;
    // After replay: the first user-data subscription reconciles the venue with the replayed journal.
    void live?.start();
  }

  /** `execution.venue: binance` (with `--live`): the Binance live venue; its reconciliations are journaled, counted, logged. */
  private liveVenue(engine: () => TradingEngine): BinanceLiveExecution | undefined {
    if (this.#credentials === undefined) return undefined;
    const log: Log = this.options.log ?? ((line: string) => console.log(line));
    this.#live = createBinanceLiveVenue({
      config: this.config,
      credentials: this.#credentials,
      journal: () => engine().orders,
      onReport: (report) => {
        engine().recordVenueReconciliation(report);
        this.venueMetrics.record(report);
        if (report.differences.length > 0 || report.error !== undefined)
          log(reconcileLogLine(report), report.error === undefined ? 'warn' : 'error');
      },
    });
    return this.#live;
  }

  /**
   * Every journal entry as of the end of start (the recovered ones and the reconciliation's), handed over once to
   * the event publisher, which publishes what the stream lacks.
   */
  takeStartEntries(): readonly JournalEntry[] {
    const entries = this.#startEntries;
    if (entries === undefined)
      throw new TraderError('E_TRADER_INVALID_OPTION', 'engine is not started, or its entries were taken');
    this.#startEntries = undefined;
    return entries;
  }

  /** The engine (after start). */
  engine(): TradingEngine {
    if (this.#engine === undefined) throw new TraderError('E_TRADER_INVALID_OPTION', 'engine is not started');
    return this.#engine;
  }

  /** What replay found. */
  replay(): EngineReplay {
    if (this.#replay === undefined) throw new TraderError('E_TRADER_INVALID_OPTION', 'engine is not started');
    return this.#replay;
  }

  /** The paper venue as the engine makes it by default, matching against the engine's synced books. */
  private paperVenue(engine: () => TradingEngine): ExecutionClient {
    const { latencyMs, makerFeeBps, takerFeeBps } = this.config.execution;
    return new PaperExecution({
      book: (symbol) => {
        const vb = engine().books.get(symbol);
        return vb?.isSynced() ? vb.book : undefined;
      },
      latencyMs,
      makerFeeBps,
      takerFeeBps,
    });
  }

  /** Routes the engine's snapshot requests to the market-data feed. */
  setSnapshotRequester(fn: (symbol: string) => void): void {
    this.#requestSnapshot = fn;
  }

  async healthCheck(): Promise<ComponentHealth> {
    const e = this.#engine;
    if (e === undefined) return { status: 'fail', output: 'not started' };
    return { status: e.state === 'RUNNING' ? 'pass' : 'warn', output: `${e.state}: ${e.killSwitch.reason}` };
  }

  async stop(): Promise<void> {
    await this.#engine?.close();
  }
}
