import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { serviceUrls, uniqueName, waitFor } from '@cryptoscalp/testkit';
import { Redis } from 'ioredis';
import { generate } from 'otplib';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runTraderCommand } from '../../src/cli/trader-command.js';
import { issueToken } from '../../src/http/tokens.js';
import type { SessionOptions } from '../../src/http/users/options.js';
import { generateKeyMaterial, localKek, parseKeyMaterial } from '../../src/security/kek.js';
import { tempDirs } from '../temp-dir.js';
import { type Harness, type Json, SECRET, startHarness } from './api-harness.js';

/**
 * People login against the shared PostgreSQL (own schema) and Redis (own key prefix), with two gateways `a` and `b`
 * sharing both, and a third `short` with second-long session limits for the expiry cases.
 */
const tempDir = tempDirs('auth-sessions-');
const schema = uniqueName('auth_sess');
const prefix = `${uniqueName('auth')}:revoked:`;
let pool: pg.Pool;
let redis: Redis;
let a: Harness;
let b: Harness;
let short: Harness;
let adminToken: string;
const PASSWORD = 'correct horse battery staple';

// One KEK for the three gateways: they share the database and so its data keys.
const KEK = generateKeyMaterial();
const sessions: SessionOptions = {
  maxFailures: 3,
  lockoutSec: 2,
  revokedKeyPrefix: prefix,
  kek: localKek(parseKeyMaterial(KEK, 'kek')),
};

beforeAll(async () => {
  pool = new pg.Pool({ connectionString: serviceUrls.postgres, max: 6 });
  redis = new Redis(serviceUrls.redis);
  a = await startHarness({ redis, sessions }, { pool, schema });
  b = await startHarness({ redis, sessions }, { pool, schema, trader: a.trader });
  short = await startHarness(
    { redis, sessions: { ...sessions, accessTtlSec: 1, idleTimeoutSec: 2, absoluteTimeoutSec: 4 } },
    { pool, schema, trader: a.trader },
  );
  adminToken = await issueToken({ sub: 'bootstrap', role: 'admin', secret: SECRET });
});

afterAll(async () => {
  for (const h of [a, b, short]) await h?.close();
  const keys = await redis?.keys(`${prefix}*`);
  if (keys !== undefined && keys.length > 0) await redis.del(...keys);
  redis?.disconnect();
  await pool?.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`).catch(() => {});
  await pool?.end();
});

const secretOf = (uri: string): string => new URL(uri).searchParams.get('secret') as string;
/** The code of the step `offset` 30 s steps away from now. */
const code = (secret: string, offset = 0) => generate({ secret, epoch: Math.floor(Date.now() / 1000) + offset * 30 });

/** A new user through the API; returns its TOTP secret. */
async function newUser(role: 'viewer' | 'trader' | 'admin' = 'trader'): Promise<{ username: string; secret: string }> {
  const username = uniqueName('u').slice(0, 40);
  const r = await a.call('POST', '/api/users', { token: adminToken, body: { username, role, password: PASSWORD } });
  expect(r.status).toBe(201);
  expect(r.body.otpauthUri).toMatch(/^otpauth:\/\/totp\//);
  return { username, secret: secretOf(r.body.otpauthUri) };
}

const login = (h: Harness, username: string, password: string, totp: string) =>
  h.call('POST', '/api/auth/login', { body: { username, password, totp } });

async function auditRows(action: string): Promise<Json[]> {
  const { rows } = await pool.query(
    `SELECT actor, outcome, detail FROM "${schema}".audit_log WHERE action = $1 ORDER BY id`,
    [action],
  );
  return rows;
}

describe('login with password and TOTP', () => {
  it('issues a session token pair and refuses every wrong credential with one message', async () => {
    const u = await newUser();
    const missing = await a.call('POST', '/api/auth/login', { body: { username: u.username, password: PASSWORD } });
    expect(missing.status).toBe(400);
    expect(missing.body.field).toBe('body.totp');
    const current = await code(u.secret);
    const wrongTotp = await login(a, u.username, PASSWORD, current === '000000' ? '111111' : '000000');
    const wrongPassword = await login(a, u.username, 'not the password!', await code(u.secret));
    const unknown = await login(a, 'nobody-here', PASSWORD, await code(u.secret));
    for (const r of [wrongTotp, wrongPassword, unknown]) {
      expect(r.status).toBe(401);
      expect(r.body.message).toBe(wrongTotp.body.message);
    }
    const ok = await login(a, u.username, PASSWORD, await code(u.secret));
    expect(ok.status).toBe(200);
    expect(Object.keys(ok.body).sort()).toEqual(['accessToken', 'expiresIn', 'refreshToken']);
    expect(ok.body.expiresIn).toBe(900);
    const me = await b.call('GET', '/api/me', { token: ok.body.accessToken });
    expect(me.status).toBe(200);
    expect(me.body.sub).toBe(u.username);
    const denied = (await auditRows('session.login')).filter((r) => r.outcome === 'denied').map((r) => r.detail.reason);
    expect(denied).toEqual(expect.arrayContaining(['wrong or reused TOTP code', 'wrong password', 'unknown user']));
    expect((await auditRows('user.mfa.enrol')).some((r) => r.actor === u.username)).toBe(true);
  });

  it('accepts a TOTP code once', async () => {
    const u = await newUser();
    const c = await code(u.secret);
    expect((await login(a, u.username, PASSWORD, c)).status).toBe(200);
    expect((await login(b, u.username, PASSWORD, c)).status).toBe(401);
    // An older code (the previous step, still inside the window) is refused too once a newer one was used.
    expect((await login(a, u.username, PASSWORD, await code(u.secret, -1))).status).toBe(401);
  });

  it('locks a user after repeated failures, right password or not, until the lockout ends', async () => {
    const u = await newUser();
    for (let i = 0; i < 3; i++) expect((await login(a, u.username, 'wrong password!!', '123456')).status).toBe(401);
    const locked = await login(b, u.username, PASSWORD, await code(u.secret, -1));
    expect(locked.status).toBe(401);
    const reasons = (await auditRows('session.login')).filter((r) => r.detail.username === u.username);
    expect(reasons.at(-2).detail.lockedForSec).toBe(2);
    expect(reasons.at(-1).detail.reason).toBe('locked');
    await waitFor(async () => (await login(a, u.username, PASSWORD, await code(u.secret))).status === 200, {
      timeoutMs: 5_000,
      intervalMs: 500,
      what: 'the lockout to end',
    });
  });
});

describe('refresh, reuse and logout', () => {
  it('rotates the pair; a rotated refresh token presented again revokes the whole session on every gateway', async () => {
    const u = await newUser();
    const first = (await login(a, u.username, PASSWORD, await code(u.secret))).body;
    const second = await b.call('POST', '/api/auth/refresh', { body: { refreshToken: first.refreshToken } });
    expect(second.status).toBe(200);
    expect(second.body.refreshToken).not.toBe(first.refreshToken);
    expect((await a.call('GET', '/api/me', { token: second.body.accessToken })).status).toBe(200);
    // The first refresh token again: reuse. The session (family) ends, with its newest tokens.
    const reuse = await a.call('POST', '/api/auth/refresh', { body: { refreshToken: first.refreshToken } });
    expect(reuse.status).toBe(401);
    expect(
      (await b.call('POST', '/api/auth/refresh', { body: { refreshToken: second.body.refreshToken } })).status,
    ).toBe(401);
    for (const h of [a, b]) {
      expect((await h.call('GET', '/api/me', { token: second.body.accessToken })).status).toBe(401);
      expect((await h.call('GET', '/api/me', { token: first.accessToken })).status).toBe(401);
    }
    expect((await auditRows('session.reuse')).some((r) => r.actor === u.username)).toBe(true);
    expect((await auditRows('session.revoke')).some((r) => r.detail.reason === 'refresh token reuse')).toBe(true);
  });

  it('refuses an access token right after logout, on the other gateway too; service tokens keep working', async () => {
    const u = await newUser();
    const pair = (await login(a, u.username, PASSWORD, await code(u.secret))).body;
    expect((await b.call('GET', '/api/positions', { token: pair.accessToken })).status).toBe(200);
    expect((await a.call('POST', '/api/auth/logout', { token: pair.accessToken })).status).toBe(204);
    const after = await b.call('GET', '/api/positions', { token: pair.accessToken });
    expect(after.status).toBe(401);
    expect(after.body.message).toBe('session revoked');
    expect((await a.call('GET', '/api/me', { token: pair.accessToken })).status).toBe(401);
    expect((await b.call('POST', '/api/auth/refresh', { body: { refreshToken: pair.refreshToken } })).status).toBe(401);
    // The revocation key lives as long as the session's longest access token could (plus slack), no longer.
    const ttl = await redis.ttl(
      `${prefix}${JSON.parse(Buffer.from(pair.accessToken.split('.')[1], 'base64url').toString()).sid}`,
    );
    expect(ttl).toBeGreaterThan(900);
    expect(ttl).toBeLessThanOrEqual(960);
    const service = a.tokens.viewer;
    expect((await b.call('GET', '/api/me', { token: service })).status).toBe(200);
    const serviceLogout = await a.call('POST', '/api/auth/logout', { token: service });
    expect(serviceLogout.status).toBe(400);
    expect((await auditRows('session.logout')).some((r) => r.actor === u.username)).toBe(true);
  });

  it('without Redis, shares revocations through PostgreSQL', async () => {
    const u = await newUser();
    const c = await startHarness({ sessions }, { pool, schema, trader: a.trader });
    const d = await startHarness({ sessions }, { pool, schema, trader: a.trader });
    try {
      const pair = (await login(c, u.username, PASSWORD, await code(u.secret))).body;
      expect((await d.call('GET', '/api/me', { token: pair.accessToken })).status).toBe(200);
      expect((await c.call('POST', '/api/auth/logout', { token: pair.accessToken })).status).toBe(204);
      expect((await d.call('GET', '/api/me', { token: pair.accessToken })).status).toBe(401);
    } finally {
      await c.close();
      await d.close();
    }
  });

  it('ends sessions when idle and absolutely', async () => {
    const u = await newUser();
    const idle = (await login(short, u.username, PASSWORD, await code(u.secret, -1))).body;
    expect(idle.expiresIn).toBe(1);
    await new Promise((r) => setTimeout(r, 2_500));
    expect((await short.call('POST', '/api/auth/refresh', { body: { refreshToken: idle.refreshToken } })).status).toBe(
      401,
    );
    expect((await auditRows('session.revoke')).some((r) => r.detail.reason === 'session idle')).toBe(true);

    // Refreshed every 0.5 s (never idle for the 2 s limit), the session still ends 4 s after login.
    let pair = (await login(short, u.username, PASSWORD, await code(u.secret))).body;
    const start = Date.now();
    let status = 200;
    while (status === 200 && Date.now() - start < 8_000) {
      await new Promise((r) => setTimeout(r, 500));
      const r = await short.call('POST', '/api/auth/refresh', { body: { refreshToken: pair.refreshToken } });
      status = r.status;
      if (r.status === 200) {
        expect(r.body.expiresIn).toBeLessThanOrEqual(1);
        pair = r.body;
      }
    }
    expect(status).toBe(401);
    expect(Date.now() - start).toBeGreaterThanOrEqual(3_000);
    expect(Date.now() - start).toBeLessThan(7_000);
    expect((await auditRows('session.revoke')).some((r) => r.detail.reason === 'session expired')).toBe(true);
  });
});

describe('user management', () => {
  it('lets admins only create users, naming the bad field', async () => {
    const body = { username: uniqueName('v').slice(0, 40), role: 'viewer', password: PASSWORD };
    expect((await a.call('POST', '/api/users', { token: a.tokens.trader, body })).status).toBe(403);
    expect((await a.call('POST', '/api/users', { token: adminToken, body })).status).toBe(201);
    const dup = await a.call('POST', '/api/users', { token: adminToken, body });
    expect(dup.status).toBe(409);
    expect(dup.body.field).toBe('body.username');
    const weak = await a.call('POST', '/api/users', {
      token: adminToken,
      body: { ...body, username: 'x1', password: 'short' },
    });
    expect(weak.status).toBe(400);
    expect(weak.body.field).toBe('body.password');
    const extra = await a.call('POST', '/api/users', { token: adminToken, body: { ...body, admin: true } });
    expect(extra.status).toBe(400);
    const rows = await auditRows('user.create');
    expect(rows.filter((r) => r.outcome === 'success').length).toBeGreaterThan(0);
    expect(rows.some((r) => r.outcome === 'failure' && r.detail.username === body.username)).toBe(true);
    const { rows: stored } = await pool.query(`SELECT password_hash FROM "${schema}".users WHERE username = $1`, [
      body.username,
    ]);
    expect(stored[0].password_hash).toMatch(/^\$argon2id\$v=19\$m=19456,p=1,t=2\$/);
  });

  it('`trader users add` creates the first admin, who can log in', async () => {
    const out: string[] = [];
    const err: string[] = [];
    const io = { out: (l: string) => out.push(l), err: (l: string) => err.push(l), env: { TRADER_KEK: KEK } };
    const file = join(tempDir(), 'pw');
    writeFileSync(file, `${PASSWORD}\n`);
    const db = ['--database-url', serviceUrls.postgres, '--schema', schema];
    const username = uniqueName('root').slice(0, 40);
    expect(
      await runTraderCommand(
        ['users', 'add', '--username', username, '--role', 'admin', '--password-file', file, ...db],
        io,
      ),
    ).toBe(0);
    const uri = out.find((l) => l.startsWith('otpauth://')) as string;
    expect(uri).toContain(`CryptoScalp:${username}`);
    const pair = (await login(b, username, PASSWORD, await code(secretOf(uri)))).body;
    const me = await a.call('GET', '/api/me', { token: pair.accessToken });
    expect(me.body).toMatchObject({ sub: username, role: 'admin' });
    // Taken, missing option, unknown option.
    expect(
      await runTraderCommand(
        ['users', 'add', '--username', username, '--role', 'admin', '--password-file', file, ...db],
        io,
      ),
    ).toBe(1);
    expect(err.at(-1)).toContain('exists');
    expect(await runTraderCommand(['users', 'add', '--username', 'x', '--password-file', file, ...db], io)).toBe(2);
    expect(err.some((l) => l.includes('--role is required'))).toBe(true);
    expect(await runTraderCommand(['users', 'add', '--bogus', ...db], io)).toBe(2);
    expect((await auditRows('user.create')).some((r) => r.actor === 'cli' && r.detail.username === username)).toBe(
      true,
    );
  });
});
