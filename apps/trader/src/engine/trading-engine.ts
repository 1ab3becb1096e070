import { PaperExecution } from '../adapters/sim/paper-execution.js';
import type { TraderConfig } from '../config/config-types.js';
import { isTraderError, TraderError } from '../errors.js';
import { ClientOrderIdGenerator } from '../execution/client-order-id.js';
import { canTransition, OrderBookkeeper } from '../execution/order-state-machine.js';
import { type CancelTimer, type Clock, SYSTEM_CLOCK } from '../internal/clock.js';
import { LatencyRecorder } from '../internal/latency-recorder.js';
import { isJournalWriteError, Journal, type JournalEntry, SNAPSHOT_ENTRY } from '../journal/journal.js';
import type { DataSink } from '../model/data-client.js';
import type { ExecutionClient, ExecutionEvent } from '../model/execution-client.js';
import type { EngineSnapshot, JournalEvents, JournalEventType } from '../model/journal-events.js';
import type { BookSnapshot, Fill, GapEvent, MarketEvent, Order, OrderIntent } from '../model/types.js';
import { VenueBook } from '../model/venue-book.js';
import { Portfolio, type PortfolioState } from '../portfolio/portfolio.js';
import { KillSwitch, type TradingState } from '../risk/kill-switch.js';
import { RiskEngine } from '../risk/risk-engine.js';
import { ScalpingStrategy } from '../strategy/scalping-strategy.js';
import type { Strategy } from '../strategy/strategy.js';

/** Options of {@link TradingEngine}. */
export interface TradingEngineOptions {
  config: TraderConfig;
  journal: Journal;
  /** @default a ScalpingStrategy from `config.strategy` */
  strategy?: Strategy;
  /** @default PaperExecution against the engine's books, from `config.execution` */
  execution?: ExecutionClient;
  /**
   * Called for each book a {@link GapEvent} invalidates: the data client's `requestSnapshot`, which fetches (or
   * resubscribes for) a snapshot and hands it back through {@link TradingEngine.onSnapshot} or the event stream.
   * Data clients recover from the gaps they detect by themselves, so this is idempotent there; it matters for
   * sources that only report gaps.
   */
  requestSnapshot?: (symbol: string) => void;
  /**
   * A synced book that has had no depth update for this long while its venue's trades kept arriving is taken as
   * frozen (a feed that restarted with lower sequence ids, a stream the pipeline silently drops) and resynced.
   * @default 2000
   */
  bookStaleMs?: number;
  /**
   * Time and timers of the decision path (journal timestamps, strategy time, risk windows, order expiry, the paper
   * venue's latency). A backtest passes a simulated clock. @default the system clock
   */
  clock?: Clock;
  /** The process id journaled in `session.start` (a backtest journals 0, so its journal is reproducible). @default process.pid */
  pid?: number;
  /**
   * How often the strategy's learned state is journaled (`strategy.state`, when the strategy has `exportState`), so
   * a replay (a standby taking over, a restart) restores it instead of warming up again; 0: never.
   * @default `config.ha.strategyStateMs` with `config.ha.enabled`, else 0
   */
  strategyStateMs?: number;
}

/** Trades in a row printing outside the book (beyond {@link OUTSIDE_BOOK_MARGIN}) that make it resync. */
const OUTSIDE_BOOK_TRADES = 5;
/** How far outside the best bid/ask (fraction of the price) a trade must print to count: a sweep stays inside it. */
const OUTSIDE_BOOK_MARGIN = 0.01;
/** Trades since the last depth update before a quiet book counts as frozen (one trade can precede its diff). */
const STALE_BOOK_MIN_TRADES = 3;
/** Backoff of the retries of a journal that refuses appends. */
const JOURNAL_RETRY_MIN_MS = 100;
const JOURNAL_RETRY_MAX_MS = 5_000;

/** Why a symbol's book is out of sync, since when. */
export interface BookDesync {
  since: number;
  reason: string;
}

/** Per-symbol freshness the book watchdog reads. */
interface BookWatch {
  /** `clock.now()` of the last diff or snapshot applied. */
  depthAt: number;
  /** Trades received since then. */
  tradesSinceDepth: number;
  /** Trades in a row outside the book. */
  outside: number;
  /** Last snapshot request of a desynced book (re-requested while it stays out). */
  requestedAt: number;
}

/** What {@link TradingEngine.replay} found and did. */
export interface ReplayReport {
  entries: number;
  orders: number;
  fills: number;
  lastSeq: number;
  /**
   * Orders open at the crash journaled as cancelled, because the execution client's venue died with the process
   * (`venueStateSurvivesRestart === false`, the paper venue).
   */
  reconciledCancelled: number;
  /** Orders open at the crash handed to the execution client's `reconcile` (a venue that survives restarts). */
  reconciledByVenue: number;
  /** Entries that did not apply (should be 0). */
  skipped: number;
  /** True when the strategy's learned state was restored from a `strategy.state` entry (no new warm-up). */
  strategyRestored: boolean;
}

/** The engine's stage latency recorders (milliseconds). */
export interface EngineLatencies {
  /** Exchange event time to receipt (clock offset included; ms resolution). */
  exchangeToReceive: LatencyRecorder;
  /** Frame parse/normalize. */
  decode: LatencyRecorder;
  /** Book update. */
  book: LatencyRecorder;
  /** Strategy evaluation. */
  strategy: LatencyRecorder;
  /** Risk check. */
  risk: LatencyRecorder;
  /** Journal append of a new order. */
  journal: LatencyRecorder;
  /** Receipt of the frame to the decision (strategy + risk done). */
  tickToDecision: LatencyRecorder;
  /** Receipt of the frame to the order journaled. */
  tickToJournaled: LatencyRecorder;
  /** Order submitted to its first fill (paper latency included). */
  orderToFill: LatencyRecorder;
}

/**
 * The trading core: books from market events, the strategy's decisions through risk into orders, execution
 * events into orders, positions and PnL. Every state change is journaled before it is applied, and the same
 * apply code replays the journal on start. Listeners ({@link onEntry}) see each applied entry (persistence, cache).
 * Its {@link sink} is where the venue's data client delivers: events arrive in order with gaps already detected
 * there, so a book only applies, and stops being traded on from a {@link GapEvent} until its next snapshot.
 */
export class TradingEngine {
  readonly config: TraderConfig;
  /** The engine as a data client's {@link DataSink}: {@link onMarketEvent} and {@link onSnapshot}. */
  readonly sink: DataSink = {
    onEvent: (ev, recvTs) => this.onMarketEvent(ev, recvTs),
    onSnapshot: (symbol, snapshot, force) => this.onSnapshot(symbol, snapshot, force),
  };
  /** One book per configured symbol. */
  readonly books: ReadonlyMap<string, VenueBook>;
  /** The orders (replaced once, when a replay starts from a journal snapshot). */
  orders = new OrderBookkeeper();
  /** Positions and PnL (replaced once, when a replay starts from a journal snapshot). */
  portfolio = new Portfolio();
  readonly killSwitch: KillSwitch;
  readonly risk: RiskEngine;
  readonly strategy: Strategy;
  readonly execution: ExecutionClient;
  readonly ids: ClientOrderIdGenerator;
  readonly latency: EngineLatencies;
  readonly counters = {
    bookEvents: 0,
    tradeEvents: 0,
    stale: 0,
    /** Book diffs that arrived while their book waited for a snapshot (ignored). */
    unsynced: 0,
    gaps: 0,
    snapshots: 0,
    decisions: 0,
    intents: 0,
    ordersSubmitted: 0,
    riskRejected: 0,
    venueRejected: 0,
    cancelled: 0,
    fills: 0,
    invalidEvents: 0,
    malformed: 0,
    /** Books the engine took out of sync itself (sequence backwards, frozen while trading, trades outside it). */
    desyncs: 0,
    /** Journal appends that failed (disk full, I/O error). */
    journalFailures: 0,
    /** Orders refused because the journal was refusing appends. */
    journalRejected: 0,
    /** Journal segments started (each with a snapshot entry). */
    journalRotations: 0,
    /** Rotations that failed (the journal kept appending to its segment). */
    journalRotationFailures: 0,
  };
  /** Wall-clock time of the last market event per symbol. */
  readonly lastEventAt = new Map<string, number>();
  private readonly journal: Journal;
  private readonly requestSnapshot: (symbol: string) => void;
  private readonly listeners: ((entry: JournalEntry) => void)[] = [];
  private readonly pendingCancel = new Set<string>();
  private readonly submittedAt = new Map<string, number>();
  private timers: CancelTimer[] = [];
  private readonly clock: Clock;
  private readonly pid: number;
  private replaying = false;
  private decisionsStopped = false;
  private closed = false;
  private readonly bookStaleMs: number;
  private readonly watch = new Map<string, BookWatch>();
  private readonly desynced = new Map<string, BookDesync>();
  /** Entries that could not be journaled while the journal refused appends, in order; written when it accepts again. */
  private held: (() => void)[] = [];
  private journalRetry: NodeJS.Timeout | undefined;
  private journalRetryMs = JOURNAL_RETRY_MIN_MS;
  private readonly strategyStateMs: number;
  /** The last `strategy.state` seen by a replay in progress. */
  private replayedStrategyState: JournalEvents['strategy.state'] | undefined;
  /** The state last journaled, to skip an unchanged one. */
  private lastStrategyState = '';
  /** The last `strategy.state` journaled or replayed (a journal snapshot carries it on). */
  private strategyEntry: JournalEvents['strategy.state'] | undefined;
  /** The day baseline a replayed snapshot carried. */
  private snapshotDay: EngineSnapshot['day'];
  private rotating = false;

  constructor(options: TradingEngineOptions) {
    const { config } = options;
    this.config = config;
    this.journal = options.journal;
    this.clock = options.clock ?? SYSTEM_CLOCK;
    this.pid = options.pid ?? process.pid;
    this.requestSnapshot = options.requestSnapshot ?? (() => {});
    this.books = new Map(config.symbols.map((s) => [s, new VenueBook(s)]));
    this.bookStaleMs = options.bookStaleMs ?? 2_000;
    this.strategyStateMs = options.strategyStateMs ?? (config.ha?.enabled ? config.ha.strategyStateMs : 0);
    if (!Number.isSafeInteger(this.strategyStateMs) || this.strategyStateMs < 0)
      throw new TraderError('E_TRADER_INVALID_OPTION', 'strategyStateMs must be an integer >= 0', {
        field: 'strategyStateMs',
      });
    for (const s of config.symbols) this.watch.set(s, { depthAt: 0, tradesSinceDepth: 0, outside: 0, requestedAt: 0 });
    this.killSwitch = new KillSwitch((change) => {
      if (this.replaying) return;
      // A risk rule must be able to escalate on a full disk too: the change takes effect, its entry may wait.
      this.durably(() =>
        this.record('risk.state', { from: change.from, to: change.to, reason: change.reason, by: change.by }),
      );
    });
    this.killSwitch.onChange((change) => {
      if (!this.replaying && change.to !== 'RUNNING') this.cancelAll(`kill switch ${change.to}: ${change.reason}`);
    });
    this.risk = new RiskEngine(
      {
        maxPositionNotional: config.risk.maxPositionNotional,
        maxNotionalPerOrder: config.risk.maxNotionalPerOrder,
        maxOrdersPerSecond: config.risk.maxOrdersPerSecond,
        dailyLossLimit: config.risk.dailyLossLimit,
        maxDrawdown: config.risk.maxDrawdown,
      },
      this.killSwitch,
      { graceMs: config.risk.releaseGraceMs, step: config.risk.releaseStep },
    );
    this.strategy =
      options.strategy ??
      new ScalpingStrategy({
        orderNotional: config.strategy.orderNotional,
        maxLots: config.strategy.maxLots,
        horizonMs: config.strategy.horizonMs,
        threshold: config.strategy.threshold,
        learningRate: config.strategy.learningRate,
        l2: config.strategy.l2,
        warmupSamples: config.strategy.warmupSamples,
        cooldownMs: config.strategy.cooldownMs,
      });
    this.execution =
      options.execution ??
      new PaperExecution({
        book: (symbol) => {
          const vb = this.books.get(symbol);
          return vb?.isSynced() ? vb.book : undefined;
        },
        latencyMs: config.execution.latencyMs,
        clock: this.clock,
        makerFeeBps: config.execution.makerFeeBps,
        takerFeeBps: config.execution.takerFeeBps,
      });
    this.execution.onEvent((e) => this.onExecutionEvent(e));
    this.ids = new ClientOrderIdGenerator(config.instanceId);
    const rec = () => new LatencyRecorder(16_384);
    this.latency = {
      exchangeToReceive: rec(),
      decode: rec(),
      book: rec(),
      strategy: rec(),
      risk: rec(),
      journal: rec(),
      tickToDecision: rec(),
      tickToJournaled: rec(),
      orderToFill: rec(),
    };
  }

  /**
   * Runs `work` (which journals, then applies) unless the journal refuses appends; then, or when `work` finds it
   * refusing, `work` is held and run, in order, once the journal accepts again. Write-then-apply holds either way.
   */
  private durably(work: () => void): void {
    if (this.journalDown === undefined) {
      try {
        work();
        return;
      } catch (e) {
        this.journalFailed(e);
      }
    }
    this.held.push(work);
  }

  /**
   * The journal refused an append: stop opening positions (new orders are refused, resting ones cancelled, since
   * their fills could not be journaled either), keep cancels and execution events in order, and retry with
   * backoff. Anything but a journal write error is rethrown.
   */
  private journalFailed(e: unknown): void {
    if (!isJournalWriteError(e)) throw e;
    this.counters.journalFailures++;
    if (this.journalRetry !== undefined || this.closed) return;
    this.journalRetryMs = JOURNAL_RETRY_MIN_MS;
    this.scheduleJournalRetry();
    this.cancelAll(`journal unavailable: ${(e as Error).message}`);
  }

  private scheduleJournalRetry(): void {
    this.journalRetry = setTimeout(() => this.retryJournal(), this.journalRetryMs);
    this.journalRetry.unref();
  }

  /** Writes a `journal.recovered` entry as the probe, then the held entries in order. */
  private retryJournal(): void {
    this.journalRetry = undefined;
    if (this.closed) return;
    const down = this.journal.failure;
    try {
      if (down !== undefined) {
        this.record('journal.recovered', {
          downSince: new Date(down.since).toISOString(),
          reason: down.reason,
          held: this.held.length,
        });
      }
      while (this.held.length > 0) {
        try {
          (this.held[0] as () => void)();
        } catch (e) {
          if (isJournalWriteError(e)) throw e;
          // An event that no longer applies (its order moved on meanwhile) is dropped, as it would have been live.
          this.counters.invalidEvents++;
        }
        this.held.shift();
      }
    } catch (e) {
      if (!isJournalWriteError(e)) throw e;
      this.counters.journalFailures++;
      this.journalRetryMs = Math.min(JOURNAL_RETRY_MAX_MS, this.journalRetryMs * 2);
      this.scheduleJournalRetry();
    }
  }

  /** Why the journal refuses appends (no new orders meanwhile), or `undefined` when it accepts them. */
  get journalDown(): { since: number; reason: string; held: number } | undefined {
    const f = this.journal.failure;
    if (f === undefined && this.held.length === 0) return undefined;
    return { since: f?.since ?? this.clock.now(), reason: f?.reason ?? 'writing held entries', held: this.held.length };
  }

  /** Registers a listener for every applied journal entry (live only, not replay). */
  onEntry(listener: (entry: JournalEntry) => void): void {
    this.listeners.push(listener);
  }

  /** The current trading state. */
  get state(): TradingState {
    return this.killSwitch.state;
  }

  // ---------------------------------------------------------------- journal: write, then apply

  private record<K extends JournalEventType>(type: K, data: JournalEvents[K]): JournalEntry<JournalEvents[K]> {
    const entry = this.journal.append(type, data, this.clock.now());
    this.apply(entry);
    for (const l of this.listeners) l(entry);
    if (this.journal.rotationDue && !this.rotating) this.rotateJournal();
    return entry;
  }

  /**
   * Starts a new journal segment whose first entry is a snapshot of the state after the last entry: a start then
   * replays this segment only. A rotation that fails leaves the journal appending to its segment (counted; it is
   * tried again after the next entry); a snapshot the journal refuses is a journal failure like any other (the
   * segment then begins without one and a start reads back to the previous snapshot).
   */
  private rotateJournal(): void {
    this.rotating = true;
    try {
      const snapshot = this.exportSnapshot();
      if (!this.journal.rotate()) return;
      this.counters.journalRotations++;
      this.record(SNAPSHOT_ENTRY as 'journal.snapshot', snapshot);
    } catch (e) {
      if (isTraderError(e) && e.field === 'journal.rotate') this.counters.journalRotationFailures++;
      else this.journalFailed(e);
    } finally {
      this.rotating = false;
    }
  }

  /** The state a `journal.snapshot` entry carries: what a replay of every entry so far would rebuild. */
  exportSnapshot(): EngineSnapshot {
    const net = this.portfolio.totals().net;
    return {
      v: 1,
      origin: Journal.origin(this.journal.path),
      openOrders: [...this.orders.openOrders()].map((o) => ({
        order: { ...o },
        fillIds: [...this.orders.fillIdsOf(o.clientOrderId)],
      })),
      idCounter: this.ids.last,
      orders: this.orders.size,
      portfolio: this.portfolio.toJSON(),
      trading: { state: this.killSwitch.state, reason: this.killSwitch.reason },
      day: { date: new Date(this.clock.now()).toISOString().slice(0, 10), baseline: net - this.risk.dailyPnl(net) },
      pendingCancel: [...this.pendingCancel],
      strategy: this.strategyEntry,
    };
  }

  /** Replaces the state with a snapshot's (replay only). @throws TraderError `E_TRADER_JOURNAL` for another version. */
  private restoreSnapshot(s: EngineSnapshot): void {
    if (s?.v !== 1 || !Array.isArray(s.openOrders))
      throw new TraderError('E_TRADER_JOURNAL', 'journal snapshot: unknown version', { field: 'journal.snapshot' });
    const orders = new OrderBookkeeper();
    for (const o of s.openOrders) orders.restore(o.order as Order, o.fillIds);
    this.orders = orders;
    this.ids.advancePast(ClientOrderIdGenerator.format(this.ids.instanceId, s.idCounter));
    this.portfolio = Portfolio.fromJSON(s.portfolio as PortfolioState);
    this.killSwitch.restore(s.trading.state, s.trading.reason);
    this.pendingCancel.clear();
    for (const id of s.pendingCancel) this.pendingCancel.add(id);
    this.snapshotDay = s.day;
    this.strategyEntry = s.strategy;
    this.replayedStrategyState = s.strategy?.strategy === this.strategy.name ? s.strategy : undefined;
  }

  /** Applies one entry to the in-memory state (live and replay). */
  private apply(entry: JournalEntry): void {
    const now = entry.ts;
    switch (entry.type as JournalEventType) {
      case 'order.submitted': {
        const d = entry.data as JournalEvents['order.submitted'];
        const intent: OrderIntent = {
          symbol: d.symbol,
          side: d.side,
          type: d.type,
          qty: d.qty,
          ...(d.price === undefined ? {} : { price: d.price }),
        };
        this.orders.create(d.clientOrderId, intent, now);
        this.ids.advancePast(d.clientOrderId);
        break;
      }
      case 'order.accepted':
        this.orders.transition((entry.data as JournalEvents['order.accepted']).clientOrderId, 'accepted', now);
        break;
      case 'order.rejected': {
        const d = entry.data as JournalEvents['order.rejected'];
        this.orders.transition(d.clientOrderId, 'rejected', now, d.reason);
        break;
      }
      case 'order.cancel_requested':
        this.pendingCancel.add((entry.data as JournalEvents['order.cancel_requested']).clientOrderId);
        break;
      case 'order.cancelled': {
        const d = entry.data as JournalEvents['order.cancelled'];
        this.orders.transition(d.clientOrderId, 'cancelled', now);
        this.pendingCancel.delete(d.clientOrderId);
        break;
      }
      case 'fill': {
        const fill = entry.data as Fill;
        if (this.orders.applyFill(fill)) this.portfolio.applyFill(fill);
        break;
      }
      case 'risk.state': {
        const d = entry.data as JournalEvents['risk.state'];
        if (this.replaying) this.killSwitch.restore(d.to, d.reason);
        break;
      }
      case 'strategy.state': {
        // Only the last one counts: restored once, after the replay (a live one is the strategy's own state).
        const d = entry.data as JournalEvents['strategy.state'];
        this.strategyEntry = d;
        if (this.replaying && d.strategy === this.strategy.name) this.replayedStrategyState = d;
        break;
      }
      case 'journal.snapshot':
        if (this.replaying) this.restoreSnapshot(entry.data as EngineSnapshot);
        break;
      default:
        break;
    }
  }

  /**
   * Replays journal entries (from {@link Journal.open}) and reconciles the orders still open when the process died,
   * as the execution client's venue requires: journaled as cancelled when its state died with the process
   * (`venueStateSurvivesRestart === false`, the paper venue), else handed to its `reconcile`, whose events are
   * journaled as they come. `reconcile: false` only rebuilds the state (audits, tests). Call before {@link start}.
   */
  replay(entries: readonly JournalEntry[], options: { reconcile?: boolean } = {}): ReplayReport {
    this.replaying = true;
    let skipped = 0;
    const today = new Date(this.clock.now()).toISOString().slice(0, 10);
    const midnight = Date.parse(`${today}T00:00:00Z`);
    let baseline: number | undefined;
    try {
      for (const e of entries) {
        const snapshot = e.type === SNAPSHOT_ENTRY;
        if (baseline === undefined && e.ts >= midnight && !snapshot) baseline = this.portfolio.totals().net;
        try {
          this.apply(e);
        } catch (err) {
          if (!isTraderError(err)) throw err;
          skipped++;
        }
        // A snapshot carries the day's baseline it had; one of an earlier day leaves it to the entries after it.
        if (snapshot && this.snapshotDay !== undefined)
          baseline = this.snapshotDay.date === today ? this.snapshotDay.baseline : undefined;
      }
    } finally {
      this.replaying = false;
    }
    const strategyState = this.replayedStrategyState;
    this.replayedStrategyState = undefined;
    let strategyRestored = false;
    if (strategyState !== undefined && this.strategy.importState !== undefined) {
      try {
        this.strategy.importState(strategyState.state);
        strategyRestored = true;
      } catch (err) {
        // A state this strategy cannot take (another version, other options): it warms up again.
        if (!isTraderError(err)) throw err;
        skipped++;
      }
    }
    // The daily loss limit counts from the PnL at UTC midnight, also across restarts.
    this.risk.setDayBaseline(baseline ?? this.portfolio.totals().net, today);
    if (!this.execution.venueStateSurvivesRestart) this.portfolio.excludeRestartJumps();
    let reconciledCancelled = 0;
    let reconciledByVenue = 0;
    const open = options.reconcile === false ? [] : [...this.orders.openOrders()];
    if (open.length > 0 && !this.execution.venueStateSurvivesRestart) {
      for (const o of open) {
        this.durably(() =>
          this.record('order.cancelled', {
            clientOrderId: o.clientOrderId,
            reason: 'reconciled on restart: venue state lost',
          }),
        );
        reconciledCancelled++;
      }
    } else if (open.length > 0 && this.execution.reconcile !== undefined) {
      this.execution.reconcile(open);
      reconciledByVenue = open.length;
    }
    return {
      entries: entries.length,
      orders: this.orders.size,
      fills: this.portfolio.totals().fills,
      lastSeq: this.journal.lastSeq,
      reconciledCancelled,
      reconciledByVenue,
      skipped,
      strategyRestored,
    };
  }

  /** Starts the periodic work: risk rules, limit-order expiry. Journals a session start. */
  start(): void {
    const startedAt = new Date(this.clock.now()).toISOString();
    // On a full disk the engine starts refusing orders (health says why) instead of failing to start.
    this.durably(() => this.record('session.start', { instanceId: this.config.instanceId, pid: this.pid, startedAt }));
    this.timers = [
      this.clock.setInterval(() => this.evaluateRisk(), 100),
      this.clock.setInterval(() => this.expireOrders(), 100),
      this.clock.setInterval(() => this.watchBooks(), Math.max(50, Math.min(250, this.bookStaleMs / 4))),
    ];
    if (this.strategyStateMs > 0 && this.strategy.exportState !== undefined)
      this.timers.push(this.clock.setInterval(() => this.journalStrategyState(), this.strategyStateMs));
  }

  /**
   * Journals the strategy's learned state when it changed since the last one. Skipped while the journal refuses
   * appends (it is no state change: nothing waits for it) and once decisions stopped.
   */
  journalStrategyState(): boolean {
    const exportState = this.strategy.exportState;
    if (exportState === undefined || this.closed || this.decisionsStopped || this.journalDown !== undefined)
      return false;
    const state = exportState.call(this.strategy);
    const text = JSON.stringify(state);
    if (text === this.lastStrategyState) return false;
    try {
      this.record('strategy.state', { strategy: this.strategy.name, state });
    } catch (e) {
      this.journalFailed(e);
      return false;
    }
    this.lastStrategyState = text;
    return true;
  }

  /**
   * The book watchdog: a synced book with no depth update for `bookStaleMs` while trades keep arriving is frozen,
   * and resynced; a desynced book whose snapshot has not come is asked again.
   */
  private watchBooks(): void {
    const now = this.clock.now();
    for (const [symbol, vb] of this.books) {
      const w = this.watch.get(symbol) as BookWatch;
      if (vb.isSynced()) {
        if (w.tradesSinceDepth >= STALE_BOOK_MIN_TRADES && now - w.depthAt > this.bookStaleMs) {
          this.desync(
            symbol,
            `frozen: no depth update for ${now - w.depthAt} ms while ${w.tradesSinceDepth} trades arrived`,
          );
        }
      } else if (this.desynced.has(symbol) && now - w.requestedAt > this.bookStaleMs) {
        w.requestedAt = now;
        this.requestSnapshot(symbol);
      }
    }
  }

  /**
   * Takes a book out of sync because it no longer follows its venue: no decisions on it (its diffs are ignored
   * until a snapshot), its resting orders cancelled (they were priced from it), and a snapshot requested.
   */
  private desync(symbol: string, reason: string): void {
    const vb = this.books.get(symbol);
    if (vb === undefined || !vb.isSynced()) return;
    vb.invalidate();
    this.counters.desyncs++;
    const now = this.clock.now();
    this.desynced.set(symbol, { since: now, reason });
    const w = this.watch.get(symbol) as BookWatch;
    w.requestedAt = now;
    w.outside = 0;
    for (const o of [...this.orders.openOrders()]) {
      if (o.symbol === symbol) this.cancel(o.clientOrderId, `book out of sync: ${reason}`);
    }
    this.requestSnapshot(symbol);
  }

  /** Books out of sync that the engine took out itself, with why and since when (a gap's are not listed). */
  outOfSync(): ReadonlyMap<string, BookDesync> {
    return this.desynced;
  }

  /** A book is in sync again (snapshot): it follows its venue from here. */
  private resynced(symbol: string): void {
    this.desynced.delete(symbol);
    const w = this.watch.get(symbol);
    if (w !== undefined) {
      w.depthAt = this.clock.now();
      w.tradesSinceDepth = 0;
      w.outside = 0;
    }
  }

  private evaluateRisk(): void {
    for (const [symbol, vb] of this.books) if (vb.isSynced()) this.portfolio.mark(symbol, vb.book.mid());
    const t = this.portfolio.totals();
    this.risk.evaluate(t.net, t.drawdown, this.clock.now());
  }

  private expireOrders(): void {
    const now = this.clock.now();
    const ttl = this.config.strategy.limitOrderTtlMs;
    for (const o of [...this.orders.openOrders()]) {
      if (o.type === 'limit' && now - o.createdAt >= ttl && !this.pendingCancel.has(o.clientOrderId)) {
        this.cancel(o.clientOrderId, 'expired');
      }
    }
  }

  // ---------------------------------------------------------------- market data

  /**
   * Feeds a normalized market event received at `recvTs` (the clock's monotonic time: `performance.now()` live): a
   * diff or in-stream snapshot is applied to its book (and the strategy decides on an applied diff), a trade goes to
   * the strategy and the execution client, a gap invalidates books until their next snapshot.
   */
  onMarketEvent(ev: MarketEvent, recvTs = this.clock.monotonic()): void {
    if (ev.kind === 'gap') {
      this.onGap(ev);
      return;
    }
    const vb = this.books.get(ev.symbol);
    if (vb === undefined) return;
    this.lastEventAt.set(ev.symbol, this.clock.now());
    const w = this.watch.get(ev.symbol) as BookWatch;
    if (ev.kind === 'trade') {
      this.counters.tradeEvents++;
      w.tradesSinceDepth++;
      if (vb.isSynced()) {
        const book = vb.book;
        const bid = book.bestBid();
        const ask = book.bestAsk();
        const outside =
          (ask !== undefined && ev.price > ask * (1 + OUTSIDE_BOOK_MARGIN)) ||
          (bid !== undefined && ev.price < bid * (1 - OUTSIDE_BOOK_MARGIN));
        w.outside = outside ? w.outside + 1 : 0;
        if (w.outside >= OUTSIDE_BOOK_TRADES) {
          this.desync(
            ev.symbol,
            `${w.outside} trades in a row outside the book (last ${ev.price}; bid ${bid}, ask ${ask})`,
          );
        }
      }
      if (!this.decisionsStopped) this.strategy.onTrade?.(ev);
      this.execution.onMarketEvent?.(ev);
      return;
    }
    this.counters.bookEvents++;
    this.latency.exchangeToReceive.record(Math.max(0, this.clock.now() - ev.exchTs));
    const t0 = this.clock.monotonic();
    if (ev.snapshot) {
      vb.applySnapshotEvent(ev);
      this.resynced(ev.symbol);
      this.latency.book.record(this.clock.monotonic() - t0);
      this.counters.snapshots++;
      this.execution.onMarketEvent?.(ev);
      return;
    }
    const result = vb.applyDiff(ev);
    this.latency.book.record(this.clock.monotonic() - t0);
    if (result === 'stale') {
      this.counters.stale++;
      return;
    }
    if (result === 'unsynced') {
      this.counters.unsynced++;
      return;
    }
    if (result === 'backwards') {
      this.counters.stale++;
      this.desync(ev.symbol, `sequence went backwards: update ${ev.lastSeq} after ${vb.book.lastUpdateId}`);
      return;
    }
    w.depthAt = this.clock.now();
    w.tradesSinceDepth = 0;
    this.execution.onMarketEvent?.(ev);
    this.decide(ev.symbol, vb, recvTs);
  }

  private onGap(ev: GapEvent): void {
    for (const [symbol, vb] of this.books) {
      if (ev.symbol !== undefined && ev.symbol !== symbol) continue;
      vb.invalidate();
      this.counters.gaps++;
      this.requestSnapshot(symbol);
    }
  }

  /**
   * Applies a snapshot the data client fetched. A snapshot for a book already in sync is ignored (it would only
   * move it back in time) unless `force` (the client resynced because it saw a gap). Returns true: the book never
   * needs another one to connect, since the client hands over diffs only after their snapshot.
   */
  onSnapshot(symbol: string, snapshot: BookSnapshot, force = false): boolean {
    const vb = this.books.get(symbol);
    if (vb === undefined || (vb.isSynced() && !force)) return true;
    vb.applySnapshot(snapshot);
    this.resynced(symbol);
    this.counters.snapshots++;
    return true;
  }

  /** True when a symbol's book is in sync. */
  isSynced(symbol: string): boolean {
    return this.books.get(symbol)?.isSynced() ?? false;
  }

  /**
   * Stops consulting the strategy (no more decisions, no more trades fed to it) and refuses new orders, for
   * shutdown: stop deciding, then {@link cancelAll}, then drain. Cancels, books and execution events still work.
   * Irreversible.
   */
  stopDecisions(): void {
    this.decisionsStopped = true;
  }

  private decide(symbol: string, vb: VenueBook, recvTs: number): void {
    if (this.closed || this.decisionsStopped || this.held.length > 0 || this.journal.failure !== undefined) return;
    const t0 = this.clock.monotonic();
    const intent = this.strategy.onBook({
      symbol,
      book: vb.book,
      position: this.portfolio.position(symbol),
      openQty: this.orders.openQty(symbol),
      now: t0,
    });
    const t1 = this.clock.monotonic();
    this.latency.strategy.record(t1 - t0);
    this.counters.decisions++;
    if (intent === undefined) {
      this.latency.tickToDecision.record(t1 - recvTs);
      return;
    }
    this.submit(intent, recvTs);
  }

  /**
   * Submits an intent through risk (strategy or operator). Returns the order, or the rejection reason; after
   * {@link stopDecisions} every intent is rejected.
   */
  submit(requested: OrderIntent, recvTs = this.clock.monotonic()): Order | { rejected: string } {
    if (this.decisionsStopped) return { rejected: 'stopped: the engine is shutting down' };
    const adjusted = this.execution.adjustIntent?.(requested) ?? requested;
    if ('rejected' in adjusted) {
      this.counters.riskRejected++;
      return { rejected: `venue rules: ${adjusted.rejected}` };
    }
    const intent = adjusted;
    const down = this.journalDown;
    if (down !== undefined) {
      this.counters.journalRejected++;
      return { rejected: `journal: appends fail (${down.reason}); no new orders until the journal accepts them` };
    }
    const vb = this.books.get(intent.symbol);
    if (vb !== undefined && !vb.isSynced()) {
      this.counters.riskRejected++;
      return { rejected: `book: ${intent.symbol} is out of sync with its venue; no new orders on it until it resyncs` };
    }
    this.counters.intents++;
    const t1 = this.clock.monotonic();
    const price = intent.price ?? (intent.side === 'buy' ? vb?.book.bestAsk() : vb?.book.bestBid()) ?? Number.NaN;
    const verdict = this.risk.check(intent, {
      position: this.portfolio.position(intent.symbol),
      openQty: this.orders.openQty(intent.symbol),
      price,
      now: this.clock.now(),
    });
    const t2 = this.clock.monotonic();
    this.latency.risk.record(t2 - t1);
    this.latency.tickToDecision.record(t2 - recvTs);
    if (!verdict.ok) {
      this.counters.riskRejected++;
      return { rejected: `${verdict.code}: ${verdict.reason}` };
    }
    const clientOrderId = this.ids.next();
    try {
      this.record('order.submitted', {
        clientOrderId,
        symbol: intent.symbol,
        side: intent.side,
        type: intent.type,
        qty: intent.qty,
        ...(intent.price === undefined ? {} : { price: intent.price }),
        ...(intent.reason === undefined ? {} : { reason: intent.reason }),
      });
    } catch (e) {
      // Not journaled, so never sent; the id stays unused (ids only need to be unique, not dense).
      this.journalFailed(e);
      this.counters.journalRejected++;
      return { rejected: `journal: ${(e as Error).message}` };
    }
    const t3 = this.clock.monotonic();
    this.latency.journal.record(t3 - t2);
    this.latency.tickToJournaled.record(t3 - recvTs);
    this.counters.ordersSubmitted++;
    this.submittedAt.set(clientOrderId, t3);
    const order = this.orders.get(clientOrderId) as Order;
    this.execution.submit(order);
    return order;
  }

  /**
   * Requests a cancel (journaled); ignored for unknown or finished orders. While the journal refuses appends the
   * cancel still goes out (reducing risk never waits for the disk) and its entry is held until it can be written.
   */
  cancel(clientOrderId: string, reason: string): boolean {
    const o = this.orders.get(clientOrderId);
    if (!o || !canTransition(o.status, 'cancelled') || this.pendingCancel.has(clientOrderId)) return false;
    const request = () => this.record('order.cancel_requested', { clientOrderId, reason });
    if (this.journalDown === undefined) {
      try {
        request();
        this.execution.cancel(clientOrderId);
        return true;
      } catch (e) {
        this.journalFailed(e);
      }
    }
    this.pendingCancel.add(clientOrderId);
    this.held.push(request);
    this.execution.cancel(clientOrderId);
    return true;
  }

  /** Cancels every open order. */
  cancelAll(reason: string): number {
    let n = 0;
    for (const o of [...this.orders.openOrders()]) if (this.cancel(o.clientOrderId, reason)) n++;
    return n;
  }

  /** Journals a live venue's reconciliation report (its fills came before it as ordinary execution events). */
  recordVenueReconciliation(report: JournalEvents['venue.reconciled']): void {
    if (this.closed) return;
    this.durably(() => this.record('venue.reconciled', report));
  }

  /** Operator: sets the kill switch (RUNNING releases it). */
  setTradingState(state: TradingState, reason: string): void {
    this.killSwitch.set(state, reason, this.clock.now());
  }

  /** Execution events are journaled in the order they came, also when some had to wait for the journal. */
  private onExecutionEvent(e: ExecutionEvent): void {
    if (this.closed) return;
    this.durably(() => this.applyExecutionEvent(e));
  }

  private applyExecutionEvent(e: ExecutionEvent): void {
    const id = e.type === 'fill' ? e.fill.clientOrderId : e.clientOrderId;
    const o = this.orders.get(id);
    if (!o) {
      this.counters.invalidEvents++;
      return;
    }
    switch (e.type) {
      case 'accepted':
        if (!canTransition(o.status, 'accepted')) break;
        this.record('order.accepted', { clientOrderId: id });
        return;
      case 'rejected':
        if (!canTransition(o.status, 'rejected')) break;
        this.record('order.rejected', { clientOrderId: id, reason: e.reason });
        this.counters.venueRejected++;
        this.submittedAt.delete(id);
        return;
      case 'cancelled':
        if (!canTransition(o.status, 'cancelled')) break;
        this.record('order.cancelled', { clientOrderId: id, reason: e.reason });
        this.counters.cancelled++;
        this.submittedAt.delete(id);
        return;
      case 'fill': {
        if (this.orders.hasFill(e.fill.fillId) || o.filledQty + e.fill.qty > o.qty + 1e-9) break;
        if (o.status !== 'accepted' && o.status !== 'partially_filled') break;
        const sentAt = this.submittedAt.get(id);
        const firstFill = o.filledQty === 0;
        this.record('fill', e.fill);
        if (sentAt !== undefined && firstFill) this.latency.orderToFill.record(this.clock.monotonic() - sentAt);
        this.counters.fills++;
        if (this.orders.get(id)?.status === 'filled') this.submittedAt.delete(id);
        return;
      }
    }
    this.counters.invalidEvents++;
  }

  // ---------------------------------------------------------------- reporting

  /** Engine counters, trading state, PnL totals and stage latency percentiles (ms). */
  stats(): Record<string, unknown> {
    const lat: Record<string, Record<string, number>> = {};
    for (const [k, r] of Object.entries(this.latency)) lat[k] = (r as LatencyRecorder).percentiles([50, 99, 99.9]);
    const books: Record<string, unknown> = {};
    for (const [s, vb] of this.books) {
      books[s] = {
        synced: vb.isSynced(),
        ...(this.desynced.has(s) ? { outOfSync: this.desynced.get(s) } : {}),
        lastUpdateId: vb.book.lastUpdateId,
        mid: vb.book.mid(),
        ...vb.counters,
      };
    }
    return {
      state: this.killSwitch.state,
      stateReason: this.killSwitch.reason,
      counters: { ...this.counters },
      orders: this.orders.size,
      journalSeq: this.journal.lastSeq,
      ...(this.journalDown === undefined ? {} : { journalDown: this.journalDown }),
      pnl: this.portfolio.totals(),
      books,
      latencyMs: lat,
      strategy: this.strategy.stats(),
      risk: this.risk.stats(),
    };
  }

  /** Stops timers and the execution client; idempotent. Does not close the journal (the owner does). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const cancel of this.timers) cancel();
    if (this.journalRetry !== undefined) clearTimeout(this.journalRetry);
    await this.execution.close();
  }
}
