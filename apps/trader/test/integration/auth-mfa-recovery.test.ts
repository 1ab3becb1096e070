import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { serviceUrls, uniqueName } from '@cryptoscalp/testkit';
import { generate } from 'otplib';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runTraderCommand } from '../../src/cli/trader-command.js';
import { normalizeRecoveryCode } from '../../src/http/users/recovery-codes.js';
import { localKek } from '../../src/security/kek.js';
import { tempDirs } from '../temp-dir.js';
import { type Harness, type Json, startHarness } from './api-harness.js';

/** MFA recovery codes and the administrator's MFA reset, against the shared PostgreSQL in a schema of its own. */
const tempDir = tempDirs('auth-mfa-');
const KEK = randomBytes(32);
const PASSWORD = 'correct horse battery staple';
let pool: pg.Pool;
let h: Harness;
const schema = uniqueName('auth_mfa');

beforeAll(async () => {
  pool = new pg.Pool({ connectionString: serviceUrls.postgres, max: 6 });
  h = await startHarness({ sessions: { kek: localKek(KEK), maxFailures: 50 } }, { pool, schema });
});

afterAll(async () => {
  await h?.close();
  await pool?.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`).catch(() => {});
  await pool?.end();
});

const secretOf = (uri: string): string => new URL(uri).searchParams.get('secret') as string;
const login = (body: Record<string, string>) => h.call('POST', '/api/auth/login', { body });

async function newUser(): Promise<{ username: string; secret: string; codes: string[] }> {
  const username = uniqueName('m').slice(0, 40);
  const r = await h.call('POST', '/api/users', {
    token: h.tokens.admin,
    body: { username, role: 'trader', password: PASSWORD },
  });
  expect(r.status).toBe(201);
  return { username, secret: secretOf(r.body.otpauthUri), codes: r.body.recoveryCodes };
}

async function audit(action: string): Promise<Json[]> {
  const { rows } = await pool.query(
    `SELECT actor, outcome, detail FROM "${schema}".audit_log WHERE action = $1 ORDER BY id`,
    [action],
  );
  return rows;
}

describe('the OpenAPI document', () => {
  it('documents the auth and user routes from the schemas that validate them', async () => {
    const r = await h.call('GET', '/api/openapi.json');
    expect(r.status).toBe(200);
    const paths = r.body.paths as Record<string, Record<string, Json>>;
    const login = paths['/api/auth/login']?.post;
    expect(login['x-required-role']).toBe('public');
    expect(login.security).toBeUndefined();
    const body = login.requestBody.content['application/json'].schema;
    expect(body.properties).toHaveProperty('username');
    expect(body.properties).toHaveProperty('recoveryCode');
    expect(Object.keys(login.responses)).toEqual(expect.arrayContaining(['200', '400', '401', '429']));
    expect(paths['/api/auth/refresh']?.post).toBeDefined();
    expect(paths['/api/auth/logout']?.post['x-required-role']).toBe('viewer');
    expect(paths['/api/users']?.post['x-required-role']).toBe('admin');
    const reset = paths['/api/users/{username}/mfa/reset']?.post;
    expect(reset.parameters).toContainEqual(expect.objectContaining({ name: 'username', in: 'path', required: true }));
    expect(reset.security).toEqual([{ bearerAuth: [] }]);
    const ids = Object.values(paths).flatMap((p) => Object.values(p).map((o) => o.operationId));
    expect(new Set(ids).size).toBe(ids.length);
  });
});

describe('recovery codes', () => {
  it('are shown once at enrolment, stored hashed, and each logs in once in place of a TOTP code', async () => {
    const u = await newUser();
    expect(u.codes).toHaveLength(10);
    for (const c of u.codes) expect(c).toMatch(/^[a-z2-7]{4}(-[a-z2-7]{4}){3}$/);
    expect(new Set(u.codes).size).toBe(10);
    const { rows } = await pool.query(`SELECT code_id, code_hash FROM "${schema}".recovery_codes WHERE username = $1`, [
      u.username,
    ]);
    expect(rows).toHaveLength(10);
    for (const r of rows) expect(r.code_hash).toMatch(/^\$argon2id\$/);
    expect(JSON.stringify(rows)).not.toContain(
      (normalizeRecoveryCode(u.codes[0] as string) as { secret: string }).secret,
    );

    // Typed in capitals with spaces: accepted once.
    const typed = (u.codes[0] as string).toUpperCase().replace(/-/g, ' ');
    const first = await login({ username: u.username, password: PASSWORD, recoveryCode: typed });
    expect(first.status).toBe(200);
    expect(first.body.accessToken).toEqual(expect.any(String));
    const again = await login({ username: u.username, password: PASSWORD, recoveryCode: u.codes[0] as string });
    expect(again.status).toBe(401);
    // A code needs the password too; a made-up code and another user's code are refused.
    expect(
      (await login({ username: u.username, password: 'wrong password!!', recoveryCode: u.codes[1] as string })).status,
    ).toBe(401);
    expect(
      (await login({ username: u.username, password: PASSWORD, recoveryCode: 'aaaa-bbbb-cccc-dddd' })).status,
    ).toBe(401);
    const other = await newUser();
    expect(
      (await login({ username: u.username, password: PASSWORD, recoveryCode: other.codes[0] as string })).status,
    ).toBe(401);
    // Two logins racing with one code: one wins.
    const race = await Promise.all([
      login({ username: u.username, password: PASSWORD, recoveryCode: u.codes[2] as string }),
      login({ username: u.username, password: PASSWORD, recoveryCode: u.codes[2] as string }),
    ]);
    expect(race.map((r) => r.status).sort()).toEqual([200, 401]);
    // Both factors, or none: a 400 naming the body.
    expect(
      (await login({ username: u.username, password: PASSWORD, totp: '123456', recoveryCode: u.codes[3] as string }))
        .status,
    ).toBe(400);
    expect((await login({ username: u.username, password: PASSWORD })).status).toBe(400);

    const used = await audit('user.mfa.recovery-code');
    expect(used.filter((r) => r.actor === u.username).map((r) => r.detail.recoveryCodesLeft)).toEqual([9, 8]);
    const logins = await audit('session.login');
    expect(logins.filter((r) => r.actor === u.username && r.outcome === 'success').map((r) => r.detail.mfa)).toEqual([
      'recovery-code',
      'recovery-code',
    ]);
    expect(logins.some((r) => r.actor === u.username && r.detail.reason === 'wrong or used recovery code')).toBe(true);
  }, 120_000);
});

describe("an administrator's MFA reset", () => {
  it('replaces the TOTP secret and the recovery codes, revokes the sessions at once, and is audited', async () => {
    const u = await newUser();
    const session = await login({
      username: u.username,
      password: PASSWORD,
      totp: await generate({ secret: u.secret }),
    });
    expect(session.status).toBe(200);
    expect((await h.call('GET', '/api/me', { token: session.body.accessToken })).status).toBe(200);

    expect((await h.call('POST', `/api/users/${u.username}/mfa/reset`, { token: h.tokens.trader })).status).toBe(403);
    expect((await h.call('POST', '/api/users/nobody-at-all/mfa/reset', { token: h.tokens.admin })).status).toBe(404);
    const reset = await h.call('POST', `/api/users/${u.username}/mfa/reset`, { token: h.tokens.admin });
    expect(reset.status).toBe(200);
    expect(reset.body).toMatchObject({ username: u.username, sessionsRevoked: 1 });
    expect(reset.body.recoveryCodes).toHaveLength(10);
    const secret = secretOf(reset.body.otpauthUri);
    expect(secret).not.toBe(u.secret);

    // The old session is refused at once; the old factors no longer work, the new ones do.
    expect((await h.call('GET', '/api/me', { token: session.body.accessToken })).status).toBe(401);
    expect(
      (await h.call('POST', '/api/auth/refresh', { body: { refreshToken: session.body.refreshToken } })).status,
    ).toBe(401);
    expect((await login({ username: u.username, password: PASSWORD, recoveryCode: u.codes[5] as string })).status).toBe(
      401,
    );
    expect(
      (await login({ username: u.username, password: PASSWORD, totp: await generate({ secret: u.secret }) })).status,
    ).toBe(401);
    expect((await login({ username: u.username, password: PASSWORD, totp: await generate({ secret }) })).status).toBe(
      200,
    );
    expect(
      (await login({ username: u.username, password: PASSWORD, recoveryCode: reset.body.recoveryCodes[0] })).status,
    ).toBe(200);

    const rows = await audit('user.mfa.reset');
    expect(rows).toEqual([
      expect.objectContaining({
        actor: 'ada',
        outcome: 'failure',
        detail: expect.objectContaining({ username: 'nobody-at-all' }),
      }),
      expect.objectContaining({
        actor: 'ada',
        outcome: 'success',
        detail: { username: u.username, sessionsRevoked: 1 },
      }),
    ]);
    expect(JSON.stringify(rows)).not.toContain(secret);
    expect(JSON.stringify(await audit('user.mfa.enrol'))).toContain(u.username);
  }, 120_000);

  it('`trader users reset-mfa` does the same from the command line and prints the new URI and codes once', async () => {
    const u = await newUser();
    const out: string[] = [];
    const err: string[] = [];
    const io = {
      out: (l: string) => out.push(l),
      err: (l: string) => err.push(l),
      env: { TRADER_KEK: KEK.toString('base64') },
    };
    const db = ['--database-url', serviceUrls.postgres, '--schema', schema];
    expect(await runTraderCommand(['users', 'reset-mfa', '--username', u.username, ...db], io)).toBe(0);
    const uri = out.find((l) => l.startsWith('otpauth://')) as string;
    const codes = out.filter((l) => /^ {2}[a-z2-7]{4}-/.test(l)).map((l) => l.trim());
    expect(codes).toHaveLength(10);
    expect(
      (await login({ username: u.username, password: PASSWORD, totp: await generate({ secret: secretOf(uri) }) }))
        .status,
    ).toBe(200);
    expect(await runTraderCommand(['users', 'reset-mfa', '--username', 'nobody-at-all', ...db], io)).toBe(1);
    expect(await runTraderCommand(['users', 'reset-mfa', ...db], io)).toBe(2);
    // `users add` prints the recovery codes too.
    const file = join(tempDir(), 'pw');
    writeFileSync(file, PASSWORD);
    out.length = 0;
    const name = uniqueName('cli').slice(0, 40);
    expect(
      await runTraderCommand(
        ['users', 'add', '--username', name, '--role', 'viewer', '--password-file', file, ...db],
        io,
      ),
    ).toBe(0);
    expect(out.filter((l) => /^ {2}[a-z2-7]{4}-/.test(l))).toHaveLength(10);
    expect((await audit('user.mfa.reset')).some((r) => r.actor === 'cli' && r.detail.username === u.username)).toBe(
      true,
    );
  }, 120_000);
});
