import { randomBytes } from 'node:crypto';
import { chmodSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runTraderCommand } from '../../src/cli/trader-command.js';
import { fieldContext } from '../../src/security/encrypted-fields.js';
import { open, parseCiphertext, seal } from '../../src/security/envelope.js';
import { generateKeyMaterial, localKek, parseKeyMaterial } from '../../src/security/kek.js';
import { DEVELOPMENT_KEK_FILE, loadKek } from '../../src/security/kek-source.js';
import { Keyring } from '../../src/security/keyring.js';
import { tempDirs } from '../temp-dir.js';

const tempDir = tempDirs('security-envelope-');
const KEY_ID = 'dk_0123456789abcdef';

describe('AES-256-GCM envelope', () => {
  const key = randomBytes(32);
  const ctx = fieldContext('users', 'totp_secret', ['ada']);

  it('round-trips and names its key and format version in the ciphertext', () => {
    const c = seal(key, KEY_ID, Buffer.from('JBSWY3DPEHPK3PXP'), ctx);
    expect(c).toMatch(/^cs1:dk_0123456789abcdef:[A-Za-z0-9_-]+$/);
    expect(c).not.toContain('JBSWY3DPEHPK3PXP');
    expect(open(key, parseCiphertext(c), ctx).toString()).toBe('JBSWY3DPEHPK3PXP');
    // A fresh nonce per value: the same plaintext twice gives two ciphertexts.
    expect(seal(key, KEY_ID, Buffer.from('JBSWY3DPEHPK3PXP'), ctx)).not.toBe(c);
  });

  it('refuses the wrong key, a tampered byte, a relabelled key id and another row', () => {
    const c = seal(key, KEY_ID, Buffer.from('secret value'), ctx);
    const decrypt =
      (text: string, k = key, context = ctx) =>
      () =>
        open(k, parseCiphertext(text), context);
    expect(decrypt(c, randomBytes(32))).toThrow(expect.objectContaining({ code: 'E_KEYRING_DECRYPT' }));
    const raw = Buffer.from(c.split(':')[2] as string, 'base64url');
    for (const at of [0, 12, raw.length - 1]) {
      const t = Buffer.from(raw);
      t[at] = (t[at] as number) ^ 1;
      expect(decrypt(`cs1:${KEY_ID}:${t.toString('base64url')}`)).toThrow(
        expect.objectContaining({ code: 'E_KEYRING_DECRYPT' }),
      );
    }
    expect(decrypt(c.replace(KEY_ID, 'dk_fedcba9876543210'))).toThrow(
      expect.objectContaining({ code: 'E_KEYRING_DECRYPT' }),
    );
    expect(decrypt(c, key, fieldContext('users', 'totp_secret', ['eve']))).toThrow(
      expect.objectContaining({ code: 'E_KEYRING_DECRYPT' }),
    );
  });

  it.each([
    'JBSWY3DPEHPK3PXP',
    `cs2:${KEY_ID}:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA`,
    'cs1:dk_x:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA',
    `cs1:${KEY_ID}:AAAA`,
    `cs1:${KEY_ID}:AAAA:BBBB`,
  ])('refuses %s as not a ciphertext', (text) => {
    expect(() => parseCiphertext(text)).toThrow(expect.objectContaining({ code: 'E_KEYRING_FORMAT' }));
  });
});

describe('key-encryption keys', () => {
  it('reads 32 bytes as hex or base64 and names the field otherwise, never echoing the value', () => {
    const k = randomBytes(32);
    expect(parseKeyMaterial(k.toString('hex'), 'TRADER_KEK')).toEqual(k);
    expect(parseKeyMaterial(`${k.toString('base64')}\n`, 'TRADER_KEK')).toEqual(k);
    expect(parseKeyMaterial(k.toString('base64url'), 'TRADER_KEK')).toEqual(k);
    for (const bad of ['', 'short', randomBytes(16).toString('hex'), randomBytes(48).toString('base64')]) {
      let err: Error | undefined;
      try {
        parseKeyMaterial(bad, 'TRADER_KEK');
      } catch (e) {
        err = e as Error;
      }
      expect(err).toMatchObject({ code: 'E_KEYRING_INVALID_OPTION', field: 'TRADER_KEK' });
      if (bad !== '') expect(err?.message).not.toContain(bad);
    }
  });

  it('wraps and unwraps a data key, bound to its id; another KEK cannot unwrap it', async () => {
    const a = localKek(randomBytes(32));
    const b = localKek(randomBytes(32));
    expect(a.id).toMatch(/^local:[0-9a-f]{16}$/);
    expect(a.id).not.toBe(b.id);
    const dataKey = randomBytes(32);
    const wrapped = await a.wrap(dataKey, KEY_ID);
    expect(Buffer.from(await a.unwrap(wrapped, KEY_ID))).toEqual(dataKey);
    await expect(b.unwrap(wrapped, KEY_ID)).rejects.toMatchObject({ code: 'E_KEYRING_DECRYPT' });
    await expect(a.unwrap(wrapped, 'dk_fedcba9876543210')).rejects.toMatchObject({ code: 'E_KEYRING_DECRYPT' });
    expect(() => localKek(randomBytes(16))).toThrow(expect.objectContaining({ field: 'kek' }));
  });

  it('refuses bad keyring options naming the field', () => {
    const kek = localKek(randomBytes(32));
    const pool = { query: async () => ({ rows: [] }) };
    expect(() => new Keyring({ pool, schema: 'x"y', kek })).toThrow(expect.objectContaining({ field: 'schema' }));
    expect(() => new Keyring({ pool, schema: 's', kek: {} as never })).toThrow(
      expect.objectContaining({ field: 'kek' }),
    );
    expect(() => new Keyring({ pool, schema: 's', kek, previousKeks: [null as never] })).toThrow(
      expect.objectContaining({ field: 'previousKeks.0' }),
    );
    expect(() => new Keyring({ pool, schema: 's', kek, extra: 1 } as never)).toThrow(
      expect.objectContaining({ field: 'extra' }),
    );
  });
});

describe('where the KEK comes from', () => {
  const dev = { env: 'development', dataDir: '' };

  it('reads TRADER_KEK or the file TRADER_KEK_FILE names, and TRADER_KEK_PREVIOUS', () => {
    const text = generateKeyMaterial();
    const file = join(tempDir(), 'kek');
    writeFileSync(file, `${text}\n`, { mode: 0o600 });
    const fromEnv = loadKek({ TRADER_KEK: text }, { ...dev, dataDir: tempDir() });
    const fromFile = loadKek({ TRADER_KEK_FILE: file, TRADER_KEK_PREVIOUS: generateKeyMaterial() }, dev);
    expect(fromEnv).toMatchObject({ source: 'environment', previous: [] });
    expect(fromFile.source).toBe('file');
    expect(fromFile.kek.id).toBe(fromEnv.kek.id);
    expect(fromFile.previous).toHaveLength(1);
    expect(fromEnv.warning).toBeUndefined();
    expect(() => loadKek({ TRADER_KEK: 'abc' }, dev)).toThrow(
      expect.objectContaining({ code: 'E_TRADER_INVALID_CONFIG', field: 'TRADER_KEK' }),
    );
    expect(() => loadKek({ TRADER_KEK: text, TRADER_KEK_FILE: file }, dev)).toThrow(
      expect.objectContaining({ field: 'TRADER_KEK' }),
    );
    expect(() => loadKek({ TRADER_KEK_FILE: join(tempDir(), 'missing') }, dev)).toThrow(
      expect.objectContaining({ field: 'TRADER_KEK_FILE' }),
    );
  });

  it('refuses production without a KEK, and makes a 0600 development KEK file otherwise, with a warning', () => {
    const dataDir = tempDir();
    expect(() => loadKek({}, { env: 'production', dataDir })).toThrow(
      expect.objectContaining({ code: 'E_TRADER_INVALID_CONFIG', field: 'TRADER_KEK' }),
    );
    const first = loadKek({}, { env: 'development', dataDir });
    const path = join(dataDir, DEVELOPMENT_KEK_FILE);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(first.source).toBe('development');
    expect(first.warning).toContain(path);
    expect(first.warning).toContain('created now');
    expect(first.warning).not.toContain(readFileSync(path, 'utf8').trim());
    const again = loadKek({}, { env: 'development', dataDir });
    expect(again.kek.id).toBe(first.kek.id);
    expect(again.warning).toContain('kept from an earlier run');
    chmodSync(path, 0o644);
    expect(() => loadKek({}, { env: 'development', dataDir })).toThrow(/chmod 600/);
  });

  it('`trader --env production` without a KEK exits 2 and says what to set', async () => {
    const err: string[] = [];
    const code = await runTraderCommand(['--env', 'production', '--data-dir', tempDir()], {
      out: () => {},
      err: (l) => err.push(l),
      env: {
        TRADER_JWT_SECRET: 'kek-test-secret-0123456789abcdefghijklmnopqrstuv',
        TRADER_HTTP_TRUST_PROXY: 'uniquelocal',
      },
    });
    expect(code).toBe(2);
    expect(err.join('\n')).toMatch(/configuration error in TRADER_KEK: TRADER_KEK_FILE \(or TRADER_KEK\) is required/);
  });
});
