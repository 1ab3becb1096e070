import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { decodeJwt } from 'jose';
import { describe, expect, it } from 'vitest';
import { runTraderCommand, type TraderCommandIo } from '../../src/cli/trader-command.js';
import { loadConfig } from '../../src/config/load-config.js';
import { loadSecrets } from '../../src/config/secrets.js';
import { TokenVerifier } from '../../src/http/auth.js';
import { secretProblem } from '../../src/http/secret-strength.js';
import { issueToken } from '../../src/http/tokens.js';
import { tempDirs } from '../temp-dir.js';

/** The probe's findings 5 and 7 (secrets and tokens), and the scrape token's configuration (finding 3). */
const SECRET = 'unit-secret-0123456789abcdef-0123456789';
const tempDir = tempDirs('security-tokens-');

const field = (f: () => unknown): string | undefined => {
  try {
    f();
  } catch (e) {
    return (e as { field?: string }).field;
  }
  return undefined;
};

describe('secret strength (probe finding 7)', () => {
  it('refuses long secrets without entropy, saying the rule', () => {
    for (const weak of ['a'.repeat(32), 'a'.repeat(200), 'password'.repeat(4), 'ab'.repeat(40), 'short']) {
      expect(secretProblem(weak), weak).toMatch(/at least 32 bytes with an estimated entropy of at least 96 bits/);
      expect(field(() => new TokenVerifier({ secret: weak }))).toBe('auth.secret');
    }
    expect(() => new TokenVerifier({ secret: 'a'.repeat(32) })).toThrow(/about 0 bits/);
    for (const strong of [SECRET, 'ab12cd34ef56ab78cd90ef12ab34cd56', new Uint8Array(32).map((_, i) => i * 7)])
      expect(secretProblem(strong)).toBeUndefined();
  });

  it('is checked when signing too', async () => {
    await expect(issueToken({ sub: 'a', role: 'admin', secret: 'a'.repeat(32) })).rejects.toMatchObject({
      field: 'secret',
    });
  });
});

describe('token lifetime (probe finding 7)', () => {
  it('issues at most 30 days, and refuses 1e21, Infinity and unknown spans with a clear error naming ttl', async () => {
    for (const ttl of [1e21, Number.POSITIVE_INFINITY, Number.NaN, '1e21', '1 year', '10y', '', 31 * 86_400, '5w'])
      await expect(issueToken({ sub: 'a', role: 'admin', secret: SECRET, ttl }), String(ttl)).rejects.toMatchObject({
        code: 'E_API_INVALID_OPTION',
        field: 'ttl',
      });
    await expect(issueToken({ sub: 'a', role: 'admin', secret: SECRET, ttl: 1e21 })).rejects.toThrow(
      /exceeds the maximum token lifetime of 2592000 s/,
    );
    for (const [ttl, sec] of [
      ['30d', 30 * 86_400],
      ['4w', 28 * 86_400],
      ['15m', 900],
      [3600, 3600],
      ['90', 90],
    ] as const) {
      const c = decodeJwt(await issueToken({ sub: 'a', role: 'admin', secret: SECRET, ttl }));
      expect((c.exp as number) - (c.iat as number), String(ttl)).toBe(sec);
    }
  });

  it('verifies a token up to the maximum, refuses a longer one, and the maximum is configurable', async () => {
    const long = await issueToken({ sub: 'a', role: 'admin', secret: SECRET, ttl: '7d' });
    expect((await new TokenVerifier({ secret: SECRET }).verify(long)).sub).toBe('a');
    await expect(new TokenVerifier({ secret: SECRET, maxLifetimeSec: 3_600 }).verify(long)).rejects.toThrow(
      /lifetime exceeds the maximum of 3600 s/,
    );
  });

  const script = fileURLToPath(new URL('../../scripts/issue-token.ts', import.meta.url));
  const tsx = fileURLToPath(new URL('../../../../node_modules/.bin/tsx', import.meta.url));
  const run = promisify(execFile);

  it('the issue-token script exits 2 with the reason for --ttl 1e21, and reads TRADER_JWT_SECRET_FILE', async () => {
    const env = { ...process.env, TRADER_JWT_SECRET: SECRET };
    for (const ttl of ['1e21', '1000000000000000000000']) {
      const failed = await run(tsx, [script, '--sub', 'bot', '--role', 'viewer', '--ttl', ttl], { env }).catch(
        (e) => e,
      );
      expect(failed.code, ttl).toBe(2);
      expect(failed.stderr).toMatch(/invalid ttl: ttl /);
    }
    const file = join(tempDir(), 'jwt-secret');
    writeFileSync(file, `${SECRET}\n`);
    const { stdout } = await run(tsx, [script, '--sub', 'bot', '--role', 'viewer', '--ttl', '1h'], {
      env: { ...process.env, TRADER_JWT_SECRET: '', TRADER_JWT_SECRET_FILE: file },
    });
    expect((await new TokenVerifier({ secret: SECRET }).verify(stdout.trim())).sub).toBe('bot');
    const weak = await run(tsx, [script, '--sub', 'bot', '--role', 'viewer'], {
      env: { ...process.env, TRADER_JWT_SECRET: 'a'.repeat(32) },
    }).catch((e) => e);
    expect(weak.code).toBe(2);
    expect(weak.stderr).toMatch(/invalid secret: secret must be at least 32 bytes with an estimated entropy/);
  }, 60_000);
});

describe('the trader secrets (probe findings 3 and 5)', () => {
  const config = (env: Record<string, string>, argv: string[] = []) => loadConfig({ env, argv });

  it('stops a production start without TRADER_JWT_SECRET: exit 2, a clear error, no token printed', async () => {
    const lines: string[] = [];
    // Behind a trusted TLS proxy, so that the TLS rule (tls-trader.test.ts) is met and the secret's is the one left.
    const env = { TRADER_HTTP_TRUST_PROXY: 'loopback' };
    const io: TraderCommandIo = { out: (l) => lines.push(l), err: (l) => lines.push(`ERR ${l}`), env };
    expect(await runTraderCommand(['--env', 'production', '--data-dir', tempDir()], io)).toBe(2);
    expect(lines.join('\n')).toMatch(
      /ERR trader: configuration error in TRADER_JWT_SECRET: TRADER_JWT_SECRET \(or TRADER_JWT_SECRET_FILE\) is required in production/,
    );
    expect(lines.join('\n')).not.toMatch(/eyJ/);
    // The engine role serves no API: it needs no JWT secret.
    const engine = config({ REDIS_URL: 'redis://127.0.0.1:6379' }, ['--env', 'production', '--role', 'engine']);
    expect(loadSecrets({}, engine)).toEqual({ jwtSecret: '', metricsToken: '' });
  });

  it('reads TRADER_JWT_SECRET and TRADER_METRICS_TOKEN or their _FILE forms, and checks their strength', () => {
    const dir = tempDir();
    const file = join(dir, 'metrics-token');
    writeFileSync(file, 'scrape-4f9c2e71b8d05a36c1e7f2094ab8d6e3\n');
    // Once refused as unknown environment variables.
    const c = config({ TRADER_METRICS_TOKEN_FILE: file, TRADER_JWT_SECRET: SECRET });
    expect(loadSecrets({ TRADER_METRICS_TOKEN_FILE: file, TRADER_JWT_SECRET: SECRET }, c)).toEqual({
      jwtSecret: SECRET,
      metricsToken: 'scrape-4f9c2e71b8d05a36c1e7f2094ab8d6e3',
    });
    expect(field(() => loadSecrets({ TRADER_METRICS_TOKEN: 'metrics' }, c))).toBe('TRADER_METRICS_TOKEN');
    expect(field(() => loadSecrets({ TRADER_JWT_SECRET: 'a'.repeat(40) }, c))).toBe('TRADER_JWT_SECRET');
    expect(field(() => loadSecrets({ TRADER_JWT_SECRET: SECRET, TRADER_JWT_SECRET_FILE: file }, c))).toBe(
      'TRADER_JWT_SECRET',
    );
    expect(field(() => loadSecrets({ TRADER_JWT_SECRET_FILE: join(dir, 'missing') }, c))).toBe(
      'TRADER_JWT_SECRET_FILE',
    );
    expect(field(() => config({ TRADER_METRICS_TOKENS: 'x' }))).toBe('TRADER_METRICS_TOKENS');
  });
});
