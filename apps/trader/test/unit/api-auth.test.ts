import { execFile } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { bearerToken, TokenVerifier } from '../../src/http/auth.js';
import { isApiError } from '../../src/http/errors.js';
import { roleAtLeast } from '../../src/http/roles.js';
import { issueToken } from '../../src/http/tokens.js';

const SECRET = 'unit-secret-0123456789abcdef-0123456789';

describe('TokenVerifier', () => {
  it('accepts a valid HS256 token and returns the principal, from cache the second time', async () => {
    const v = new TokenVerifier({ secret: SECRET });
    const token = await issueToken({ sub: 'alice', role: 'trader', secret: SECRET, ttl: 60 });
    const p = await v.verify(token);
    expect(p).toMatchObject({ sub: 'alice', role: 'trader' });
    expect(p.tokenId).toMatch(/^[0-9a-f]{16}$/);
    expect(p.exp - Date.now() / 1000).toBeGreaterThan(50);
    expect(await v.verify(token)).toBe(p);
    expect(v.cachedTokens).toBe(1);
    expect(v.algorithm).toBe('HS256');
  });

  it('rejects missing, malformed, forged, expired and wrong-audience tokens with E_API_UNAUTHORIZED', async () => {
    const v = new TokenVerifier({ secret: SECRET, clockToleranceSec: 0 });
    const reasons: string[] = [];
    for (const t of [
      undefined,
      '',
      'abc.def.ghi',
      await issueToken({ sub: 'a', role: 'admin', secret: 'another-secret-0123456789abcdef-xyz' }),
      await issueToken({ sub: 'a', role: 'admin', secret: SECRET, ttl: -1 }),
      await issueToken({ sub: 'a', role: 'admin', secret: SECRET, audience: 'other' }),
      await issueToken({ sub: 'a', role: 'admin', secret: SECRET, issuer: 'other' }),
    ]) {
      const e = await v.verify(t).catch((err: unknown) => err);
      expect(isApiError(e) && e.code === 'E_API_UNAUTHORIZED' && e.status === 401).toBe(true);
      reasons.push((e as Error).message);
    }
    expect(reasons).toEqual([
      'missing bearer token',
      'missing bearer token',
      'invalid token',
      'invalid token',
      'token expired',
      'token claim aud invalid',
      'token claim iss invalid',
    ]);
  });

  it('enforces expiry on cached tokens too', async () => {
    const v = new TokenVerifier({ secret: SECRET, clockToleranceSec: 0 });
    // exp is whole seconds: ttl 2 leaves at least one second for the first, fresh verification.
    const token = await issueToken({ sub: 'a', role: 'viewer', secret: SECRET, ttl: 2 });
    const { exp } = await v.verify(token);
    expect(v.cachedTokens).toBe(1);
    while (Date.now() / 1000 <= exp) await new Promise((r) => setTimeout(r, 50));
    await expect(v.verify(token)).rejects.toThrow(/expired/);
    expect(v.cachedTokens).toBe(0);
  });

  it('bounds the verified-token cache', async () => {
    const v = new TokenVerifier({ secret: SECRET, cacheSize: 2 });
    for (const sub of ['a', 'b', 'c']) await v.verify(await issueToken({ sub, role: 'viewer', secret: SECRET }));
    expect(v.cachedTokens).toBe(2);
  });

  it('verifies RS256 and EdDSA tokens with a public key, and refuses the other algorithm', async () => {
    for (const type of ['rsa', 'ed25519'] as const) {
      const { publicKey, privateKey } =
        type === 'rsa' ? generateKeyPairSync('rsa', { modulusLength: 2048 }) : generateKeyPairSync('ed25519');
      const pem = publicKey.export({ type: 'spki', format: 'pem' }) as string;
      const v = new TokenVerifier({ publicKey: pem });
      expect(v.algorithm).toBe(type === 'rsa' ? 'RS256' : 'EdDSA');
      const token = await issueToken({ sub: 'k', role: 'admin', privateKey });
      expect((await v.verify(token)).role).toBe('admin');
      await expect(v.verify(await issueToken({ sub: 'k', role: 'admin', secret: SECRET }))).rejects.toThrow(/invalid/);
    }
  });

  it('validates its options, naming the field', () => {
    const field = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        return isApiError(e) ? `${e.code}:${e.field}` : String(e);
      }
      return 'no error';
    };
    expect(field(() => new TokenVerifier({}))).toBe('E_API_INVALID_OPTION:auth.secret');
    expect(field(() => new TokenVerifier({ secret: 'short' }))).toBe('E_API_INVALID_OPTION:auth.secret');
    expect(field(() => new TokenVerifier({ publicKey: 'not pem' }))).toBe('E_API_INVALID_OPTION:auth.publicKey');
    expect(field(() => new TokenVerifier({ secret: SECRET, issuer: '' }))).toBe('E_API_INVALID_OPTION:auth.issuer');
    expect(field(() => new TokenVerifier({ secret: SECRET, cacheSize: -1 }))).toBe(
      'E_API_INVALID_OPTION:auth.cacheSize',
    );
  });
});

describe('roles and headers', () => {
  it('orders roles viewer < trader < admin', () => {
    expect(roleAtLeast('admin', 'trader')).toBe(true);
    expect(roleAtLeast('trader', 'trader')).toBe(true);
    expect(roleAtLeast('viewer', 'trader')).toBe(false);
    expect(roleAtLeast('trader', 'admin')).toBe(false);
  });

  it('parses Bearer authorization headers only', () => {
    expect(bearerToken('Bearer abc')).toBe('abc');
    expect(bearerToken('bearer  abc ')).toBe('abc');
    expect(bearerToken('Basic abc')).toBeUndefined();
    expect(bearerToken('Bearer')).toBeUndefined();
    expect(bearerToken(undefined)).toBeUndefined();
  });
});

describe('issueToken and the issue-token CLI', () => {
  it('refuses bad input, naming the field', async () => {
    await expect(issueToken({ sub: '', role: 'admin', secret: SECRET })).rejects.toMatchObject({ field: 'sub' });
    await expect(issueToken({ sub: 'a', role: 'root' as 'admin', secret: SECRET })).rejects.toMatchObject({
      field: 'role',
    });
    await expect(issueToken({ sub: 'a', role: 'admin', secret: 'short' })).rejects.toMatchObject({ field: 'secret' });
    await expect(issueToken({ sub: 'a', role: 'admin' })).rejects.toMatchObject({ field: 'secret' });
  });

  const script = fileURLToPath(new URL('../../scripts/issue-token.ts', import.meta.url));
  const run = promisify(execFile);
  const tsx = fileURLToPath(new URL('../../../../node_modules/.bin/tsx', import.meta.url));

  it('prints a token for TRADER_JWT_SECRET that the API accepts, with the TTL asked for', async () => {
    const { stdout } = await run(tsx, [script, '--sub', 'alice', '--role', 'admin', '--ttl', '15m'], {
      env: { ...process.env, TRADER_JWT_SECRET: SECRET },
    });
    const p = await new TokenVerifier({ secret: SECRET }).verify(stdout.trim());
    expect(p).toMatchObject({ sub: 'alice', role: 'admin' });
    expect(Math.round((p.exp - Date.now() / 1000) / 60)).toBe(15);
  }, 30_000);

  it('signs with a key file and fails with a clear message without a secret', async () => {
    const { publicKey, privateKey } = generateKeyPairSync('ed25519');
    const dir = mkdtempSync(join(tmpdir(), 'issue-token-'));
    const keyFile = join(dir, 'key.pem');
    writeFileSync(keyFile, privateKey.export({ type: 'pkcs8', format: 'pem' }) as string);
    const env = { ...process.env, TRADER_JWT_SECRET: '' };
    const { stdout } = await run(tsx, [script, '--sub', 'bot', '--role', 'viewer', '--key-file', keyFile], { env });
    const pem = publicKey.export({ type: 'spki', format: 'pem' }) as string;
    expect((await new TokenVerifier({ publicKey: pem }).verify(stdout.trim())).sub).toBe('bot');
    const failed = await run(tsx, [script, '--sub', 'bot', '--role', 'viewer'], { env }).catch((e) => e);
    expect(failed.code).toBe(2);
    expect(failed.stderr).toMatch(/TRADER_JWT_SECRET is not set/);
    const badRole = await run(tsx, [script, '--sub', 'bot', '--role', 'root'], {
      env: { ...env, TRADER_JWT_SECRET: SECRET },
    }).catch((e) => e);
    expect(badRole.code).toBe(2);
    expect(badRole.stderr).toMatch(/invalid role/);
  }, 30_000);
});
