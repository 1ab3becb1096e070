import { randomBytes } from 'node:crypto';
import { serviceUrls, uniqueName } from '@cryptoscalp/testkit';
import { generate } from 'otplib';
import pg from 'pg';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { localKek } from '../../src/security/kek.js';
import { type Harness, startHarness } from './api-harness.js';
import { launchChromium } from './chromium.js';

/**
 * The dashboard's login page in headless Chromium against a real server (PostgreSQL in a schema of its own): password
 * and TOTP, a recovery code, tokens in memory only, the renewal before expiry (6 s access tokens), logout.
 */
const PASSWORD = 'correct horse battery staple';
let h: Harness;
let pool: pg.Pool;
let browser: Browser;
const schema = uniqueName('dash_login');

beforeAll(async () => {
  pool = new pg.Pool({ connectionString: serviceUrls.postgres, max: 4 });
  h = await startHarness({ sessions: { kek: localKek(randomBytes(32)), accessTtlSec: 6 } }, { pool, schema });
  browser = await launchChromium();
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await h?.close();
  await pool?.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`).catch(() => {});
  await pool?.end();
});

describe('dashboard login page', () => {
  it('signs in with password and TOTP, keeps the tokens in memory, renews them before expiry, and logs out for good', async () => {
    const username = uniqueName('dash').slice(0, 40);
    const created = await h.call('POST', '/api/users', {
      token: h.tokens.admin,
      body: { username, role: 'trader', password: PASSWORD },
    });
    expect(created.status).toBe(201);
    const secret = new URL(created.body.otpauthUri).searchParams.get('secret') as string;

    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    const issued: string[] = [];
    page.on('response', async (r) => {
      if (/\/api\/auth\/(login|refresh)$/.test(r.url()) && r.status() === 200)
        issued.push(((await r.json()) as { accessToken: string }).accessToken);
    });
    await page.goto(`${h.api.url}/`);
    await page.waitForSelector('#password-form:not([hidden])');
    // The password form is the one shown on top.
    const top = await page.evaluate(
      `document.getElementById('password-form').getBoundingClientRect().top <
       document.getElementById('login-form').getBoundingClientRect().top`,
    );
    expect(top).toBe(true);

    await page.fill('#login-username', username);
    await page.fill('#login-password', 'not the password!');
    await page.fill('#login-code', '123456');
    await page.click('#password-submit');
    await page.waitForSelector('#login-error:text("Wrong username, password or code.")');
    expect(await page.isVisible('#app')).toBe(false);

    await page.fill('#login-password', PASSWORD);
    await page.fill('#login-code', await generate({ secret }));
    await page.click('#password-submit');
    await page.waitForSelector('body[data-ready="true"]', { timeout: 30_000 });
    expect(await page.textContent('#user')).toBe(`${username} (trader)`);
    // Nothing of the session is stored in the browser: memory only.
    const stored = await page.evaluate('JSON.stringify({ ...sessionStorage, ...localStorage })');
    expect(stored).toBe('{}');
    expect(await page.inputValue('#login-password')).toBe('');

    // Renewed before the 6 s access token expires; the API keeps answering after the first token's end.
    await page.waitForSelector('body[data-refreshed="1"]', { timeout: 20_000 });
    await page.waitForSelector('body[data-refreshed="2"]', { timeout: 20_000 });
    expect(issued.length).toBeGreaterThanOrEqual(3);
    const first = issued[0] as string;
    // The first access token runs out (6 s and the verifier's 5 s clock tolerance) while the page stays signed in.
    await expect
      .poll(async () => (await h.call('GET', '/api/me', { token: first })).status, { timeout: 20_000 })
      .toBe(401);
    expect(await page.isVisible('#app')).toBe(true);
    expect(await page.isVisible('#login')).toBe(false);

    // Logout ends the session on the server: its newest access token is refused at once.
    const latest = issued.at(-1) as string;
    expect((await h.call('GET', '/api/me', { token: latest })).status).toBe(200);
    await page.click('#logout');
    await page.waitForSelector('#login:not([hidden])');
    await expect
      .poll(async () => (await h.call('GET', '/api/me', { token: latest })).status, { timeout: 10_000 })
      .toBe(401);

    // A recovery code signs in too (the TOTP code of this step is spent).
    await page.fill('#login-username', username);
    await page.fill('#login-password', PASSWORD);
    await page.fill('#login-code', created.body.recoveryCodes[0]);
    await page.click('#password-submit');
    await page.waitForSelector('body[data-ready="true"]', { timeout: 30_000 });
    expect(await page.isVisible('#app')).toBe(true);
    expect(await page.textContent('#user')).toBe(`${username} (trader)`);
    expect(errors).toEqual([]);
    await page.close();
  }, 120_000);

  it('keeps the development link (token in the URL fragment) working', async () => {
    const page = await browser.newPage();
    await page.goto(`${h.api.url}/#token=${h.tokens.viewer}`);
    await page.waitForSelector('body[data-ready="true"]', { timeout: 30_000 });
    expect(page.url()).not.toContain('token=');
    expect(await page.textContent('#user')).toBe('vera (viewer)');
    await page.close();
  }, 60_000);
});
