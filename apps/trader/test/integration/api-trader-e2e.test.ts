import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { waitFor } from '@cryptoscalp/testkit';
import type { Browser } from 'playwright-core';
import { afterAll, describe, expect, it } from 'vitest';
import type { PersistenceComponent } from '../../src/app/components/persistence-component.js';
import type { PostgresComponent } from '../../src/app/components/postgres-component.js';
import { createTrader, type Trader } from '../../src/app/trader.js';
import { loadConfig } from '../../src/config/load-config.js';
import { issueToken } from '../../src/http/tokens.js';
import { launchChromium } from './chromium.js';

/**
 * The whole thing: the trader on embedded defaults (simulator, in-process cache, embedded PostgreSQL) as `npm start`
 * composes it (`--role all`: the API reads the read model, commands go over the in-process bus), and the dashboard
 * in headless Chromium showing what the trader really does.
 */
const SECRET = 'e2e-secret-0123456789abcdef-0123456789';
const resultsDir = fileURLToPath(new URL('../../test-results/', import.meta.url));

let app: Trader | undefined;
let browser: Browser | undefined;

afterAll(async () => {
  await browser?.close();
  await app?.stop('test');
}, 60_000);

describe('dashboard over the running trader', () => {
  it('renders live PnL, positions, fills, latency and health of the trading simulator, and halts it', async () => {
    const config = loadConfig({
      env: {},
      overrides: {
        dataDir: mkdtempSync(join(tmpdir(), 'api-e2e-')),
        http: { port: 0, shutdownDelayMs: 0 },
        strategy: { warmupSamples: 60 },
        journal: { fsync: 'never' },
        database: { embedded: 'memory' },
      },
    });
    const trader = createTrader({ config, log: () => {}, jwtSecret: SECRET });
    app = trader;
    const endpoints = await trader.start();

    await waitFor(() => trader.engine().counters.fills >= 2, { timeoutMs: 60_000, intervalMs: 100, what: 'fills' });
    const token = await issueToken({ sub: 'ops', role: 'admin', secret: SECRET, ttl: '10m' });
    browser = await launchChromium();
    const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`${endpoints.http}/#token=${token}`);
    await page.waitForSelector('body[data-ready="true"]', { timeout: 30_000 });
    await page.waitForSelector('#fills tbody tr', { timeout: 30_000 });
    await page.waitForSelector('#positions tbody tr', { timeout: 30_000 });
    await page.waitForSelector('#latency tbody tr[data-stage="tickToDecision"]', { timeout: 30_000 });
    await page.waitForSelector('#health li[data-component="market-data"]', { timeout: 30_000 });
    await page.waitForSelector('#conn-state:text-is("live")', {
      timeout: 30_000,
    });
    // Live: the fills table grows as the simulator trades, pushed through the stream.
    const before = trader.engine().counters.fills;
    await waitFor(() => trader.engine().counters.fills > before, {
      timeoutMs: 60_000,
      intervalMs: 100,
      what: 'a new fill',
    });
    await page.waitForSelector(`#fills tbody tr:nth-child(${Math.min(25, before + 1)})`, { timeout: 30_000 });
    expect(await page.textContent('#pnl-total')).toMatch(/^-?[\d,]+\.\d{2}$/);
    expect(await page.textContent('#risk-mode')).toBe('RUNNING');
    mkdirSync(resultsDir, { recursive: true });
    await page.screenshot({ path: `${resultsDir}dashboard-trader.png`, fullPage: true });

    // The operator halts trading through the API; the engine obeys and the audit log has the row.
    const halt = await fetch(`${endpoints.http}/api/kill-switch`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ mode: 'HALTED', reason: 'e2e drill' }),
    });
    expect(halt.status).toBe(200);
    expect(trader.engine().killSwitch.state).toBe('HALTED');
    await page.waitForSelector('#risk-mode:text-is("HALTED")', {
      timeout: 10_000,
    });
    const { rows } = await trader
      .component<PostgresComponent>('postgres')
      .pool()
      .query<{ actor: string; outcome: string }>(
        `SELECT actor, outcome FROM "${config.database.schema}".audit_log WHERE action = 'kill-switch.engage'`,
      );
    expect(rows).toEqual([{ actor: 'ops', outcome: 'success' }]);
    expect(errors).toEqual([]);
    // The API did not disturb the trader's own persistence.
    const writer = trader.component<PersistenceComponent>('persistence');
    await waitFor(() => writer.stats().degraded === false && writer.stats().lag === 0, {
      timeoutMs: 20_000,
      what: 'journal writer caught up',
    });
  }, 150_000);
});
