import { TraderError } from '../errors.js';
import type { OrderIntent } from '../model/types.js';
import { KillSwitch, SEVERITY } from './kill-switch.js';

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

/** How an operator's release of the kill switch holds against the rule that engaged it. */
export interface ReleaseHoldOptions {
  /**
   * How long a release holds at most: after it the rules apply as before (and re-engage if their condition still
   * holds). Milliseconds, > 0.
   */
  graceMs: number;
  /**
   * How much further the drawdown (or the day's loss) must grow beyond its level at the release before the rule
   * engages again within the grace. Quote currency, > 0.
   */
  step: number;
}

/**
 * The hold after an operator's release: the levels the rules saw at the release and when the hold ends. The drawdown
 * hold also ends at a new equity peak (drawdown back to 0), the daily-loss hold at the next UTC day.
 */
export interface ReleaseHold {
  /** When the operator released (ms). */
  releasedAt: number;
  /** The hold ends at this time (ms) at the latest. */
  until: number;
  /** The drawdown rule re-engages within the grace only at or above this drawdown (level at release + step). */
  drawdownResumesAt: number;
  /** The daily-loss rule re-engages within the grace only at or above this loss (level at release + step). */
  dailyLossResumesAt: number;
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

  /** The hold after the last operator release, until its condition changes or its grace ends. */
  private hold: ReleaseHold | undefined;
  /** The figures of the last {@link evaluate}: what a release is measured against. */
  private last = { drawdown: 0, dailyLoss: 0 };

  /**
   * @param releaseHold how an operator's release holds; without it a rule whose condition still holds re-engages
   *   at the next evaluation. @default undefined
   */
  constructor(
    readonly limits: RiskLimits,
    killSwitch: KillSwitch = new KillSwitch(),
    readonly releaseHold?: ReleaseHoldOptions,
  ) {
    for (const [field, v] of Object.entries(limits)) {
      if (!(typeof v === 'number' && v > 0)) {
        throw new TraderError('E_TRADER_INVALID_OPTION', `risk limit ${field} must be a number > 0`, { field });
      }
    }
    if (releaseHold !== undefined) {
      for (const [field, v] of Object.entries(releaseHold)) {
        if (!(typeof v === 'number' && v > 0 && Number.isFinite(v))) {
          throw new TraderError('E_TRADER_INVALID_OPTION', `release hold ${field} must be a finite number > 0`, {
            field,
          });
        }
      }
    }
    this.killSwitch = killSwitch;
    killSwitch.onChange((change) => {
      if (change.by === 'operator' && SEVERITY[change.to] < SEVERITY[change.from]) this.startHold(change.at);
      else if (change.by === 'operator') this.hold = undefined;
    });
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
   * After an operator's release a rule engages again only once its figure grew a step beyond its level at the
   * release, its condition reset (new equity peak, new day) or the grace ended: the operator's decision holds
   * against the very figure they released on, not against a worse one.
   */
  evaluate(totalPnl: number, drawdown: number, now = Date.now()): void {
    const day = new Date(now).toISOString().slice(0, 10);
    const hold = this.hold;
    if (day !== this.dayKey) {
      this.dayKey = day;
      this.dayStartPnl = totalPnl;
      if (hold !== undefined) hold.dailyLossResumesAt = 0;
    }
    const dailyLoss = -(totalPnl - this.dayStartPnl);
    this.last = { drawdown, dailyLoss };
    if (hold !== undefined) {
      if (now >= hold.until) this.hold = undefined;
      else if (drawdown <= 0) hold.drawdownResumesAt = 0;
    }
    const h = this.hold;
    if (dailyLoss >= this.limits.dailyLossLimit && (h === undefined || dailyLoss >= h.dailyLossResumesAt)) {
      this.killSwitch.trip('HALTED', `daily loss ${dailyLoss.toFixed(2)} >= limit ${this.limits.dailyLossLimit}`, now);
    } else if (drawdown >= this.limits.maxDrawdown && (h === undefined || drawdown >= h.drawdownResumesAt)) {
      this.killSwitch.trip('REDUCING', `drawdown ${drawdown.toFixed(2)} >= limit ${this.limits.maxDrawdown}`, now);
    }
  }

  /** The hold after the last operator release, while it holds (a copy). */
  releaseHoldState(): ReleaseHold | undefined {
    return this.hold === undefined ? undefined : { ...this.hold };
  }

  private startHold(at: number): void {
    const opts = this.releaseHold;
    if (opts === undefined) return;
    this.hold = {
      releasedAt: at,
      until: at + opts.graceMs,
      drawdownResumesAt: this.last.drawdown + opts.step,
      dailyLossResumesAt: this.last.dailyLoss + opts.step,
    };
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
    return {
      state: this.killSwitch.state,
      reason: this.killSwitch.reason,
      rejections: { ...this.rejections },
      ...(this.hold === undefined ? {} : { releaseHold: { ...this.hold } }),
    };
  }
}
