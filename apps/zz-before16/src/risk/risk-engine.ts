import { TraderError } from '../errors.js';
import type { OrderIntent } from '../model/types.js';
import { KillSwitch } from './kill-switch.js';

/** Pre-trade limits. */
export interface RiskLimits {
  /** Largest absolute position per symbol, quote currency. */
  maxPositionNotional: number;
  /** Largest notional of one order. */
  maxNotionalPerOrder: number;
  /** Largest number of new orders in any 1-second window. */
  maxOrdersPerSecond: number;
  /** Loss over the UTC day (after fees, realized + unrealized) that halts trading. */
  dailyLossLimit: number;
  /** Drawdown from the equity peak that switches to REDUCING. */
  maxDrawdown: number;
}

/** What the pre-trade check needs to know about the symbol. */
export interface RiskContext {
  /** Current position, base units, signed. */
  position: number;
  /** Open order quantity, signed (buys positive). */
  openQty: number;
  /** Reference price: the limit price, or the touch a market order will hit. */
  price: number;
  /** Wall-clock milliseconds. */
  now: number;
}

/** Rejection reasons, stable for metrics and the journal. */
export type RiskRejectCode = 'halted' | 'reducing_only' | 'max_position' | 'max_notional' | 'rate_limit' | 'bad_order';

/** The pre-trade verdict. */
export type RiskDecision = { ok: true } | { ok: false; code: RiskRejectCode; reason: string };

const OK: RiskDecision = Object.freeze({ ok: true });

/**
 * Pre-trade checks and the rules that drive the {@link KillSwitch}. Cancels always pass (they reduce risk);
 * in REDUCING only orders that shrink the exposure pass; in HALTED no new order passes.
 */
export class RiskEngine {
  readonly killSwitch: KillSwitch;
  private readonly window: Float64Array;
  private windowNext = 0;
  /** UTC day (YYYY-MM-DD) of the daily-loss baseline: a fresh trader starts today at PnL 0. */
  private dayKey = new Date().toISOString().slice(0, 10);
  private dayStartPnl = 0;
  /** Rejections per code. */
  readonly rejections: Record<RiskRejectCode, number> = {
    halted: 0,
    reducing_only: 0,
    max_position: 0,
    max_notional: 0,
    rate_limit: 0,
    bad_order: 0,
  };

  constructor(
    readonly limits: RiskLimits,
    killSwitch: KillSwitch = new KillSwitch(),
  ) {
    for (const [field, v] of Object.entries(limits)) {
      if (!(typeof v === 'number' && v > 0)) {
        throw new TraderError('E_TRADER_INVALID_OPTION', `risk limit ${field} must be a number > 0`, { field });
      }
    }
    this.killSwitch = killSwitch;
    this.window = new Float64Array(Math.ceil(limits.maxOrdersPerSecond)).fill(Number.NEGATIVE_INFINITY);
  }

  /** True when the order makes the symbol's exposure (position + open orders) smaller without flipping it. */
  static isReducing(intent: OrderIntent, ctx: Pick<RiskContext, 'position' | 'openQty'>): boolean {
    const current = ctx.position + ctx.openQty;
    const after = current + (intent.side === 'buy' ? intent.qty : -intent.qty);
    return Math.abs(after) < Math.abs(current) && Math.sign(after) * Math.sign(current) >= 0;
  }

  /** Checks a new order. An accepted order counts against the rate limit. */
  check(intent: OrderIntent, ctx: RiskContext): RiskDecision {
    if (!(intent.qty > 0) || !Number.isFinite(ctx.price) || ctx.price <= 0) {
      return this.reject('bad_order', `quantity ${intent.qty} or price ${ctx.price} invalid`);
    }
    const state = this.killSwitch.state;
    const reducing = RiskEngine.isReducing(intent, ctx);
    if (state === 'HALTED') return this.reject('halted', `trading halted: ${this.killSwitch.reason}`);
    if (state === 'REDUCING' && !reducing)
      return this.reject('reducing_only', `only risk-reducing orders: ${this.killSwitch.reason}`);
    const notional = intent.qty * ctx.price;
    if (notional > this.limits.maxNotionalPerOrder && !reducing) {
      return this.reject('max_notional', `order notional ${notional.toFixed(2)} > ${this.limits.maxNotionalPerOrder}`);
    }
    if (!reducing) {
      const after = ctx.position + ctx.openQty + (intent.side === 'buy' ? intent.qty : -intent.qty);
      if (Math.abs(after) * ctx.price > this.limits.maxPositionNotional) {
        return this.reject(
          'max_position',
          `position notional ${(Math.abs(after) * ctx.price).toFixed(2)} would exceed ${this.limits.maxPositionNotional}`,
        );
      }
    }
    // The ring holds the times of the last N accepted orders: the oldest must be over a second ago.
    const oldest = this.window[this.windowNext] as number;
    if (ctx.now - oldest < 1000)
      return this.reject('rate_limit', `more than ${this.limits.maxOrdersPerSecond} orders/s`);
    this.window[this.windowNext] = ctx.now;
    this.windowNext = (this.windowNext + 1) % this.window.length;
    return OK;
  }

  private reject(code: RiskRejectCode, reason: string): RiskDecision {
    this.rejections[code]++;
    return { ok: false, code, reason };
  }

  /**
   * Runs the rules on the current PnL: a daily loss beyond the limit halts, a drawdown beyond the limit
   * switches to REDUCING. `totalPnl` is cumulative (after fees); the day's baseline resets at UTC midnight.
   */
  evaluate(totalPnl: number, drawdown: number, now = Date.now()): void {
    const day = new Date(now).toISOString().slice(0, 10);
    if (day !== this.dayKey) {
      this.dayKey = day;
      this.dayStartPnl = totalPnl;
    }
    const daily = totalPnl - this.dayStartPnl;
    if (daily <= -this.limits.dailyLossLimit) {
      this.killSwitch.trip('HALTED', `daily loss ${(-daily).toFixed(2)} >= limit ${this.limits.dailyLossLimit}`, now);
    } else if (drawdown >= this.limits.maxDrawdown) {
      this.killSwitch.trip('REDUCING', `drawdown ${drawdown.toFixed(2)} >= limit ${this.limits.maxDrawdown}`, now);
    }
  }

  /** Sets the daily-loss baseline: the cumulative PnL at the start of the UTC day `day` (after a replay). */
  setDayBaseline(pnl: number, day = new Date().toISOString().slice(0, 10)): void {
    this.dayKey = day;
    this.dayStartPnl = pnl;
  }

  /** Today's PnL relative to the UTC-day baseline. */
  dailyPnl(totalPnl: number): number {
    return totalPnl - this.dayStartPnl;
  }

  /** Counters and state. */
  stats(): Record<string, unknown> {
    return { state: this.killSwitch.state, reason: this.killSwitch.reason, rejections: { ...this.rejections } };
  }
}
