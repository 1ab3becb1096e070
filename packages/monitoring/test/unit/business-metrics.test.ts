import { Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger, getCorrelationId, Monitoring, withCorrelationId } from '../../src/index.js';
import { sample } from '../helpers.js';

const open: Monitoring[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((m) => m.close()));
});

describe('trading and model metrics', () => {
  it('records PnL, volume, trades, win/loss, drawdown and exposure', async () => {
    const m = new Monitoring({ defaultMetrics: false, systemMetrics: false, tracing: false, prefix: 'x_' });
    open.push(m);
    const t = m.trading();
    expect(m.trading()).toBe(t);
    t.recordTrade({ strategy: 'scalp', symbol: 'BTCUSDT', side: 'buy', quantity: 0.5, price: 40_000 });
    t.recordTrade({
      strategy: 'scalp',
      symbol: 'BTCUSDT',
      side: 'sell',
      quantity: 0.5,
      price: 40_100,
      realizedPnl: 50,
      fee: 2,
    });
    t.recordTrade({
      strategy: 'scalp',
      symbol: 'BTCUSDT',
      side: 'sell',
      quantity: 0.1,
      price: 39_000,
      realizedPnl: -20,
    });
    t.recordTrade({ strategy: 'scalp', symbol: 'ETHUSDT', side: 'buy', quantity: 1, price: 2000, realizedPnl: 0 });
    t.setUnrealizedPnl('scalp', 'BTCUSDT', -12.5);
    t.setExposure('scalp', 'BTCUSDT', -3900);
    t.setEquity('scalp', 10_000);
    t.setEquity('scalp', 12_000);
    t.setEquity('scalp', 9_000);
    t.setEquity('scalp', 11_000);
    const text = await m.metrics();
    const s = { strategy: 'scalp' };
    expect(sample(text, 'x_cryptoscalp_trading_realized_pnl', { ...s, symbol: 'BTCUSDT' })).toBe(28);
    expect(sample(text, 'x_cryptoscalp_trading_volume_total', { ...s, symbol: 'BTCUSDT' })).toBeCloseTo(
      20_000 + 20_050 + 3_900,
    );
    expect(sample(text, 'x_cryptoscalp_trading_trades_total', { ...s, symbol: 'BTCUSDT', side: 'sell' })).toBe(2);
    expect(sample(text, 'x_cryptoscalp_trading_trade_outcomes_total', { ...s, outcome: 'win' })).toBe(1);
    expect(sample(text, 'x_cryptoscalp_trading_trade_outcomes_total', { ...s, outcome: 'loss' })).toBe(1);
    expect(sample(text, 'x_cryptoscalp_trading_trade_outcomes_total', { ...s, outcome: 'breakeven' })).toBe(1);
    expect(sample(text, 'x_cryptoscalp_trading_win_ratio', s)).toBe(0.5);
    expect(sample(text, 'x_cryptoscalp_trading_unrealized_pnl', { ...s, symbol: 'BTCUSDT' })).toBe(-12.5);
    expect(sample(text, 'x_cryptoscalp_trading_exposure', { ...s, symbol: 'BTCUSDT' })).toBe(-3900);
    expect(sample(text, 'x_cryptoscalp_trading_equity', s)).toBe(11_000);
    expect(sample(text, 'x_cryptoscalp_trading_drawdown_ratio', s)).toBeCloseTo(1_000 / 12_000);
    expect(sample(text, 'x_cryptoscalp_trading_max_drawdown_ratio', s)).toBeCloseTo(3_000 / 12_000);
    expect(() => t.recordTrade({ strategy: 'scalp', symbol: 'BTCUSDT', side: 'buy', quantity: 0, price: 1 })).toThrow(
      expect.objectContaining({ field: 'trade.quantity' }),
    );
    expect(() => t.recordTrade({ strategy: '', symbol: 'B', side: 'buy', quantity: 1, price: 1 })).toThrow(
      expect.objectContaining({ field: 'trade.strategy' }),
    );
    expect(() => t.recordTrade({ strategy: 's', symbol: 'B', side: 'hold' as never, quantity: 1, price: 1 })).toThrow(
      expect.objectContaining({ field: 'trade.side' }),
    );
    expect(() => t.setEquity('s', Number.NaN)).toThrow(expect.objectContaining({ field: 'equity' }));
    // A caller whose risk engine keeps the peak sets the ratios itself; they replace the ones setEquity derived.
    t.setDrawdown('scalp', 1.11, 1.5);
    const after = await m.metrics();
    expect(sample(after, 'x_cryptoscalp_trading_drawdown_ratio', s)).toBe(1.11);
    expect(sample(after, 'x_cryptoscalp_trading_max_drawdown_ratio', s)).toBe(1.5);
    expect(() => t.setDrawdown('s', -0.1, 0)).toThrow(expect.objectContaining({ field: 'ratio' }));
    expect(() => t.setDrawdown('s', 0.5, 0.4)).toThrow(expect.objectContaining({ field: 'maxRatio' }));
  });

  it('records model inference latency and hit rate', async () => {
    const m = new Monitoring({ defaultMetrics: false, systemMetrics: false, tracing: false });
    open.push(m);
    const models = m.models();
    models.observeInference('lstm', 0.0004);
    const out = await models.timeInference('lstm', async () => 42);
    expect(out).toBe(42);
    models.recordPrediction('lstm', true);
    models.recordPrediction('lstm', true);
    models.recordPrediction('lstm', false);
    const text = await m.metrics();
    expect(sample(text, 'cryptoscalp_model_inference_duration_seconds_count', { model: 'lstm' })).toBe(2);
    expect(
      sample(text, 'cryptoscalp_model_inference_duration_seconds_bucket', { model: 'lstm', le: '0.0005' }),
    ).toBeGreaterThanOrEqual(1);
    expect(sample(text, 'cryptoscalp_model_predictions_total', { model: 'lstm', outcome: 'hit' })).toBe(2);
    expect(sample(text, 'cryptoscalp_model_hit_ratio', { model: 'lstm' })).toBeCloseTo(2 / 3);
    expect(() => models.observeInference('', 1)).toThrow(expect.objectContaining({ field: 'model' }));
  });
});

describe('logger factory', () => {
  function capture() {
    const lines: Record<string, unknown>[] = [];
    const destination = new Writable({
      write(chunk, _enc, cb) {
        for (const l of String(chunk).split('\n')) if (l) lines.push(JSON.parse(l));
        cb();
      },
    });
    return { lines, destination };
  }

  it('adds the correlation id through async work and redacts secrets', async () => {
    const { lines, destination } = capture();
    const log = createLogger({ destination, redact: ['exchange.key'] });
    log.info('outside');
    log.info({ apiKey: 'k1' }, 'outside with fields');
    log.info({ more: true }, 'outside again');
    await withCorrelationId('req-42', async () => {
      expect(getCorrelationId()).toBe('req-42');
      await new Promise((r) => setTimeout(r, 1));
      log.info(
        {
          password: 'p4ss',
          smtp: { auth: { pass: 'smtp-secret' } },
          headers: { authorization: 'Bearer t0k' },
          exchange: { key: 'k3y', name: 'binance' },
          slack: { token: 'xoxb-1' },
        },
        'connecting to postgres://trader:hunter2@db:5432/x with Bearer abc.def',
      );
      await Promise.all([
        withCorrelationId(undefined, async () => log.info('nested')),
        (async () => {
          await new Promise((r) => setImmediate(r));
          log.info('sibling');
        })(),
      ]);
    });
    expect(getCorrelationId()).toBeUndefined();
    const [outside, withFields, again, main, nested, sibling] = lines as [
      Record<string, unknown>,
      Record<string, unknown>,
      Record<string, unknown>,
      Record<string, unknown>,
      Record<string, unknown>,
      Record<string, unknown>,
    ];
    expect(outside.correlationId).toBeUndefined();
    expect(withFields.apiKey).toBe('[REDACTED]');
    expect(again.more).toBe(true);
    expect(again.apiKey).toBeUndefined();
    expect(main.correlationId).toBe('req-42');
    expect(sibling.correlationId).toBe('req-42');
    expect(typeof nested.correlationId).toBe('string');
    expect(nested.correlationId).not.toBe('req-42');
    const raw = JSON.stringify(main);
    for (const secret of ['p4ss', 'smtp-secret', 't0k', 'k3y', 'xoxb-1', 'hunter2', 'abc.def'])
      expect(raw).not.toContain(secret);
    expect(main.password).toBe('[REDACTED]');
    expect((main.exchange as Record<string, unknown>).name).toBe('binance');
    expect(main.msg).toContain('postgres://trader:[REDACTED]@db');
    expect(() => withCorrelationId('', () => 1)).toThrow(expect.objectContaining({ field: 'correlationId' }));
    expect(() => createLogger({ redact: 'x' as never })).toThrow(expect.objectContaining({ field: 'redact' }));
  });
});
