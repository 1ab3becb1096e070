import { randomBytes } from 'node:crypto';
import { serviceUrls, uniqueName } from '@cryptoscalp/testkit';
import { generate } from 'otplib';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runTraderCommand } from '../../src/cli/trader-command.js';
import { AuditLog } from '../../src/http/audit-log.js';
import { usersDdl } from '../../src/http/users/ddl.js';
import { migratePlainTotp } from '../../src/http/users/sessions.js';
import { createUser, totpContext } from '../../src/http/users/users.js';
import { ENCRYPTED_FIELDS, fieldContext } from '../../src/security/encrypted-fields.js';
import { generateKeyMaterial, localKek, parseKeyMaterial } from '../../src/security/kek.js';
import { Keyring } from '../../src/security/keyring.js';
import { reencryptAll } from '../../src/security/reencrypt.js';
import { startRotationWorker } from '../../src/security/rotation-worker.js';
import { VenueCredentialStore } from '../../src/security/venue-credentials.js';
import { type Harness, startHarness } from './api-harness.js';

/**
 * Encryption at rest against the shared PostgreSQL, each test in a schema of its own: the keyring, venue credentials,
 * key rotation with writers in flight and a restart midway, the TOTP plaintext migration, `trader keys`.
 */
let pool: pg.Pool;
const schemas: string[] = [];
const KEK = generateKeyMaterial();
const kek = localKek(parseKeyMaterial(KEK, 'kek'));

beforeAll(() => {
  pool = new pg.Pool({ connectionString: serviceUrls.postgres, max: 6 });
});

afterAll(async () => {
  for (const s of schemas) await pool.query(`DROP SCHEMA IF EXISTS "${s}" CASCADE`).catch(() => {});
  await pool?.end();
});

function newSchema(): string {
  const s = uniqueName('keys');
  schemas.push(s);
  return s;
}

async function setup(rows = 0) {
  const schema = newSchema();
  const keyring = new Keyring({ pool, schema, kek });
  await keyring.ready();
  await pool.query(usersDdl(schema));
  const store = new VenueCredentialStore({ keyring, pool });
  for (let i = 0; i < rows; i++)
    await store.put('binance', `acct-${i}`, { apiKey: `key-${i}`, apiSecret: `secret-${i}` });
  return { schema, keyring, store };
}

async function valuesByKey(schema: string): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const f of ENCRYPTED_FIELDS) {
    const { rows } = await pool.query(
      `SELECT ${f.field}_key AS k, count(*)::int AS n FROM "${schema}".${f.table} GROUP BY 1`,
    );
    for (const r of rows) if (r.k !== null) out[r.k] = (out[r.k] ?? 0) + r.n;
  }
  return out;
}

describe('keyring', () => {
  it('seals venue credentials (never in the clear), opens them in another process with the same KEK, not with another', async () => {
    const { schema, keyring, store } = await setup();
    await store.put('binance', 'main', { apiKey: 'AKIA-visible-key', apiSecret: 'very-secret-value' });
    const { rows } = await pool.query(`SELECT * FROM "${schema}".venue_credentials`);
    expect(JSON.stringify(rows)).not.toMatch(/AKIA-visible-key|very-secret-value/);
    expect(rows[0].api_key_enc).toMatch(/^cs1:dk_[0-9a-f]{16}:/);
    expect(rows[0].api_key_key).toBe(await keyring.activeKeyId());

    const restarted = new VenueCredentialStore({ keyring: new Keyring({ pool, schema, kek }), pool });
    expect(await restarted.get('binance', 'main')).toEqual({
      apiKey: 'AKIA-visible-key',
      apiSecret: 'very-secret-value',
    });
    expect(await restarted.get('binance', 'other')).toBeUndefined();
    expect(await restarted.list()).toEqual([expect.objectContaining({ venue: 'binance', account: 'main' })]);

    const wrongKek = new VenueCredentialStore({
      keyring: new Keyring({ pool, schema, kek: localKek(randomBytes(32)) }),
      pool,
    });
    await expect(wrongKek.get('binance', 'main')).rejects.toMatchObject({ code: 'E_KEYRING_KEK_MISMATCH' });
    await expect(store.put('Binance!', 'main', { apiKey: 'a', apiSecret: 'b' })).rejects.toMatchObject({
      field: 'venue',
    });
    await expect(store.put('binance', 'main', { apiKey: '', apiSecret: 'b' })).rejects.toMatchObject({
      field: 'apiKey',
    });
    expect(await store.delete('binance', 'main')).toBe(true);
    expect(await store.delete('binance', 'main')).toBe(false);
  });

  it('refuses a tampered ciphertext and one copied to another account', async () => {
    const { schema, store } = await setup();
    await store.put('binance', 'a', { apiKey: 'key-a', apiSecret: 'secret-a' });
    await store.put('binance', 'b', { apiKey: 'key-b', apiSecret: 'secret-b' });
    // Copied from a to b: both the key column and the ciphertext are consistent, only the row differs.
    await pool.query(
      `UPDATE "${schema}".venue_credentials b SET api_secret_enc = a.api_secret_enc, api_secret_key = a.api_secret_key
         FROM "${schema}".venue_credentials a WHERE a.account = 'a' AND b.account = 'b'`,
    );
    await expect(store.get('binance', 'b')).rejects.toMatchObject({ code: 'E_KEYRING_DECRYPT' });
    const { rows } = await pool.query(`SELECT api_key_enc FROM "${schema}".venue_credentials WHERE account = 'a'`);
    const enc: string = rows[0].api_key_enc;
    const last = enc.at(-2) === 'A' ? 'B' : 'A';
    await pool.query(`UPDATE "${schema}".venue_credentials SET api_key_enc = $1 WHERE account = 'a'`, [
      `${enc.slice(0, -2)}${last}${enc.at(-1)}`,
    ]);
    await expect(store.get('binance', 'a')).rejects.toMatchObject({ code: 'E_KEYRING_DECRYPT' });
  });

  it('keeps a data key that values still use: the foreign keys refuse its deletion', async () => {
    const { schema, keyring } = await setup(1);
    const id = await keyring.activeKeyId();
    await expect(pool.query(`DELETE FROM "${schema}".data_keys WHERE id = $1`, [id])).rejects.toMatchObject({
      code: '23503',
    });
  });
});

describe('key rotation', () => {
  it('re-encrypts every value while writers keep writing, then retires the old key; audited', async () => {
    const { schema, keyring, store } = await setup(60);
    const old = await keyring.activeKeyId();
    const audit = new AuditLog({ pool, schema });
    await audit.init();
    const r = await keyring.rotate('test');
    expect(r.retiring).toEqual([old]);
    expect(await keyring.activeKeyId()).toBe(r.keyId);
    // Writers in flight: a keyring that had the old key cached, and updates of rows being re-encrypted.
    let writes = 0;
    let writing = true;
    const writer = (async () => {
      const other = new VenueCredentialStore({ keyring: new Keyring({ pool, schema, kek }), pool });
      while (writing) {
        const i = writes++;
        await other.put('binance', `acct-${i % 80}`, { apiKey: `key-${i % 80}`, apiSecret: `new-secret-${i}` });
      }
    })();
    const result = await reencryptAll({
      keyring,
      pool,
      actor: 'test',
      batchSize: 7,
      audit: (e) => audit.append(e),
    });
    writing = false;
    await writer;
    expect(writes).toBeGreaterThan(0);
    expect(result).toMatchObject({ unreadable: 0, retired: [old], remaining: [] });
    expect(await valuesByKey(schema)).toEqual({ [r.keyId]: expect.any(Number) });
    for (const a of await store.list()) {
      const c = await store.get(a.venue, a.account);
      expect(c?.apiKey).toBe(a.account.replace('acct', 'key'));
    }
    const status = await keyring.status(ENCRYPTED_FIELDS);
    expect(status.keys.map((k) => [k.id, k.state])).toEqual([
      [old, 'retired'],
      [r.keyId, 'active'],
    ]);
    expect(status.lastRotation).toMatchObject({ newKey: r.keyId, previousKeys: [old], finishedAt: expect.any(String) });
    // Values a writer replaced meanwhile were sealed with the new key by the writer, not by the run.
    expect(result.reencrypted).toBeGreaterThan(0);
    expect(status.lastRotation?.reencrypted).toBe(result.reencrypted);
    await audit.close();
    const { rows } = await pool.query(`SELECT action, outcome, detail FROM "${schema}".audit_log ORDER BY id`);
    expect(rows).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ action: 'key.retire', outcome: 'success', detail: { keyId: old } }),
        expect.objectContaining({ action: 'key.reencrypt', outcome: 'success' }),
      ]),
    );
    // The retired key's material is gone from the database.
    expect(JSON.stringify((await pool.query(`SELECT * FROM "${schema}".retired_data_keys`)).rows)).not.toContain(
      'wrapped',
    );
  }, 120_000);

  it('resumes after a stop midway (a new process picks up the values left) and leaves tampered values on their key', async () => {
    const { schema, keyring, store } = await setup(40);
    const old = await keyring.activeKeyId();
    const r = await keyring.rotate('test');
    const stop = new AbortController();
    const first = await reencryptAll({
      keyring,
      pool,
      actor: 'test',
      batchSize: 5,
      signal: stop.signal,
      onProgress: (p) => {
        if (p.reencrypted >= 10) stop.abort();
      },
    });
    expect(first.remaining).toEqual([old]);
    const midway = await valuesByKey(schema);
    expect(midway[old]).toBeGreaterThan(0);
    expect(midway[r.keyId]).toBeGreaterThanOrEqual(10);
    expect((await keyring.status(ENCRYPTED_FIELDS)).lastRotation?.finishedAt).toBeNull();

    // One value tampered with while the rotation was stopped: one character in the middle of the payload changed to
    // another (the last character may carry unused bits, and replacing it with a fixed one may change nothing).
    const tampered = await pool.query(
      `UPDATE "${schema}".venue_credentials
          SET api_secret_enc = overlay(api_secret_enc PLACING
            (CASE WHEN substr(api_secret_enc, length(api_secret_enc) / 2 + 8, 1) = 'A' THEN 'B' ELSE 'A' END)
            FROM length(api_secret_enc) / 2 + 8 FOR 1)
          WHERE account = 'acct-39' AND api_secret_key = $1`,
      [old],
    );
    expect(tampered.rowCount).toBe(1);
    // "Restart": a new keyring, as a new process would have.
    const restarted = new Keyring({ pool, schema, kek });
    const second = await reencryptAll({ keyring: restarted, pool, actor: 'test', batchSize: 5 });
    expect(second.unreadable).toBe(1);
    expect(second.remaining).toEqual([old]);
    expect(await valuesByKey(schema)).toEqual({ [r.keyId]: 79, [old]: 1 });
    // Repaired (the operator stores the credential again): the next run retires the key.
    await store.put('binance', 'acct-39', { apiKey: 'key-39', apiSecret: 'secret-39' });
    const third = await reencryptAll({ keyring: restarted, pool, actor: 'test' });
    expect(third).toMatchObject({ retired: [old], remaining: [] });
    for (let i = 0; i < 40; i++)
      expect(await store.get('binance', `acct-${i}`)).toEqual({ apiKey: `key-${i}`, apiSecret: `secret-${i}` });
  }, 120_000);

  it('`trader keys rotate --no-wait` leaves the work to the running trader, `status` shows it, `resume` finishes it', async () => {
    const { schema, keyring, store } = await setup(12);
    const old = await keyring.activeKeyId();
    const out: string[] = [];
    const err: string[] = [];
    const io = { out: (l: string) => out.push(l), err: (l: string) => err.push(l), env: { TRADER_KEK: KEK } };
    const db = ['--database-url', serviceUrls.postgres, '--schema', schema];
    expect(await runTraderCommand(['keys', 'rotate', '--no-wait', ...db], io)).toBe(0);
    const next = out.find((l) => l.includes('is the active data key now')) as string;
    const newKey = /dk_[0-9a-f]{16}/.exec(next)?.[0] as string;
    expect(next).toContain(`retiring ${old}`);
    out.length = 0;
    expect(await runTraderCommand(['keys', 'status', '--json', ...db], io)).toBe(0);
    const st = JSON.parse(out[0] as string);
    expect(st.valuesByKey).toEqual({ [old]: 24 });
    expect(st.keys.map((k: { state: string }) => k.state)).toEqual(['retiring', 'active']);

    // The background worker of a running trader finishes it.
    const audit = new AuditLog({ pool, schema });
    await audit.init();
    const worker = startRotationWorker({
      keyring: new Keyring({ pool, schema, kek }),
      pool,
      intervalMs: 50,
      pauseMs: 0,
      audit: (e) => audit.append(e),
    });
    try {
      await expect.poll(async () => valuesByKey(schema), { timeout: 30_000, interval: 100 }).toEqual({ [newKey]: 24 });
      await expect.poll(() => worker.stats().retired, { timeout: 10_000 }).toBe(1);
    } finally {
      await worker.close();
      await audit.close();
    }
    out.length = 0;
    expect(await runTraderCommand(['keys', 'status', ...db], io)).toBe(0);
    expect(out.join('\n')).toMatch(new RegExp(`${old} retired`));
    expect(out.join('\n')).toMatch(/finished/);

    // `rotate` (waiting) does it all at once; `resume` then has nothing left.
    out.length = 0;
    expect(await runTraderCommand(['keys', 'rotate', '--batch-size', '5', ...db], io)).toBe(0);
    expect(out.at(-1)).toMatch(/24 values re-encrypted, 1 keys retired/);
    expect(await runTraderCommand(['keys', 'resume', ...db], io)).toBe(0);
    expect(await store.get('binance', 'acct-3')).toEqual({ apiKey: 'key-3', apiSecret: 'secret-3' });
    // Another KEK: refused, named; usage errors: exit 2.
    const wrong = { ...io, env: { TRADER_KEK: generateKeyMaterial() } };
    expect(await runTraderCommand(['keys', 'rotate', ...db], wrong)).toBe(1);
    expect(err.at(-1)).toMatch(/E_KEYRING_KEK_MISMATCH/);
    expect(await runTraderCommand(['keys', 'spin', ...db], io)).toBe(2);
    expect(await runTraderCommand(['keys', 'rotate', '--batch-size', '0', ...db], io)).toBe(2);
    expect(await runTraderCommand(['keys', 'status', ...db], { ...io, env: { TRADER_KEK: 'short' } })).toBe(2);
    const { rows } = await pool.query(
      `SELECT action, actor FROM "${schema}".audit_log WHERE action LIKE 'key.%' ORDER BY id`,
    );
    expect(rows.map((r) => `${r.actor} ${r.action}`)).toEqual(
      expect.arrayContaining(['cli key.rotate', 'trader key.retire', 'cli key.retire', 'cli key.reencrypt']),
    );
  }, 120_000);

  it('`trader keys rewrap` moves the data keys to a new KEK; the old one is given as TRADER_KEK_PREVIOUS', async () => {
    const { schema, store } = await setup(2);
    const db = ['--database-url', serviceUrls.postgres, '--schema', schema];
    const out: string[] = [];
    const io = (env: Record<string, string>) => ({ out: (l: string) => out.push(l), err: () => {}, env });
    const NEW = generateKeyMaterial();
    expect(await runTraderCommand(['keys', 'rewrap', ...db], io({ TRADER_KEK: NEW, TRADER_KEK_PREVIOUS: KEK }))).toBe(
      0,
    );
    expect(out.at(-1)).toMatch(/1 data keys wrapped again/);
    const newStore = new VenueCredentialStore({
      keyring: new Keyring({ pool, schema, kek: localKek(parseKeyMaterial(NEW, 'kek')) }),
      pool,
    });
    expect(await newStore.get('binance', 'acct-1')).toEqual({ apiKey: 'key-1', apiSecret: 'secret-1' });
    await expect(
      new Keyring({ pool, schema, kek }).decrypt(
        (await pool.query(`SELECT api_key_enc FROM "${schema}".venue_credentials LIMIT 1`)).rows[0].api_key_enc,
        fieldContext('venue_credentials', 'api_key', ['binance', 'acct-0']),
      ),
    ).rejects.toMatchObject({ code: 'E_KEYRING_KEK_MISMATCH' });
    void store;
  });
});

describe('TOTP secrets at rest', () => {
  let h: Harness | undefined;
  afterAll(async () => {
    await h?.close();
  });

  it('encrypts the plaintext secrets of a table from before, drops the column, and the users still log in', async () => {
    const schema = newSchema();
    // The table as the previous version made it, with one enrolled user.
    await pool.query(`CREATE SCHEMA "${schema}"; CREATE TABLE "${schema}".users (
        username text PRIMARY KEY, role text NOT NULL, password_hash text NOT NULL, totp_secret_plain text NOT NULL,
        totp_enrolled boolean NOT NULL DEFAULT false, totp_last_step bigint NOT NULL DEFAULT 0,
        failed_attempts integer NOT NULL DEFAULT 0, first_failure_at timestamptz, locked_until timestamptz,
        created_at timestamptz NOT NULL DEFAULT now(), updated_at timestamptz NOT NULL DEFAULT now())`);
    const { hashPassword } = await import('../../src/http/users/passwords.js');
    const secret = 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP';
    await pool.query(
      `INSERT INTO "${schema}".users (username, role, password_hash, totp_secret_plain, totp_enrolled) VALUES ('old-ada', 'admin', $1, $2, true)`,
      [await hashPassword('an old password, long'), secret],
    );
    h = await startHarness({ sessions: { kek } }, { pool, schema });
    // The login waits for the tables and the migration (every operation does until they have succeeded once).
    const login = await h.call('POST', '/api/auth/login', {
      body: { username: 'old-ada', password: 'an old password, long', totp: await generate({ secret }) },
    });
    expect(login.status).toBe(200);
    const cols = await pool.query(
      `SELECT column_name FROM information_schema.columns WHERE table_schema = $1 AND table_name = 'users'`,
      [schema],
    );
    expect(cols.rows.map((r) => r.column_name)).not.toContain('totp_secret_plain');
    const { rows } = await pool.query(`SELECT * FROM "${schema}".users`);
    expect(JSON.stringify(rows)).not.toContain(secret);
    const keyring = new Keyring({ pool, schema, kek });
    expect(await keyring.decrypt(rows[0].totp_secret_enc, totpContext('old-ada'))).toBe(secret);
    // Idempotent: a second run has nothing to move.
    expect(await migratePlainTotp(pool, schema, keyring)).toBe(0);
    const audit = await pool.query(`SELECT detail FROM "${schema}".audit_log WHERE action = 'key.migrate'`);
    expect(audit.rows[0].detail).toMatchObject({ encrypted: 1, plaintextColumnDropped: true });
  }, 60_000);

  it("stores new users' secrets sealed; a user created with one KEK cannot log in where another KEK runs", async () => {
    const { schema, keyring } = await setup();
    const u = await createUser(
      pool,
      schema,
      keyring,
      { username: 'eve', role: 'viewer', password: 'long enough password' },
      'T',
    );
    const secret = new URL(u.otpauthUri).searchParams.get('secret') as string;
    const { rows } = await pool.query(`SELECT * FROM "${schema}".users`);
    expect(JSON.stringify(rows)).not.toContain(secret);
    expect(u.recoveryCodes).toHaveLength(10);
    expect(await keyring.decrypt(rows[0].totp_secret_enc, totpContext('eve'))).toBe(secret);
  });
});
