import { describe, expect, it } from 'vitest';
import type { OrderIntent } from '../../src/model/types.js';
import { KillSwitch, type KillSwitchChange } from '../../src/risk/kill-switch.js';
import { RiskEngine, type RiskLimits } from '../../src/risk/risk-engine.js';

const limits: RiskLimits = {
  maxPositionNotional: 1000,
  maxNotionalPerOrder: 500,
  maxOrdersPerSecond: 3,
  dailyLossLimit: 100,
  maxDrawdown: 50,
};
const buy = (qty: number): OrderIntent => ({ symbol: 'X', side: 'buy', type: 'market', qty });
const sell = (qty: number): OrderIntent => ({ symbol: 'X', side: 'sell', type: 'market', qty });
const ctx = (position: number, now: number, openQty = 0) => ({ position, openQty, price: 100, now });

describe('RiskEngine', () => {
  it('validates limits', () => {
    expect(() => new RiskEngine({ ...limits, maxOrdersPerSecond: 0 })).toThrow(/maxOrdersPerSecond/);
  });

  it('enforces notional per order and position per symbol (open orders included)', () => {
    const r = new RiskEngine(limits);
    expect(r.check(buy(6), ctx(0, 0))).toMatchObject({ ok: false, code: 'max_notional' });
    expect(r.check(buy(4), ctx(7, 10_000))).toMatchObject({ ok: false, code: 'max_position' });
    expect(r.check(buy(2), ctx(5, 20_000, 2))).toMatchObject({ ok: true }); // 9 * 100 <= 1000
    expect(r.check(buy(2), ctx(5, 30_000, 4))).toMatchObject({ ok: false, code: 'max_position' });
    // A large reducing order is fine: it lowers the risk.
    expect(r.check(sell(8), ctx(9, 40_000))).toMatchObject({ ok: true });
    expect(r.check(buy(0), ctx(0, 50_000))).toMatchObject({ ok: false, code: 'bad_order' });
    expect(r.check(buy(1), { position: 0, openQty: 0, price: Number.NaN, now: 60_000 })).toMatchObject({
      code: 'bad_order',
    });
    expect(r.rejections.max_position).toBe(2);
  });

  it('limits orders per second over a sliding window', () => {
    const r = new RiskEngine(limits);
    expect(r.check(buy(1), ctx(0, 1000)).ok).toBe(true);
    expect(r.check(buy(1), ctx(0, 1100)).ok).toBe(true);
    expect(r.check(buy(1), ctx(0, 1200)).ok).toBe(true);
    expect(r.check(buy(1), ctx(0, 1300))).toMatchObject({ ok: false, code: 'rate_limit' });
    expect(r.check(buy(1), ctx(0, 2000)).ok).toBe(true); // 1000 left the window
    expect(r.check(buy(1), ctx(0, 2050))).toMatchObject({ code: 'rate_limit' });
  });

  it('classifies risk-reducing orders', () => {
    expect(RiskEngine.isReducing(sell(1), { position: 2, openQty: 0 })).toBe(true);
    expect(RiskEngine.isReducing(sell(2), { position: 2, openQty: 0 })).toBe(true);
    expect(RiskEngine.isReducing(sell(3), { position: 2, openQty: 0 })).toBe(false); // flips
    expect(RiskEngine.isReducing(buy(1), { position: 2, openQty: 0 })).toBe(false);
    expect(RiskEngine.isReducing(buy(1), { position: -2, openQty: 0 })).toBe(true);
    expect(RiskEngine.isReducing(sell(1), { position: 0, openQty: 0 })).toBe(false);
    expect(RiskEngine.isReducing(sell(1), { position: 2, openQty: -2 })).toBe(false); // already covered by open orders
  });

  it('REDUCING passes only reducing orders; HALTED passes none', () => {
    const r = new RiskEngine(limits);
    r.killSwitch.set('REDUCING', 'operator test');
    expect(r.check(buy(1), ctx(2, 0))).toMatchObject({ ok: false, code: 'reducing_only' });
    expect(r.check(sell(1), ctx(2, 0)).ok).toBe(true);
    r.killSwitch.set('HALTED', 'operator test');
    expect(r.check(sell(1), ctx(2, 10_000))).toMatchObject({ ok: false, code: 'halted' });
    r.killSwitch.set('RUNNING', 'released');
    expect(r.check(buy(1), ctx(0, 20_000)).ok).toBe(true);
  });

  it('rules escalate on drawdown and daily loss; the daily baseline resets at UTC midnight', () => {
    const changes: KillSwitchChange[] = [];
    const before: string[] = [];
    const ks = new KillSwitch((c) => before.push(`${c.from}->${c.to}`));
    ks.onChange((c) => changes.push(c));
    const r = new RiskEngine(limits, ks);
    const day1 = Date.parse('2026-01-01T10:00:00Z');
    r.evaluate(0, 0, day1);
    r.evaluate(-20, 60, day1 + 1);
    expect(ks.state).toBe('REDUCING');
    r.evaluate(-20, 10, day1 + 2); // rules never de-escalate
    expect(ks.state).toBe('REDUCING');
    expect(ks.trip('REDUCING', 'again')).toBe(false);
    r.evaluate(-100, 100, day1 + 3);
    expect(ks.state).toBe('HALTED');
    expect(changes.map((c) => `${c.by}:${c.to}`)).toEqual(['rule:REDUCING', 'rule:HALTED']);
    expect(before).toEqual(['RUNNING->REDUCING', 'REDUCING->HALTED']);
    ks.set('RUNNING', 'operator release');
    const day2 = Date.parse('2026-01-02T00:00:01Z');
    r.evaluate(-100, 0, day2); // new day: baseline -100, daily 0
    expect(ks.state).toBe('RUNNING');
    expect(r.dailyPnl(-150)).toBe(-50);
    r.evaluate(-200, 0, day2 + 1);
    expect(ks.state).toBe('HALTED');
    expect(r.stats()).toMatchObject({ state: 'HALTED' });
    ks.restore('RUNNING', 'replayed');
    expect(ks.state).toBe('RUNNING');
    ks.set('RUNNING', 'no-op');
    expect(changes).toHaveLength(4);
  });
});
