import { TraderError } from '../../errors.js';
import type { ExecutionClient, ExecutionEvent } from '../../model/execution-client.js';
import type { Order, OrderIntent } from '../../model/types.js';
import { type BinanceSpotApi, floorToStep, roundToStep, type SymbolRules, type VenueOrder } from './binance-api.js';
import {
  fillFromTrade,
  type JournalView,
  journalPositions,
  lastJournalFillTs,
  type ReconcileDifference,
  type ReconcileReport,
  type ReconcileTrigger,
  type VenueTrade,
} from './reconcile.js';
import { BinanceApiError } from './rest-client.js';
import type { BinanceUserDataStream, ExecutionReport, UserDataEvent } from './user-data-stream.js';

/** Options of {@link BinanceLiveExecution}. */
export interface BinanceLiveExecutionOptions {
  /** Signed REST calls. */
  api: BinanceSpotApi;
  /** The account's user data stream (not started yet: {@link BinanceLiveExecution.start} starts it). */
  userData: BinanceUserDataStream;
  /** The symbols traded (exchangeInfo, open orders and trades are read for these). */
  symbols: readonly string[];
  /** The journal's state (the engine's order bookkeeper), read during reconciliation. */
  journal: () => JournalView;
  /** Every reconciliation's report (journal it, count it, log it). */
  onReconciled?: (report: ReconcileReport) => void;
  /** Clock (epoch ms). @default Date.now */
  now?: () => number;
  /** Without a journaled fill for a symbol, the trade history read at start goes back this far. @default 3600000 */
  lookbackMs?: number;
  /** The trade history is read from this long before the journal's last fill (clock skew, late journal writes). @default 5000 */
  marginMs?: number;
  /**
   * Delay before the state of an order whose placement had no answer is queried, and before a failed reconciliation
   * is retried. Longer than the `recvWindow` (5 s) by default: a placement still in flight after it is refused by the
   * venue, so "does not exist" then means it never will. @default 6000
   */
  unknownOutcomeCheckMs?: number;
  /** Retry interval while exchangeInfo cannot be loaded. @default 5000 */
  rulesRetryMs?: number;
}

interface Tracked {
  symbol: string;
  orderId: number | undefined;
  /** `accepted` reported to the engine. */
  accepted: boolean;
  /** The placement request has not been answered yet (a reconciliation must not take it for a lost order). */
  placing: boolean;
  /** `cancelled` or `rejected` reported. */
  closed: boolean;
  /** Trade ids reported as fills. */
  trades: Set<number>;
}

const DAY_MS = 86_400_000;
const OPEN_STATUSES = new Set(['NEW', 'PARTIALLY_FILLED', 'PENDING_CANCEL']);

/**
 * Live execution on Binance spot. Orders go out as signed `POST /api/v3/order` (client order id = the trader's), with
 * quantity and price put on the symbol's LOT_SIZE / PRICE_FILTER steps (`adjustIntent`) and refused below the
 * minimum quantity or notional; cancels as `DELETE /api/v3/order`. Outcomes come from the user data stream
 * (`executionReport`: NEW → accepted, TRADE → fill, CANCELED / EXPIRED → cancelled, REJECTED → rejected), and from the
 * REST answers. A fill's id is `<clientOrderId>-t<tradeId>`, so a trade reported twice (stream and reconciliation)
 * is one fill. The venue keeps its orders across our restarts ({@link venueStateSurvivesRestart}); after every
 * subscription of the user data stream (start and every reconnect) the adapter reconciles: open orders, the trades
 * since the journal's last fill and the balances are compared with the journal, fills the journal lacks are reported
 * (once, by trade id), orders the venue closed are closed, and the report goes to `onReconciled`.
 */
export class BinanceLiveExecution implements ExecutionClient {
  readonly name = 'binance';
  readonly venueStateSurvivesRestart = true;
  private readonly listeners: ((e: ExecutionEvent) => void)[] = [];
  private rules = new Map<string, SymbolRules>();
  private readonly tracked = new Map<string, Tracked>();
  /** `<symbol>:<orderId>` → client order id. */
  private readonly byOrderId = new Map<string, string>();
  /** Orders handed over by the engine's replay, reconciled on the first subscription. */
  private readonly restartOpen = new Set<string>();
  private downSince: number | undefined;
  private readonly startedAt: number;
  private reconcileRun: Promise<void> | undefined;
  private reconcileAgain: ReconcileTrigger | undefined;
  private readonly timers = new Set<NodeJS.Timeout>();
  /** Base-asset balances and journal positions at the first reconciliation (the comparison's baseline). */
  private baseline: { balances: Record<string, number>; positions: Map<string, number> } | undefined;
  private closed = false;
  private readonly now: () => number;
  readonly counters = {
    submitted: 0,
    rejectedByRules: 0,
    rejectedByVenue: 0,
    cancels: 0,
    cancelsRefused: 0,
    unknownOutcomes: 0,
    fillsFromStream: 0,
    fillsFromReconcile: 0,
    duplicateTrades: 0,
    feesInOtherAssets: 0,
    reconciliations: 0,
    reconcileFailures: 0,
    reconcileDifferences: 0,
    rulesLoadFailures: 0,
  };

  constructor(private readonly options: BinanceLiveExecutionOptions) {
    if (!Array.isArray(options.symbols) || options.symbols.length === 0)
      throw new TraderError('E_TRADER_INVALID_OPTION', 'symbols must be a non-empty array', { field: 'symbols' });
    this.now = options.now ?? Date.now;
    this.startedAt = this.now();
    options.userData.onEvent((e) => this.onUserData(e));
    options.userData.onSubscribed(({ reconnect }) => this.requestReconcile(reconnect ? 'reconnect' : 'start'));
    options.userData.onDown((at) => {
      this.downSince ??= at;
    });
  }

  /**
   * Loads the symbols' trading rules and opens the user data stream (its first subscription reconciles). A failing
   * exchangeInfo does not fail the start: orders are refused until a retry loads the rules.
   */
  async start(): Promise<void> {
    await this.loadRules();
    this.options.userData.start();
  }

  private async loadRules(): Promise<void> {
    try {
      this.rules = await this.options.api.exchangeInfo(this.options.symbols);
    } catch {
      this.counters.rulesLoadFailures++;
      this.later(() => void this.loadRules(), this.options.rulesRetryMs ?? 5_000);
    }
  }

  /** Whether trading rules are loaded (orders are refused until they are). */
  get ready(): boolean {
    return this.rules.size > 0;
  }

  onEvent(listener: (event: ExecutionEvent) => void): void {
    this.listeners.push(listener);
  }

  private emit(e: ExecutionEvent): void {
    if (this.closed) return;
    for (const l of this.listeners) l(e);
  }

  private later(fn: () => void, ms: number): void {
    if (this.closed) return;
    const t = setTimeout(() => {
      this.timers.delete(t);
      if (!this.closed) fn();
    }, ms);
    t.unref?.();
    this.timers.add(t);
  }

  private track(clientOrderId: string, symbol: string): Tracked {
    let t = this.tracked.get(clientOrderId);
    if (t === undefined) {
      t = { symbol, orderId: undefined, accepted: false, placing: false, closed: false, trades: new Set() };
      this.tracked.set(clientOrderId, t);
    }
    return t;
  }

  private learnOrderId(clientOrderId: string, symbol: string, orderId: number): void {
    this.track(clientOrderId, symbol).orderId = orderId;
    this.byOrderId.set(`${symbol}:${orderId}`, clientOrderId);
  }

  private accept(clientOrderId: string, symbol: string): void {
    const t = this.track(clientOrderId, symbol);
    if (t.accepted || t.closed) return;
    t.accepted = true;
    this.emit({ type: 'accepted', clientOrderId, ts: this.now() });
  }

  private finish(clientOrderId: string, symbol: string, type: 'cancelled' | 'rejected', reason: string): void {
    const t = this.track(clientOrderId, symbol);
    if (t.closed) return;
    t.closed = true;
    this.emit({ type, clientOrderId, reason, ts: this.now() });
  }

  /** Reports a trade of one of our orders as a fill, once per trade id. Returns whether it was new. */
  private fill(order: Readonly<Order>, trade: VenueTrade): boolean {
    const t = this.track(order.clientOrderId, order.symbol);
    if (t.trades.has(trade.id)) {
      this.counters.duplicateTrades++;
      return false;
    }
    t.trades.add(trade.id);
    const rules = this.rules.get(order.symbol);
    const { fill, feeInOtherAsset } = fillFromTrade(order, trade, {
      base: rules?.baseAsset ?? '',
      quote: rules?.quoteAsset ?? '',
    });
    if (feeInOtherAsset) this.counters.feesInOtherAssets++;
    if (!t.accepted) this.accept(order.clientOrderId, order.symbol);
    this.emit({ type: 'fill', fill });
    return true;
  }

  // ---------------------------------------------------------------- orders

  adjustIntent(intent: Readonly<OrderIntent>): OrderIntent | { rejected: string } {
    const rules = this.rules.get(intent.symbol);
    if (rules === undefined) return { rejected: `no trading rules for ${intent.symbol} (exchangeInfo not loaded)` };
    const qty = Number(floorToStep(intent.qty, rules.stepSize));
    if (!(qty > 0) || qty < rules.minQty)
      return { rejected: `quantity ${intent.qty} is below LOT_SIZE minQty ${rules.minQty} (step ${rules.stepSize})` };
    let price = intent.price;
    if (intent.type === 'limit' && intent.price !== undefined)
      price = Number(roundToStep(intent.price, rules.tickSize));
    if (price !== undefined && rules.minNotional > 0 && price * qty < rules.minNotional)
      return { rejected: `notional ${price * qty} is below NOTIONAL minNotional ${rules.minNotional}` };
    return { ...intent, qty, ...(price === undefined ? {} : { price }) };
  }

  submit(order: Readonly<Order>): void {
    const rules = this.rules.get(order.symbol);
    this.track(order.clientOrderId, order.symbol);
    if (rules === undefined) {
      this.counters.rejectedByRules++;
      queueMicrotask(() => this.finish(order.clientOrderId, order.symbol, 'rejected', 'exchangeInfo not loaded'));
      return;
    }
    this.counters.submitted++;
    const tracked = this.track(order.clientOrderId, order.symbol);
    tracked.placing = true;
    const params = {
      symbol: order.symbol,
      side: order.side === 'buy' ? ('BUY' as const) : ('SELL' as const),
      type: order.type === 'limit' ? ('LIMIT' as const) : ('MARKET' as const),
      quantity: floorToStep(order.qty, rules.stepSize),
      ...(order.type === 'limit' ? { price: roundToStep(order.price as number, rules.tickSize) } : {}),
      newClientOrderId: order.clientOrderId,
    };
    this.options.api.newOrder(params).then(
      (ack) => {
        tracked.placing = false;
        this.learnOrderId(order.clientOrderId, order.symbol, ack.orderId);
        this.accept(order.clientOrderId, order.symbol);
      },
      (error: unknown) => {
        tracked.placing = false;
        if (error instanceof BinanceApiError && !error.outcomeUnknown) {
          this.counters.rejectedByVenue++;
          this.finish(order.clientOrderId, order.symbol, 'rejected', venueReason(error));
          return;
        }
        // No answer or 5xx: the order may be live. Ask the venue later instead of guessing.
        this.counters.unknownOutcomes++;
        this.later(() => void this.checkOrder(order), this.options.unknownOutcomeCheckMs ?? 6_000);
      },
    );
  }

  cancel(clientOrderId: string): void {
    const t = this.tracked.get(clientOrderId);
    const order = this.options.journal().get(clientOrderId);
    const symbol = t?.symbol ?? order?.symbol;
    if (symbol === undefined) return;
    this.counters.cancels++;
    this.options.api.cancelOrder(symbol, clientOrderId).then(
      (venue) => {
        this.learnOrderId(clientOrderId, symbol, venue.orderId);
        if (!OPEN_STATUSES.has(venue.status)) this.finish(clientOrderId, symbol, 'cancelled', 'cancel requested');
      },
      () => {
        // -2011 (unknown order: filled or never placed) or no answer: what happened is in the order's state.
        this.counters.cancelsRefused++;
        if (order !== undefined) void this.checkOrder(order);
      },
    );
  }

  /** Brings one order up to the venue's state: accepted, its fills, closed. */
  private async checkOrder(order: Readonly<Order>): Promise<ReconcileDifference[]> {
    const differences: ReconcileDifference[] = [];
    let venue: VenueOrder;
    try {
      venue = await this.options.api.getOrder(order.symbol, { origClientOrderId: order.clientOrderId });
    } catch (error) {
      if (error instanceof BinanceApiError && error.venueCode === -2013) {
        differences.push({ kind: 'not-found', clientOrderId: order.clientOrderId });
        this.finish(
          order.clientOrderId,
          order.symbol,
          'rejected',
          'unknown at the venue (-2013: order does not exist)',
        );
        return differences;
      }
      if (!this.closed && !(error instanceof BinanceApiError && error.status === 418))
        this.later(() => void this.checkOrder(order), this.options.unknownOutcomeCheckMs ?? 6_000);
      throw error;
    }
    await this.applyVenueOrder(order, venue, differences);
    return differences;
  }

  /** Applies a venue order's state to one journal order: accepted, missing fills (by trade id), closed. */
  private async applyVenueOrder(
    order: Readonly<Order>,
    venue: VenueOrder,
    differences: ReconcileDifference[],
  ): Promise<number> {
    this.learnOrderId(order.clientOrderId, order.symbol, venue.orderId);
    const journal = this.options.journal();
    if (order.status === 'submitted' && venue.status !== 'REJECTED') {
      differences.push({ kind: 'accepted', clientOrderId: order.clientOrderId });
    }
    if (venue.status !== 'REJECTED') this.accept(order.clientOrderId, order.symbol);
    let applied = 0;
    if (Number(venue.executedQty) > (journal.get(order.clientOrderId)?.filledQty ?? order.filledQty) + 1e-12) {
      const trades = await this.options.api.myTrades(order.symbol, { orderId: venue.orderId });
      for (const trade of trades) {
        const parsed = parseTrade(trade);
        const current = journal.get(order.clientOrderId) ?? order;
        const t = this.track(order.clientOrderId, order.symbol);
        if (t.trades.has(parsed.id) || journal.hasFill(`${order.clientOrderId}-t${parsed.id}`)) continue;
        if (current.status !== 'accepted' && current.status !== 'partially_filled' && current.status !== 'submitted') {
          differences.push({ kind: 'fill-on-closed-order', clientOrderId: order.clientOrderId, tradeId: parsed.id });
          continue;
        }
        if (this.fill(current, parsed)) {
          applied++;
          this.counters.fillsFromReconcile++;
          differences.push({
            kind: 'missing-fill',
            fillId: `${order.clientOrderId}-t${parsed.id}`,
            clientOrderId: order.clientOrderId,
            qty: parsed.qty,
            price: parsed.price,
            tradeId: parsed.id,
          });
        }
      }
    }
    if (!OPEN_STATUSES.has(venue.status) && venue.status !== 'FILLED') {
      const current = journal.get(order.clientOrderId);
      if (current === undefined || (current.status !== 'cancelled' && current.status !== 'rejected')) {
        differences.push({ kind: 'closed', clientOrderId: order.clientOrderId, status: venue.status });
      }
      this.finish(
        order.clientOrderId,
        order.symbol,
        venue.status === 'REJECTED' ? 'rejected' : 'cancelled',
        `venue: ${venue.status}`,
      );
    }
    return applied;
  }

  // ---------------------------------------------------------------- user data

  private onUserData(e: UserDataEvent): void {
    if (e.e !== 'executionReport') return;
    const r = e as ExecutionReport;
    const clientOrderId = r.x === 'CANCELED' && r.C !== '' && r.C !== null ? r.C : r.c;
    const order = this.options.journal().get(clientOrderId);
    if (order === undefined) return; // not ours (another client of the account)
    this.learnOrderId(clientOrderId, r.s, r.i);
    switch (r.x) {
      case 'NEW':
        this.accept(clientOrderId, r.s);
        break;
      case 'TRADE':
        if (
          this.fill(order, {
            id: r.t,
            price: Number(r.L),
            qty: Number(r.l),
            commission: Number(r.n),
            commissionAsset: r.N ?? '',
            time: r.T,
            isMaker: r.m,
          })
        )
          this.counters.fillsFromStream++;
        break;
      case 'CANCELED':
      case 'EXPIRED':
      case 'EXPIRED_IN_MATCH':
      case 'TRADE_PREVENTION':
        this.finish(clientOrderId, r.s, 'cancelled', `venue: ${r.x}`);
        break;
      case 'REJECTED':
        // After an acceptance the engine knows the order as open: closing it is a cancel, whatever the venue calls it.
        this.finish(
          clientOrderId,
          r.s,
          this.tracked.get(clientOrderId)?.accepted ? 'cancelled' : 'rejected',
          `venue: REJECTED ${r.r}`,
        );
        break;
      default:
        break;
    }
  }

  // ---------------------------------------------------------------- reconciliation

  /** The engine's replay hands over the orders the journal shows open; they are checked at the first reconciliation. */
  reconcile(openOrders: readonly Readonly<Order>[]): void {
    for (const o of openOrders) {
      this.restartOpen.add(o.clientOrderId);
      this.track(o.clientOrderId, o.symbol).accepted = o.status !== 'submitted';
    }
  }

  /** Runs a reconciliation now (one at a time: a request during a run runs once more after it). */
  requestReconcile(trigger: ReconcileTrigger): Promise<void> {
    if (this.reconcileRun !== undefined) {
      this.reconcileAgain = trigger;
      return this.reconcileRun;
    }
    const run = this.reconcileOnce(trigger).finally(() => {
      this.reconcileRun = undefined;
      const again = this.reconcileAgain;
      this.reconcileAgain = undefined;
      if (again !== undefined && !this.closed) void this.requestReconcile(again);
    });
    this.reconcileRun = run;
    return run;
  }

  private async reconcileOnce(trigger: ReconcileTrigger): Promise<void> {
    if (this.closed) return;
    const at = this.now();
    const downSince = this.downSince;
    const differences: ReconcileDifference[] = [];
    const balances: Record<string, number> = {};
    let openAtVenue = 0;
    let tradesSeen = 0;
    let fillsApplied = 0;
    let error: string | undefined;
    try {
      const journal = this.options.journal();
      for (const symbol of this.options.symbols) {
        // 1. Open orders at the venue: ours are accepted; others are reported.
        const open = await this.options.api.openOrders(symbol);
        openAtVenue += open.length;
        const openIds = new Set<string>();
        for (const v of open) {
          openIds.add(v.clientOrderId);
          const order = journal.get(v.clientOrderId);
          if (order === undefined) {
            differences.push({ kind: 'unknown-open-order', symbol, clientOrderId: v.clientOrderId });
            continue;
          }
          fillsApplied += await this.applyVenueOrder(order, v, differences);
        }
        // 2. Orders the journal has open that the venue no longer has open: their final state and fills.
        for (const order of [...journal.all()]) {
          if (order.symbol !== symbol || openIds.has(order.clientOrderId)) continue;
          if (order.status !== 'submitted' && order.status !== 'accepted' && order.status !== 'partially_filled')
            continue;
          if (this.tracked.get(order.clientOrderId)?.placing === true) continue;
          const found = await this.checkOrder(order);
          for (const d of found) if (d.kind === 'missing-fill') fillsApplied++;
          differences.push(...found);
        }
        // 3. Trades since the journal's last fill (or the stream's drop): fills of orders already closed, foreign trades.
        const lastFill = lastJournalFillTs(journal, symbol);
        let since =
          trigger === 'start'
            ? (lastFill ?? this.startedAt - (this.options.lookbackMs ?? 3_600_000))
            : Math.min(lastFill ?? Number.POSITIVE_INFINITY, downSince ?? at);
        since = Math.max(since - (this.options.marginMs ?? 5_000), at - DAY_MS + 60_000);
        let trades = await this.options.api.myTrades(symbol, { startTime: since });
        for (;;) {
          tradesSeen += trades.length;
          for (const raw of trades) {
            const trade = parseTrade(raw);
            let clientOrderId = this.byOrderId.get(`${symbol}:${raw.orderId}`);
            if (clientOrderId === undefined) {
              const v = await this.options.api.getOrder(symbol, { orderId: raw.orderId });
              clientOrderId = v.clientOrderId;
              if (journal.get(clientOrderId) !== undefined) this.learnOrderId(clientOrderId, symbol, raw.orderId);
            }
            const order = journal.get(clientOrderId);
            if (order === undefined) {
              differences.push({ kind: 'foreign-trade', symbol, tradeId: trade.id, orderId: raw.orderId });
              continue;
            }
            const t = this.track(clientOrderId, symbol);
            if (t.trades.has(trade.id) || journal.hasFill(`${clientOrderId}-t${trade.id}`)) continue;
            if (order.status !== 'accepted' && order.status !== 'partially_filled' && order.status !== 'submitted') {
              differences.push({ kind: 'fill-on-closed-order', clientOrderId, tradeId: trade.id });
              continue;
            }
            if (this.fill(order, trade)) {
              fillsApplied++;
              this.counters.fillsFromReconcile++;
              differences.push({
                kind: 'missing-fill',
                fillId: `${clientOrderId}-t${trade.id}`,
                clientOrderId,
                qty: trade.qty,
                price: trade.price,
                tradeId: trade.id,
              });
            }
          }
          if (trades.length < 1000) break;
          const lastId = (trades[trades.length - 1] as { id: number }).id;
          trades = await this.options.api.myTrades(symbol, { fromId: lastId + 1 });
        }
      }
      // 4. Balances of the symbols' base assets against the journal's positions (since this process's first run).
      const assets = new Set<string>();
      for (const symbol of this.options.symbols) {
        const r = this.rules.get(symbol);
        if (r !== undefined) assets.add(r.baseAsset).add(r.quoteAsset);
      }
      for (const b of await this.options.api.balances()) {
        if (assets.has(b.asset)) balances[b.asset] = Number(b.free) + Number(b.locked);
      }
      const positions = journalPositions(journal);
      if (this.baseline === undefined) {
        this.baseline = { balances: { ...balances }, positions };
      } else {
        for (const symbol of this.options.symbols) {
          const r = this.rules.get(symbol);
          if (r === undefined) continue;
          const expected =
            (this.baseline.balances[r.baseAsset] ?? 0) +
            (positions.get(symbol) ?? 0) -
            (this.baseline.positions.get(symbol) ?? 0);
          const venue = balances[r.baseAsset] ?? 0;
          if (Math.abs(venue - expected) > Math.max(r.stepSize, 1e-9 * Math.abs(expected)))
            differences.push({ kind: 'balance', asset: r.baseAsset, venue, expected });
        }
      }
      this.restartOpen.clear();
      if (trigger !== 'start' || downSince !== undefined) this.downSince = undefined;
    } catch (e) {
      error = (e as Error).message;
      this.counters.reconcileFailures++;
      // Retried: the next subscription also reconciles, but a venue hiccup should not wait for one.
      this.later(() => void this.requestReconcile(trigger), this.options.unknownOutcomeCheckMs ?? 6_000);
    }
    this.counters.reconciliations++;
    this.counters.reconcileDifferences += differences.length;
    const report: ReconcileReport = {
      venue: 'binance',
      trigger,
      at,
      durationMs: this.now() - at,
      openAtVenue,
      tradesSeen,
      fillsApplied,
      differences,
      balances,
      ...(error === undefined ? {} : { error }),
    };
    if (!this.closed) this.options.onReconciled?.(report);
  }

  stats(): Record<string, unknown> {
    return {
      ...this.counters,
      tracked: this.tracked.size,
      rulesLoaded: this.rules.size,
      rest: this.options.api.rest.stats(),
      userData: this.options.userData.stats(),
    };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    await this.options.userData.close();
    await this.reconcileRun?.catch(() => {});
  }
}

function parseTrade(raw: {
  id: number;
  price: string;
  qty: string;
  commission: string;
  commissionAsset: string;
  time: number;
  isMaker: boolean;
}) {
  return {
    id: raw.id,
    price: Number(raw.price),
    qty: Number(raw.qty),
    commission: Number(raw.commission),
    commissionAsset: raw.commissionAsset,
    time: raw.time,
    isMaker: raw.isMaker,
  };
}

function venueReason(error: BinanceApiError): string {
  return `binance ${error.venueCode ?? error.status}: ${error.message.replace(/^.*?HTTP \d+ (-?\d+ )?/, '')}`;
}
