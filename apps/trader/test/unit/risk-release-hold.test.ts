import { describe, expect, it } from 'vitest';
import { RiskEngine, type RiskLimits } from '../../src/risk/risk-engine.js';

const limits: RiskLimits = {
  maxPositionNotional: 1000,
  maxNotionalPerOrder: 500,
  maxOrdersPerSecond: 3,
  dailyLossLimit: 100,
  maxDrawdown: 50,
};
const T0 = Date.parse('2026-01-05T12:00:00Z');
const hold = { graceMs: 60_000, step: 10 };

/** A risk engine whose drawdown rule engaged at drawdown 60 and that the operator released 19 ms later. */
function releasedAtDrawdown60(): RiskEngine {
  const r = new RiskEngine(limits, undefined, hold);
  r.setDayBaseline(0, '2026-01-05');
  r.evaluate(-60, 60, T0);
  expect(r.killSwitch.state).toBe('REDUCING');
  r.killSwitch.set('RUNNING', 'operator: reviewed', T0 + 19);
  return r;
}

describe('kill switch release hold', () => {
  it('without a hold the drawdown rule re-engages at the next evaluation (the probe)', () => {
    const r = new RiskEngine(limits);
    r.evaluate(-60, 60, T0);
    r.killSwitch.set('RUNNING', 'operator', T0 + 1);
    r.evaluate(-60, 60, T0 + 20);
    expect(r.killSwitch.state).toBe('REDUCING');
  });

  it('holds against the same drawdown and re-engages once it grows a step beyond the level at release', () => {
    const r = releasedAtDrawdown60();
    expect(r.releaseHoldState()).toEqual({
      releasedAt: T0 + 19,
      until: T0 + 19 + 60_000,
      drawdownResumesAt: 70,
      dailyLossResumesAt: 70,
    });
    r.evaluate(-60, 60, T0 + 38);
    r.evaluate(-69, 69.9, T0 + 1_000);
    expect(r.killSwitch.state).toBe('RUNNING');
    expect(r.stats()).toMatchObject({ state: 'RUNNING', releaseHold: { drawdownResumesAt: 70 } });
    r.evaluate(-70, 70, T0 + 2_000);
    expect(r.killSwitch.state).toBe('REDUCING');
    expect(r.killSwitch.reason).toBe('drawdown 70.00 >= limit 50');
  });

  it('re-engages when the grace ends and the condition still holds', () => {
    const r = releasedAtDrawdown60();
    r.evaluate(-60, 60, T0 + 19 + 59_999);
    expect(r.killSwitch.state).toBe('RUNNING');
    r.evaluate(-60, 60, T0 + 19 + 60_000);
    expect(r.killSwitch.state).toBe('REDUCING');
    expect(r.releaseHoldState()).toBeUndefined();
    expect(r.stats()).not.toHaveProperty('releaseHold');
  });

  it('a new equity peak resets the drawdown hold: a fresh breach of the limit engages again', () => {
    const r = releasedAtDrawdown60();
    r.evaluate(10, 0, T0 + 1_000);
    expect(r.releaseHoldState()?.drawdownResumesAt).toBe(0);
    r.evaluate(-45, 55, T0 + 2_000);
    expect(r.killSwitch.state).toBe('REDUCING');
  });

  it('holds a released daily-loss halt until the loss grows a step, and the new UTC day resets it', () => {
    const r = new RiskEngine(limits, undefined, hold);
    r.setDayBaseline(0, '2026-01-05');
    const t = Date.parse('2026-01-05T23:59:00Z');
    r.evaluate(-100, 0, t);
    expect(r.killSwitch.state).toBe('HALTED');
    r.killSwitch.set('RUNNING', 'operator', t + 5);
    r.evaluate(-109, 0, t + 100);
    expect(r.killSwitch.state).toBe('RUNNING');
    r.evaluate(-110, 0, t + 200);
    expect(r.killSwitch.state).toBe('HALTED');
    r.killSwitch.set('RUNNING', 'operator', t + 300);
    r.evaluate(-110, 0, t + 400);
    expect(r.killSwitch.state).toBe('RUNNING');
    // Midnight (within the grace): the day's loss starts again from the PnL then, and a full new day's loss halts
    // without waiting for the hold.
    const midnight = Date.parse('2026-01-06T00:00:00Z');
    r.evaluate(-110, 0, midnight);
    expect(r.releaseHoldState()?.dailyLossResumesAt).toBe(0);
    r.evaluate(-210, 0, midnight + 1);
    expect(r.killSwitch.state).toBe('HALTED');
  });

  it('an operator engaging the switch ends a hold; a rule tripping does not start one', () => {
    const r = releasedAtDrawdown60();
    r.killSwitch.set('HALTED', 'operator: stop', T0 + 100);
    expect(r.releaseHoldState()).toBeUndefined();
    const s = new RiskEngine(limits, undefined, hold);
    s.evaluate(-60, 60, T0);
    expect(s.releaseHoldState()).toBeUndefined();
  });

  it('rejects a hold that is not a positive finite number, naming the field', () => {
    expect(() => new RiskEngine(limits, undefined, { graceMs: 0, step: 1 })).toThrow(
      expect.objectContaining({ code: 'E_TRADER_INVALID_OPTION', field: 'graceMs' }),
    );
    expect(() => new RiskEngine(limits, undefined, { graceMs: 1, step: Number.NaN })).toThrow(
      expect.objectContaining({ field: 'step' }),
    );
  });
});
