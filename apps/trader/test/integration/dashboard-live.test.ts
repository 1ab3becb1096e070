import { existsSync, mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { waitFor } from '@cryptoscalp/testkit';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTrader, type Trader } from '../../src/app/trader.js';
import { loadConfig } from '../../src/config/load-config.js';
import { issueToken } from '../../src/http/tokens.js';

/**
 * The dashboard over the real trader (simulator, paper execution, embedded PostgreSQL in memory, `--role all`) in
 * headless Chromium: after 10 s of trading every panel has data, nothing overflows at 1400 and 800 px, the kill
 * switch asks for confirmation and then changes the engine's state through the API, and a viewer gets no controls.
 * `UPDATE_SCREENSHOTS=1` writes `docs/dashboard/dashboard-{1400,800}.png` (CI leaves the tree clean).
 */
const CHROMIUM = '/usr/bin/chromium';
const SECRET = 'dashboard-live-secret-0123456789abcdef-0123';
const TRADING_MS = 10_000;
const WIDTHS = [1400, 800] as const;
const docsDir = fileURLToPath(new URL('../../../../docs/dashboard/', import.meta.url));
const updateScreenshots = process.env.UPDATE_SCREENSHOTS === '1';

let trader: Trader | undefined;
let browser: Browser | undefined;
let dataDir: string;
let url: string;
let tradingSince: number;
const tokens = { viewer: '', admin: '' };

beforeAll(async () => {
  if (!existsSync(CHROMIUM))
    throw new Error(`Chromium is missing at ${CHROMIUM}: install it with: apt-get install -y chromium`);
  dataDir = mkdtempSync(join(tmpdir(), 'dashboard-live-'));
  const config = loadConfig({
    env: {},
    overrides: {
      dataDir,
      http: { port: 0, shutdownDelayMs: 0 },
      strategy: { warmupSamples: 20 },
      journal: { fsync: 'never' },
      database: { embedded: 'memory' },
    },
  });
  trader = createTrader({ config, log: () => {}, jwtSecret: SECRET });
  const endpoints = await trader.start();
  tradingSince = Date.now();
  url = endpoints.http;
  tokens.viewer = await issueToken({ sub: 'vic', role: 'viewer', secret: SECRET, ttl: '10m' });
  tokens.admin = await issueToken({ sub: 'ops', role: 'admin', secret: SECRET, ttl: '10m' });
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--no-first-run'],
  });
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await trader?.stop('test');
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
}, 60_000);

async function open(token: string, width: number): Promise<{ page: Page; errors: string[] }> {
  const page = await (browser as Browser).newPage({ viewport: { width, height: 1000 }, locale: 'en-US' });
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text());
  });
  await page.goto(`${url}/#token=${token}`);
  await page.waitForSelector('body[data-ready="true"]', { timeout: 20_000 });
  await page.waitForSelector('#conn-state:text-is("live")', { timeout: 20_000 });
  return { page, errors };
}

/** Horizontal overflow of the document and of every panel (scrollWidth beyond clientWidth), as `what: px` lines. */
async function overflows(page: Page): Promise<string[]> {
  return await page.evaluate(`(() => {
    const out = [];
    const doc = document.documentElement;
    if (doc.scrollWidth > doc.clientWidth) out.push('document: ' + (doc.scrollWidth - doc.clientWidth));
    for (const el of document.querySelectorAll('header, main > .card, main > .card *')) {
      if (el.scrollWidth > el.clientWidth + 1 && getComputedStyle(el).overflowX !== 'hidden'
        && !el.closest('.chart') && !el.matches('td, th, .bar-label'))
        out.push((el.id || el.dataset.panel || el.tagName) + ': ' + (el.scrollWidth - el.clientWidth));
    }
    for (const card of document.querySelectorAll('main > .card')) {
      const box = card.getBoundingClientRect();
      for (const child of card.querySelectorAll('*')) {
        const r = child.getBoundingClientRect();
        if (r.width > 0 && (r.right > box.right + 1 || r.left < box.left - 1))
          out.push(card.dataset.panel + ' > ' + (child.id || child.className || child.tagName) + ': ' + Math.round(r.right - box.right));
      }
    }
    return out;
  })()`);
}

const count = (page: Page, selector: string) => page.locator(selector).count();
const dataNumber = async (page: Page, selector: string, key: string) =>
  Number((await page.getAttribute(selector, `data-${key}`)) ?? '0');

describe('dashboard over the running trader', () => {
  it('fills every panel after 10 s of trading, with no overflow at 1400 and 800 px', async () => {
    const { page, errors } = await open(tokens.admin, 1400);
    const t = trader as Trader;
    await page.waitForTimeout(Math.max(0, tradingSince + TRADING_MS - Date.now()));
    // Status and orders are polled every 2 s: one more poll after the 10 s.
    await waitFor(async () => (await count(page, '#health li')) > 0 && (await count(page, '#latency tbody tr')) > 0, {
      timeoutMs: 5_000,
      what: 'status panels',
    });
    expect(await dataNumber(page, '#price-chart', 'points')).toBeGreaterThan(1);
    expect(await count(page, '#price-chart canvas')).toBeGreaterThan(0);
    expect(await count(page, '#depth tbody tr')).toBeGreaterThanOrEqual(5);
    expect(await page.textContent('#depth tbody tr:first-child td:nth-child(2)')).toMatch(/^[\d,]+\.\d{2,6}$/);
    expect(await dataNumber(page, '#pnl-chart', 'points')).toBeGreaterThan(1);
    expect(await page.textContent('#pnl-total')).toMatch(/^-?[\d,]+\.\d{2}$/);
    expect(await count(page, '#health li[data-component]')).toBeGreaterThan(2);
    expect(await page.textContent('#model dd[data-key="samples"]')).toMatch(/^[\d,]+$/);
    expect(await page.textContent('#model dd[data-key="inferenceP99"]')).toMatch(/^[\d,.]+ (µs|ms)$/);
    // Latencies read in µs or ms, never raw fractions of a second.
    for (const text of await page.locator('#latency tbody td:not(:first-child)').allTextContents())
      expect(text).toMatch(/^(-|[\d,.]+ (µs|ms|s))$/);
    expect(await page.textContent('#risk-mode')).toBe('RUNNING');
    expect(await page.locator('#alerts li').count()).toBeGreaterThan(0); // an alert, or 'No active alerts'
    const fills = t.engine().counters.fills;
    if (fills > 0) {
      // Fills since the page loaded come through the stream; earlier ones from REST: either way they are marked.
      await page.waitForSelector('#fills tbody tr', { timeout: 5_000 });
      await page.waitForSelector('#positions tbody tr', { timeout: 5_000 });
      await page.waitForSelector('#exposure li .bar-fill', { timeout: 5_000 });
      const selected = (await page.getAttribute('#price-symbols button[aria-selected="true"]', 'data-symbol')) ?? '';
      const traded = await page.locator('#fills tbody tr td:nth-child(2)').allTextContents();
      if (!traded.includes(selected)) await page.click(`#price-symbols button[data-symbol="${traded[0]}"]`);
      expect(await dataNumber(page, '#price-chart', 'markers')).toBeGreaterThan(0);
    }
    console.log(`dashboard-live: ${fills} fills in ${Date.now() - tradingSince} ms of trading`);

    for (const width of WIDTHS) {
      await page.setViewportSize({ width, height: 1000 });
      await page.waitForFunction(`document.documentElement.clientWidth === ${width}`);
      // Let the charts' ResizeObserver and layout settle before measuring.
      await page.evaluate('new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)))');
      const scroll = await page.evaluate<{ sw: number; cw: number }>(
        '({ sw: document.documentElement.scrollWidth, cw: document.documentElement.clientWidth })',
      );
      expect(scroll.sw, `scrollWidth at ${width} px`).toBeLessThanOrEqual(scroll.cw);
      expect(await overflows(page), `overflow at ${width} px`).toEqual([]);
      if (updateScreenshots) {
        mkdirSync(docsDir, { recursive: true });
        const path = `${docsDir}dashboard-${width}.png`;
        await page.screenshot({ path, fullPage: true });
        expect(statSync(path).size).toBeGreaterThan(20_000);
      }
    }
    expect(errors).toEqual([]);
    await page.close();
  }, 60_000);

  it('asks for confirmation before changing the kill switch, then changes it through the API', async () => {
    const { page, errors } = await open(tokens.admin, 1400);
    const t = trader as Trader;
    expect(await page.isVisible('#kill-controls')).toBe(true);
    expect(await page.isDisabled('#kill-release')).toBe(true); // already RUNNING

    // Cancelled: nothing changes.
    await page.click('#kill-halt');
    await page.waitForSelector('#confirm[open]');
    expect(await page.textContent('#confirm-text')).toContain('HALT');
    await page.click('#confirm button[value="cancel"]');
    await page.waitForSelector('#confirm', { state: 'hidden' });
    expect(t.engine().killSwitch.state).toBe('RUNNING');

    // Confirmed with a reason: the engine halts and the page shows it.
    await page.click('#kill-halt');
    await page.waitForSelector('#confirm[open]');
    await page.fill('#confirm-reason', 'dashboard drill');
    await page.click('#confirm-ok');
    await waitFor(() => t.engine().killSwitch.state === 'HALTED', { timeoutMs: 10_000, what: 'engine halted' });
    await page.waitForSelector('#risk-mode:text-is("HALTED")', { timeout: 10_000 });
    expect(await page.textContent('#risk-reason')).toContain('dashboard drill');

    // And back.
    await page.click('#kill-release');
    await page.waitForSelector('#confirm[open]');
    await page.fill('#confirm-reason', 'drill over');
    await page.click('#confirm-ok');
    await waitFor(() => t.engine().killSwitch.state === 'RUNNING', { timeoutMs: 10_000, what: 'engine running' });
    await page.waitForSelector('#risk-mode:text-is("RUNNING")', { timeout: 10_000 });
    expect(errors).toEqual([]);
    await page.close();
  }, 40_000);

  it('shows a viewer no cancel, acknowledge or kill-switch controls', async () => {
    const { page, errors } = await open(tokens.viewer, 800);
    await page.waitForSelector('#health li', { timeout: 10_000 });
    expect(await page.textContent('#user')).toBe('vic (viewer)');
    expect(await page.isVisible('#kill-controls')).toBe(false);
    expect(await count(page, '#kill-controls button:visible')).toBe(0);
    expect(await count(page, 'button.cancel')).toBe(0);
    expect(await count(page, 'button.ack')).toBe(0);
    expect(errors).toEqual([]);
    await page.close();
  }, 30_000);
});
