import { mkdirSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { waitFor } from '@cryptoscalp/testkit';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Harness, type Json, startHarness } from './api-harness.js';
import { launchChromium } from './chromium.js';

const resultsDir = fileURLToPath(new URL('../../test-results/', import.meta.url));
const screenshot = `${resultsDir}dashboard.png`;

let h: Harness;
let browser: Browser;

beforeAll(async () => {
  h = await startHarness();
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  await h?.close();
});

describe('dashboard in headless Chromium', () => {
  it('renders REST state, then live data pushed through the stream, and saves a screenshot', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 1000 }, locale: 'en-US' });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(m.text());
    });
    const external: string[] = [];
    const carryingToken: string[] = [];
    page.on('request', (r) => {
      // The token reaches the server in headers and the stream's subprotocol only, never in a URL (proxy logs).
      if (r.url().includes(h.tokens.viewer)) carryingToken.push(r.url());
      if (!r.url().startsWith(h.api.url) && !r.url().startsWith(h.api.url.replace('http', 'ws')))
        external.push(r.url());
    });

    await page.goto(`${h.api.url}/#token=${h.tokens.viewer}`);
    await page.waitForSelector('body[data-ready="true"]', { timeout: 20_000 });
    // The token left the address bar (it came in the fragment, never sent to the server) for sessionStorage.
    expect(page.url()).not.toContain('token=');
    expect(await page.evaluate("sessionStorage.getItem('cryptoscalp.trader.token')")).toBe(h.tokens.viewer);
    expect(await page.textContent('#user')).toBe('vera (viewer)');
    expect(await page.textContent('#positions tbody tr[data-symbol="BTCUSDT"] td:nth-child(2)')).toBe('0.0500');
    // Latencies in the unit that reads best (the API gives milliseconds): 0.61 ms is 610 µs, 2.4 ms stays ms.
    expect(await page.textContent('#latency tbody tr[data-stage="decision"] td:nth-child(3)')).toBe('610 µs');
    expect(await page.textContent('#latency tbody tr[data-stage="journal"] td:nth-child(3)')).toBe('2.40 ms');
    expect(await page.textContent('#latency tbody tr[data-stage="journal"] td:nth-child(4)')).toBe('-');
    expect(await page.textContent('#health li[data-component="ws-manager"]')).toContain('warn');
    expect(await page.textContent('#alerts')).toContain('feed-stale');
    expect(await page.textContent('#model dd[data-key="hitRate"]')).toBe('58.5%');
    expect(await page.textContent('#model dd[data-key="samples"]')).toBe('1,234');
    expect(await page.textContent('#model dd[data-key="inferenceP50"]')).toBe('4 µs');
    expect(await page.textContent('#model dd[data-key="inferenceP99"]')).toBe('31 µs');
    // Exposure against risk.maxPositionNotional (5,000): the fake's BTCUSDT position is 3,005 at the mark.
    expect(await page.textContent('#exposure li[data-symbol="BTCUSDT"]')).toBe('BTCUSDT 3,005 / 5,000 (60%)');
    // The REST fill is marked on the price chart at its own price, before any live price.
    expect(await page.getAttribute('#price-chart', 'data-markers')).toBe('1');
    expect(await page.locator('#price-symbols button').allTextContents()).toEqual(['BTCUSDT', 'ETHUSDT']);
    await page.waitForSelector('#conn-state:text-is("live")', {
      timeout: 20_000,
    });
    await waitFor(() => h.api.stats().stream.clients === 1, { timeoutMs: 10_000, what: 'stream client' });

    // Push a PnL curve (a point a second), a new position, a fill and an alert through the live stream.
    const t0 = Date.now();
    const push = async () => {
      for (let i = 1; i <= 40; i++)
        h.trader.emit({
          type: 'pnl',
          pnl: { ...h.trader.pnlNow, total: Math.round(Math.sin(i / 5) * 4000 + i * 100) / 100, ts: t0 + i * 1_000 },
        });
      h.trader.emit({
        type: 'position',
        position: {
          symbol: 'SOLUSDT',
          qty: -12.5,
          avgPrice: 150,
          markPrice: 148,
          notional: 1850,
          realizedPnl: 0,
          unrealizedPnl: 25,
          fees: 0.3,
        },
      });
      h.trader.emit({
        type: 'fill',
        fill: {
          fillId: 'live-fill-1',
          clientOrderId: 'trader-1-000099',
          symbol: 'SOLUSDT',
          side: 'sell',
          price: 150,
          qty: 12.5,
          fee: 0.3,
          liquidity: 'maker',
          ts: Date.now(),
        },
      });
      for (let i = 0; i < 5; i++) {
        h.trader.emit({
          type: 'price',
          symbol: 'BTCUSDT',
          price: 60_000 + i,
          bid: 59_999 + i,
          ask: 60_001 + i,
          ts: t0 + i * 1_000,
        });
        h.trader.emit({
          type: 'book',
          symbol: 'BTCUSDT',
          bids: [
            [59_999.5 + i, 0.25],
            [59_999 + i, 1.5],
          ],
          asks: [[60_000.5 + i, 0.5]],
          ts: t0 + i * 1_000,
        });
      }
      h.trader.emit({
        type: 'fill',
        fill: {
          fillId: 'live-fill-2',
          clientOrderId: 'trader-1-000098',
          symbol: 'BTCUSDT',
          side: 'buy',
          price: 60_002,
          qty: 0.01,
          fee: 0.24,
          liquidity: 'taker',
          ts: t0 + 2_000,
        },
      });
      h.trader.emit({
        type: 'alert',
        alert: { id: 'a-9', name: 'drawdown', severity: 'critical', state: 'firing', summary: 'drawdown 310 > 300' },
      });
    };
    // The page subscribes right after its welcome message; retry the push until it shows (offsets make repeats harmless).
    await expectEventually(async () => {
      await push();
      await page.waitForSelector('#positions tbody tr[data-symbol="SOLUSDT"]', { timeout: 1_000 });
    });
    await page.waitForSelector('#fills tbody tr[data-fill-id="live-fill-1"]', { timeout: 10_000 });
    await page.waitForSelector('#alerts:has-text("drawdown 310")', {
      timeout: 10_000,
    });
    // Price points a second (after the REST fill's point) and both fills marked; the book's top levels.
    await page.waitForSelector('#price-chart[data-points="6"][data-markers="2"]', { timeout: 10_000 });
    await page.waitForSelector('#depth tbody tr:nth-child(2)', { timeout: 10_000 });
    expect(await page.locator('#depth tbody tr:first-child td').allTextContents()).toEqual([
      '0.2500',
      '60,003.50',
      '60,004.50',
      '0.5000',
    ]);
    expect(await page.textContent('#depth tbody tr:nth-child(2) td:nth-child(3)')).toBe('-');
    expect(await page.textContent('#price-last')).toBe('60,004.00');
    const total = await page.textContent('#pnl-total');
    expect(Number(total)).toBeCloseTo(Math.round(Math.sin(40 / 5) * 4000 + 4000) / 100, 2);
    expect(await page.textContent('#positions tbody tr[data-symbol="SOLUSDT"] td:nth-child(2)')).toBe('-12.5000');
    // The curve was drawn: a point a second in the series, and the chart's canvases are not blank.
    expect(Number(await page.getAttribute('#pnl-chart', 'data-points'))).toBeGreaterThanOrEqual(40);
    const inked = await page.evaluate<number>(`(() => {
      let n = 0;
      for (const c of document.querySelectorAll('#pnl-chart canvas')) {
        const data = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        for (let i = 3; i < data.length; i += 4) if (data[i] > 0) n++;
      }
      return n;
    })()`);
    expect(inked).toBeGreaterThan(200);

    mkdirSync(resultsDir, { recursive: true });
    await page.screenshot({ path: screenshot, fullPage: true });
    expect(statSync(screenshot).size).toBeGreaterThan(10_000);
    expect(errors).toEqual([]);
    expect(external).toEqual([]);
    expect(carryingToken).toEqual([]);
    await page.close();
  });

  it('gives a trader cancel and acknowledge buttons that act through the API, and a viewer none', async () => {
    const viewer = await browser.newPage({ locale: 'en-US' });
    await viewer.goto(`${h.api.url}/#token=${h.tokens.viewer}`);
    await viewer.waitForSelector('#orders tbody tr[data-order-id="trader-1-000002"]', { timeout: 20_000 });
    await viewer.waitForSelector('#alerts li[data-alert-id="a-1"]');
    expect(await viewer.locator('button.cancel').count()).toBe(0);
    expect(await viewer.locator('button.ack').count()).toBe(0);
    expect(await viewer.isVisible('#kill-controls')).toBe(false);
    await viewer.close();

    const page = await browser.newPage({ locale: 'en-US' });
    await page.goto(`${h.api.url}/#token=${h.tokens.trader}`);
    const row = '#orders tbody tr[data-order-id="trader-1-000002"]';
    await page.waitForSelector(row, { timeout: 20_000 });
    // The filled order is not listed as open.
    expect(await page.locator('#orders tbody tr[data-order-id="trader-1-000001"]').count()).toBe(0);
    expect(await page.isVisible('#kill-controls')).toBe(false); // the kill switch is the admin's
    await page.click(`${row} button.cancel`);
    await page.waitForSelector(row, { state: 'detached', timeout: 10_000 }); // gone at the next poll
    const auth = { headers: { authorization: `Bearer ${h.tokens.trader}` } };
    const order: Json = await (await fetch(`${h.api.url}/api/orders/trader-1-000002`, auth)).json();
    expect(order.order.status).toBe('cancelled');

    await page.click('#alerts li[data-alert-id="a-1"] button.ack');
    await page.waitForSelector('#alerts li[data-alert-id="a-1"] .tag:text-is("acknowledged")', { timeout: 10_000 });
    const alerts: Json = await (await fetch(`${h.api.url}/api/alerts`, auth)).json();
    expect(alerts.find((a: Json) => a.id === 'a-1').acknowledged).toBe(true);
    await page.close();
  });

  it('shows the login form without a token and signs in with one', async () => {
    const page = await browser.newPage();
    await page.goto(`${h.api.url}/`);
    await page.waitForSelector('#login:not([hidden])');
    await page.fill('#token-input', 'not-a-token');
    await page.click('#login button[type="submit"]');
    await page.waitForSelector('#login-error:not(:empty)');
    expect(await page.isVisible('#app')).toBe(false);
    await page.fill('#token-input', h.tokens.trader);
    await page.click('#login button[type="submit"]');
    await page.waitForSelector('body[data-ready="true"]', { timeout: 20_000 });
    expect(await page.textContent('#user')).toBe('theo (trader)');
    await page.close();
  });
});

async function expectEventually(attempt: () => Promise<void>, tries = 20): Promise<void> {
  let last: unknown;
  for (let i = 0; i < tries; i++) {
    try {
      return await attempt();
    } catch (e) {
      last = e;
    }
  }
  throw last;
}
