import { waitFor } from '@cryptoscalp/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import { BinanceSpotApi } from '../../src/adapters/binance/binance-api.js';
import { BinanceLiveExecution } from '../../src/adapters/binance/live-execution.js';
import type { ReconcileReport } from '../../src/adapters/binance/reconcile.js';
import { BinanceApiError, BinanceRestClient } from '../../src/adapters/binance/rest-client.js';
import { BinanceSigner } from '../../src/adapters/binance/signing.js';
import { BinanceUserDataStream } from '../../src/adapters/binance/user-data-stream.js';
import { loadConfig } from '../../src/config/load-config.js';
import { TradingEngine } from '../../src/engine/trading-engine.js';
import { Journal, type JournalEntry } from '../../src/journal/journal.js';
import type { Fill, Order } from '../../src/model/types.js';
import type { Strategy } from '../../src/strategy/strategy.js';
import { BinanceVenue } from '../fixtures/binance-venue.js';
import { tempDirs } from '../temp-dir.js';

const API_KEY = 'test-api-key-0123456789';
const SECRET = 'test-secret-abcdefghijklmnopqrstuvwxyz';
const tmp = tempDirs('trader-binance-live-');

const config = loadConfig({
  env: {},
  overrides: {
    symbols: ['BTCUSDT'],
    instanceId: 'live',
    strategy: { limitOrderTtlMs: 600_000 },
  },
});

const idle: Strategy = { name: 'idle', onBook: () => undefined, stats: () => ({}) };

function venue(): Promise<BinanceVenue> {
  return new BinanceVenue({
    apiKey: API_KEY,
    hmacSecret: SECRET,
    symbols: [
      {
        symbol: 'BTCUSDT',
        baseAsset: 'BTC',
        quoteAsset: 'USDT',
        tickSize: '0.01000000',
        stepSize: '0.00001000',
        minQty: '0.00001000',
        minNotional: '5.00000000',
      },
    ],
    balances: { BTC: 1, USDT: 100_000 },
  }).start();
}

/** A trader's engine over a journal file, trading on the venue through the live adapter. */
async function trader(
  v: BinanceVenue,
  journalPath: string,
  rest: Partial<{ maxRetryWaitMs: number }> = {},
  rulesRetryMs = 5_000,
) {
  const { journal, recovery } = Journal.open(journalPath, { fsync: 'never' });
  const signer = new BinanceSigner({ type: 'hmac', apiKey: API_KEY, secret: SECRET });
  const api = new BinanceSpotApi(new BinanceRestClient({ baseUrl: v.restUrl, signer, ...rest }));
  const userData = new BinanceUserDataStream({
    wsApiUrl: v.wsApiUrl,
    signer,
    backoff: { initialDelayMs: 20, maxDelayMs: 100 },
    heartbeat: false,
  });
  const reports: ReconcileReport[] = [];
  let engine: TradingEngine | undefined;
  const live = new BinanceLiveExecution({
    api,
    userData,
    symbols: ['BTCUSDT'],
    journal: () => (engine as TradingEngine).orders,
    onReconciled: (r) => {
      reports.push(r);
      engine?.recordVenueReconciliation(r);
    },
    unknownOutcomeCheckMs: 100,
    rulesRetryMs,
  });
  engine = new TradingEngine({ config, journal, strategy: idle, requestSnapshot: () => {}, execution: live });
  const replay = engine.replay(recovery.entries);
  await live.start();
  engine.start();
  engine.onSnapshot('BTCUSDT', {
    lastUpdateId: 1,
    bids: [[50_000, 1]],
    asks: [[50_000.5, 1]],
  });
  const close = async () => {
    await engine?.close();
    journal.close();
  };
  return { engine, live, reports, replay, journalPath, close };
}

function fills(path: string): Fill[] {
  return Journal.read(path)
    .filter((e: JournalEntry) => e.type === 'fill')
    .map((e) => e.data as Fill);
}

function order(engine: TradingEngine, qty: number, price: number, side: 'buy' | 'sell' = 'buy'): Order {
  const o = engine.submit({ symbol: 'BTCUSDT', side, type: 'limit', qty, price });
  if ('rejected' in o) throw new Error(o.rejected);
  return o;
}

describe('Binance live execution against a local venue (REST + WebSocket API)', () => {
  const cleanup: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const fn of cleanup.splice(0).reverse()) await fn();
  });

  it('places orders on the venue steps, takes fills from the user data stream, cancels', async () => {
    const v = await venue();
    cleanup.push(() => v.stop());
    const t = await trader(v, `${tmp()}/journal.jsonl`);
    cleanup.push(t.close);
    await waitFor(() => t.reports.length === 1, { timeoutMs: 10_000 });
    expect(t.reports[0]).toMatchObject({ trigger: 'start', differences: [], fillsApplied: 0 });

    const o = order(t.engine, 0.012345678, 49_999.987);
    expect(o.qty).toBe(0.01234);
    expect(o.price).toBe(49_999.99);
    await waitFor(() => t.engine.orders.get(o.clientOrderId)?.status === 'accepted', { timeoutMs: 5_000 });
    expect(v.order(o.clientOrderId)).toMatchObject({ origQty: '0.01234', price: '49999.99', status: 'NEW' });

    const trade = v.fill(o.clientOrderId, 0.005);
    await waitFor(() => t.engine.orders.get(o.clientOrderId)?.status === 'partially_filled', { timeoutMs: 5_000 });
    expect(fills(t.journalPath)).toEqual([
      expect.objectContaining({
        fillId: `${o.clientOrderId}-t${trade.id}`,
        qty: 0.005,
        price: 49_999.99,
        liquidity: 'maker',
        fee: Number(trade.commission),
      }),
    ]);

    expect(t.engine.cancel(o.clientOrderId, 'test')).toBe(true);
    await waitFor(() => t.engine.orders.get(o.clientOrderId)?.status === 'cancelled', { timeoutMs: 5_000 });
    expect(v.order(o.clientOrderId)?.status).toBe('CANCELED');
    // Below the venue's minimum notional: refused before risk, never sent.
    const tiny = t.engine.submit({ symbol: 'BTCUSDT', side: 'buy', type: 'limit', qty: 0.00001, price: 100 });
    expect(tiny).toEqual({ rejected: expect.stringContaining('NOTIONAL') });
    expect(v.requests.filter((r) => r.method === 'POST')).toHaveLength(1);
  });

  it('journals the venue rejection (-2010) as the order rejected', async () => {
    const v = await venue();
    cleanup.push(() => v.stop());
    const t = await trader(v, `${tmp()}/journal.jsonl`);
    cleanup.push(t.close);
    v.rejectOrders.push({ code: -2010, msg: 'Account has insufficient balance for requested action.' });
    const o = order(t.engine, 0.01, 50_000);
    await waitFor(() => t.engine.orders.get(o.clientOrderId)?.status === 'rejected', { timeoutMs: 5_000 });
    expect(t.engine.orders.get(o.clientOrderId)?.rejectReason).toBe(
      'binance -2010: Account has insufficient balance for requested action.',
    );
    expect(v.order(o.clientOrderId)).toBeUndefined();
  });

  it('waits out a 429 with Retry-After, then the order succeeds; a long 418 ban fails fast', async () => {
    const v = await venue();
    cleanup.push(() => v.stop());
    const t = await trader(v, `${tmp()}/journal.jsonl`, { maxRetryWaitMs: 5_000 });
    cleanup.push(t.close);
    v.failNext('/api/v3/order', { status: 429, retryAfterSec: 1 });
    const sentAt = Date.now();
    const o = order(t.engine, 0.01, 50_000);
    await waitFor(() => t.engine.orders.get(o.clientOrderId)?.status === 'accepted', { timeoutMs: 10_000 });
    const posts = v.requests.filter((r) => r.method === 'POST' && r.path === '/api/v3/order');
    expect(posts.map((r) => r.status)).toEqual([429, 200]);
    // The retry went out no sooner than the venue asked.
    expect((posts[1]?.at ?? 0) - sentAt).toBeGreaterThanOrEqual(950);
    const stats = t.live.stats() as { rest: { rateLimited: number; retries: number } };
    expect(stats.rest).toMatchObject({ rateLimited: 1, retries: 1 });

    v.failNext('/api/v3/order', {
      status: 418,
      retryAfterSec: 120,
      code: -1003,
      msg: 'Way too many requests; IP banned.',
    });
    const banned = order(t.engine, 0.01, 50_000);
    await waitFor(() => t.engine.orders.get(banned.clientOrderId)?.status === 'rejected', { timeoutMs: 5_000 });
    const next = order(t.engine, 0.01, 50_000);
    await waitFor(() => t.engine.orders.get(next.clientOrderId)?.status === 'rejected', { timeoutMs: 5_000 });
    // The second order was refused locally: the venue saw no request during the ban.
    expect(v.requests.filter((r) => r.method === 'POST' && r.path === '/api/v3/order').map((r) => r.status)).toEqual([
      429, 200, 418,
    ]);
  });

  it('reconciles fills made while the user data stream was down, each exactly once', async () => {
    const v = await venue();
    cleanup.push(() => v.stop());
    const t = await trader(v, `${tmp()}/journal.jsonl`);
    cleanup.push(t.close);
    await waitFor(() => t.reports.length === 1, { timeoutMs: 10_000 });
    const a = order(t.engine, 0.02, 50_000);
    const b = order(t.engine, 0.01, 49_990, 'buy');
    await waitFor(() => t.engine.orders.openCount === 2 && v.openOrders().length === 2, { timeoutMs: 5_000 });
    await waitFor(() => t.engine.orders.get(b.clientOrderId)?.status === 'accepted', { timeoutMs: 5_000 });
    v.fill(a.clientOrderId, 0.005); // seen live
    await waitFor(() => fills(t.journalPath).length === 1, { timeoutMs: 5_000 });

    v.dropUserStreams(true);
    await waitFor(() => v.subscribedSockets === 0, { timeoutMs: 5_000 });
    v.fill(a.clientOrderId, 0.007); // during the gap
    v.fill(b.clientOrderId, 0.01); // during the gap: b is filled
    v.fill(a.clientOrderId, 0.003);
    await new Promise((r) => setTimeout(r, 200));
    expect(fills(t.journalPath)).toHaveLength(1);
    v.allowStreams();
    await waitFor(() => t.reports.some((r) => r.trigger === 'reconnect'), { timeoutMs: 10_000 });
    const report = t.reports.find((r) => r.trigger === 'reconnect') as ReconcileReport;
    expect(report.fillsApplied).toBe(3);
    expect(report.differences.filter((d) => d.kind === 'missing-fill')).toHaveLength(3);

    v.fill(a.clientOrderId, 0.005); // after the reconnect: live again, completes a
    await waitFor(() => t.engine.orders.get(a.clientOrderId)?.status === 'filled', { timeoutMs: 5_000 });
    await t.live.requestReconcile('manual');
    expect(t.reports.at(-1)).toMatchObject({ trigger: 'manual', fillsApplied: 0, differences: [] });

    const journaled = fills(t.journalPath);
    const venueTrades = [...v.tradesOf(a.clientOrderId), ...v.tradesOf(b.clientOrderId)];
    expect(journaled.map((f) => f.fillId).sort()).toEqual(
      venueTrades
        .map(
          (tr) => `${tr.orderId === v.order(a.clientOrderId)?.orderId ? a.clientOrderId : b.clientOrderId}-t${tr.id}`,
        )
        .sort(),
    );
    expect(new Set(journaled.map((f) => f.fillId)).size).toBe(journaled.length);
    expect(t.engine.orders.get(b.clientOrderId)?.status).toBe('filled');
    expect(t.engine.portfolio.position('BTCUSDT')).toBeCloseTo(0.03, 10);
    const entries = Journal.read(t.journalPath).filter((e) => e.type === 'venue.reconciled');
    expect(entries.map((e) => (e.data as { trigger: string }).trigger)).toEqual(['start', 'reconnect', 'manual']);
  });

  it('after a restart, reconciles the orders the venue kept: fills while down, a cancel by the venue, foreign orders', async () => {
    const v = await venue();
    cleanup.push(() => v.stop());
    const path = `${tmp()}/journal.jsonl`;
    const first = await trader(v, path);
    const a = order(first.engine, 0.02, 50_000);
    const b = order(first.engine, 0.01, 49_000);
    const c = order(first.engine, 0.01, 48_000);
    await waitFor(
      () => v.openOrders().length === 3 && first.engine.orders.get(c.clientOrderId)?.status === 'accepted',
      {
        timeoutMs: 5_000,
      },
    );
    await first.close(); // the process ends; the venue keeps the orders

    v.fill(a.clientOrderId, 0.008);
    v.fill(b.clientOrderId, 0.01);
    const foreign = v.placeForeign('BTCUSDT', 'web-ui-1', 'SELL', '0.10000', '60000.00');
    v.cancelAtVenue(c.clientOrderId); // someone used the web UI while we were down

    const second = await trader(v, path);
    cleanup.push(second.close);
    expect(second.replay.reconciledByVenue).toBe(3);
    await waitFor(() => second.reports.length === 1, { timeoutMs: 10_000 });
    const report = second.reports[0] as ReconcileReport;
    expect(report).toMatchObject({ trigger: 'start', fillsApplied: 2, openAtVenue: 2 });
    expect(report.differences).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ kind: 'missing-fill', clientOrderId: a.clientOrderId, qty: 0.008 }),
        expect.objectContaining({ kind: 'missing-fill', clientOrderId: b.clientOrderId, qty: 0.01 }),
        { kind: 'closed', clientOrderId: c.clientOrderId, status: 'CANCELED' },
        { kind: 'unknown-open-order', symbol: 'BTCUSDT', clientOrderId: foreign.clientOrderId },
      ]),
    );
    const orders = second.engine.orders;
    expect(orders.get(a.clientOrderId)).toMatchObject({ status: 'partially_filled', filledQty: 0.008 });
    expect(orders.get(b.clientOrderId)).toMatchObject({ status: 'filled', filledQty: 0.01 });
    expect(orders.get(c.clientOrderId)?.status).toBe('cancelled');
    // a is still open at the venue and keeps trading into the restarted engine.
    v.fill(a.clientOrderId, 0.012);
    await waitFor(() => orders.get(a.clientOrderId)?.status === 'filled', { timeoutMs: 5_000 });
    expect(fills(path).map((f) => f.qty)).toEqual([0.008, 0.01, 0.012]);
  });

  it('asks the venue about an order whose placement had no clear answer (5xx), whether it was placed or not', async () => {
    const v = await venue();
    cleanup.push(() => v.stop());
    const t = await trader(v, `${tmp()}/journal.jsonl`);
    cleanup.push(t.close);
    await waitFor(() => t.reports.length === 1, { timeoutMs: 10_000 });
    // Placed, but the answer was lost (504): the check finds it accepted, and its fills follow.
    v.failNext('/api/v3/order', { status: 504, afterProcessing: true });
    const placed = order(t.engine, 0.01, 50_000);
    await waitFor(() => v.order(placed.clientOrderId) !== undefined, { timeoutMs: 5_000 });
    await waitFor(() => t.engine.orders.get(placed.clientOrderId)?.status === 'accepted', { timeoutMs: 5_000 });
    v.fill(placed.clientOrderId, 0.01);
    await waitFor(() => t.engine.orders.get(placed.clientOrderId)?.status === 'filled', { timeoutMs: 5_000 });
    // Never placed (503 before the matching engine): the venue does not know it, so it is rejected.
    v.failNext('/api/v3/order', { status: 503, code: -1001, msg: 'Internal error; unable to process your request.' });
    const lost = order(t.engine, 0.01, 50_000);
    await waitFor(() => t.engine.orders.get(lost.clientOrderId)?.status === 'rejected', { timeoutMs: 5_000 });
    expect(t.engine.orders.get(lost.clientOrderId)?.rejectReason).toContain('-2013');
    expect(t.live.stats()).toMatchObject({ unknownOutcomes: 2 });
    // A cancel the venue refuses (-2011: the order filled while the stream was down) ends in the order's real state.
    const late = order(t.engine, 0.01, 50_000);
    await waitFor(() => t.engine.orders.get(late.clientOrderId)?.status === 'accepted', { timeoutMs: 5_000 });
    v.dropUserStreams(true);
    await waitFor(() => v.subscribedSockets === 0, { timeoutMs: 5_000 });
    v.fill(late.clientOrderId, 0.01);
    expect(t.engine.cancel(late.clientOrderId, 'too late')).toBe(true);
    await waitFor(() => t.engine.orders.get(late.clientOrderId)?.status === 'filled', { timeoutMs: 5_000 });
    expect(t.live.stats()).toMatchObject({ cancelsRefused: 1, fillsFromReconcile: 1 });
    v.allowStreams();
  });

  it('degrades while exchangeInfo fails: orders are refused, then accepted once a retry loads the rules', async () => {
    const v = await venue();
    cleanup.push(() => v.stop());
    v.failNext('/api/v3/exchangeInfo', { status: 500, code: -1000, msg: 'An unknown error occurred.' });
    const t = await trader(v, `${tmp()}/journal.jsonl`, {}, 100);
    cleanup.push(t.close);
    expect(t.live.ready).toBe(false);
    expect(t.engine.submit({ symbol: 'BTCUSDT', side: 'buy', type: 'limit', qty: 0.01, price: 50_000 })).toEqual({
      rejected: 'venue rules: no trading rules for BTCUSDT (exchangeInfo not loaded)',
    });
    await waitFor(() => t.live.ready, { timeoutMs: 5_000 });
    const o = order(t.engine, 0.01, 50_000);
    await waitFor(() => t.engine.orders.get(o.clientOrderId)?.status === 'accepted', { timeoutMs: 5_000 });
    expect(t.live.stats()).toMatchObject({ rulesLoadFailures: 1 });
  });

  it('follows venue-side rejections and expiries, ignores other clients, reports balance drift and retries a failed reconciliation', async () => {
    const v = await venue();
    cleanup.push(() => v.stop());
    const t = await trader(v, `${tmp()}/journal.jsonl`);
    cleanup.push(t.close);
    await waitFor(() => t.reports.length === 1 && v.subscribedSockets === 1, { timeoutMs: 10_000 });
    const a = order(t.engine, 0.01, 50_000);
    const b = order(t.engine, 0.01, 50_000);
    await waitFor(() => t.engine.orders.openCount === 2 && v.openOrders().length === 2, { timeoutMs: 5_000 });
    await waitFor(() => t.engine.orders.get(b.clientOrderId)?.status === 'accepted', { timeoutMs: 5_000 });
    const report = (cid: string, x: string, extra: Record<string, unknown> = {}) => ({
      e: 'executionReport',
      E: Date.now(),
      s: 'BTCUSDT',
      c: cid,
      C: '',
      S: 'BUY',
      o: 'LIMIT',
      q: '0.01',
      p: '50000',
      x,
      X: x,
      r: 'NONE',
      i: v.order(cid)?.orderId ?? 1,
      l: '0',
      z: '0',
      L: '0',
      n: '0',
      N: null,
      T: Date.now(),
      t: -1,
      m: false,
      ...extra,
    });
    v.pushEvent(report('someone-else', 'NEW'));
    v.pushEvent(report(a.clientOrderId, 'EXPIRED'));
    v.pushEvent(report(b.clientOrderId, 'REJECTED', { r: 'INSUFFICIENT_BALANCE' }));
    await waitFor(() => t.engine.orders.openCount === 0, { timeoutMs: 5_000 });
    expect(t.engine.orders.get(a.clientOrderId)?.status).toBe('cancelled');
    expect(t.engine.orders.get(b.clientOrderId)?.status).toBe('cancelled');
    expect(t.engine.orders.get('someone-else')).toBeUndefined();

    // Someone withdrew BTC: the next reconciliation reports the base balance against the journal's position.
    v.balances.BTC = (v.balances.BTC ?? 0) - 0.5;
    await t.live.requestReconcile('manual');
    expect(t.reports.at(-1)?.differences).toEqual([{ kind: 'balance', asset: 'BTC', venue: 0.5, expected: 1 }]);

    // The venue fails during a reconciliation: reported with its error, then retried.
    v.failNext('/api/v3/openOrders', { status: 500, code: -1000, msg: 'An unknown error occurred.' });
    const before = t.reports.length;
    await t.live.requestReconcile('manual');
    expect(t.reports[before]?.error).toMatch(/HTTP 500/);
    await waitFor(() => t.reports.length > before + 1, { timeoutMs: 5_000 });
    expect(t.reports.at(-1)?.error).toBeUndefined();
    expect(t.live.stats()).toMatchObject({ reconcileFailures: 1 });
  });

  it('keeps under the request weight: at the limit it waits for the next minute', async () => {
    const v = await venue();
    cleanup.push(() => v.stop());
    // A clock stopped 30 ms before a minute ends (exchangeInfo is unsigned: the venue does not check it).
    const base = 1_700_000_040_000 - 30;
    const rest = new BinanceRestClient({
      baseUrl: v.restUrl,
      signer: new BinanceSigner({ type: 'hmac', apiKey: API_KEY, secret: SECRET }),
      weightLimit1m: 40,
      now: () => base,
    });
    const api = new BinanceSpotApi(rest);
    await api.exchangeInfo(['BTCUSDT']); // weight 20
    await api.exchangeInfo(['BTCUSDT']); // weight 40: at the limit
    expect(rest.stats()).toMatchObject({ usedWeight1m: 40, weightWaits: 0 });
    await api.exchangeInfo(['BTCUSDT']);
    expect(rest.stats().weightWaits).toBe(1);
    expect(() => new BinanceRestClient({ baseUrl: v.restUrl, signer: rest as never, recvWindowMs: 70_000 })).toThrow(
      /recvWindowMs/,
    );
  });

  it('reports a venue answer it cannot parse and a refused signature as typed errors', async () => {
    const v = await venue();
    cleanup.push(() => v.stop());
    const rest = new BinanceRestClient({
      baseUrl: v.restUrl,
      signer: new BinanceSigner({ type: 'hmac', apiKey: API_KEY, secret: 'wrong-secret' }),
    });
    const error = await new BinanceSpotApi(rest).openOrders('BTCUSDT').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BinanceApiError);
    expect(error).toMatchObject({ status: 400, venueCode: -1022, outcomeUnknown: false, code: 'E_TRADER_VENUE' });
    const down = new BinanceRestClient({
      baseUrl: 'http://127.0.0.1:9',
      signer: new BinanceSigner({ type: 'hmac', apiKey: API_KEY, secret: SECRET }),
      timeoutMs: 500,
    });
    expect(await down.request('GET', '/api/v3/time').catch((e: unknown) => e)).toMatchObject({
      status: 0,
      outcomeUnknown: true,
    });
    expect(() => new BinanceRestClient({ baseUrl: 'ftp://x', signer: rest as never })).toThrow(/http/);
    expect(() => new BinanceRestClient({ baseUrl: v.restUrl, signer: rest as never, bogus: 1 } as never)).toThrow(
      /unknown option bogus/,
    );
  });
});
