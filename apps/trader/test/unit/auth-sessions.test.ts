import { randomBytes } from 'node:crypto';
import { generate, generateSecret } from 'otplib';
import { describe, expect, it } from 'vitest';
import { usersDdl } from '../../src/http/users/ddl.js';
import { resolveSessionOptions, SESSION_DEFAULTS } from '../../src/http/users/options.js';
import { hashPassword, verifyPassword } from '../../src/http/users/passwords.js';
import { checkTotp, newTotp } from '../../src/http/users/totp.js';
import { localKek } from '../../src/security/kek.js';

describe('session options', () => {
  it('applies the defaults: 15 min access tokens, 30 min idle, 12 h absolute, 5 failures in 15 min lock 15 min', () => {
    const kek = localKek(randomBytes(32));
    expect(resolveSessionOptions({ kek })).toEqual({ ...SESSION_DEFAULTS, kek });
    expect(SESSION_DEFAULTS).toMatchObject({
      accessTtlSec: 900,
      idleTimeoutSec: 1_800,
      absoluteTimeoutSec: 43_200,
      maxFailures: 5,
      failureWindowSec: 900,
      lockoutSec: 900,
    });
  });

  it.each([
    [{ accessTtlSec: 0 }, 'sessions.accessTtlSec'],
    [{ idleTimeoutSec: 1.5 }, 'sessions.idleTimeoutSec'],
    [{ maxFailures: Number.POSITIVE_INFINITY }, 'sessions.maxFailures'],
    [{ totpIssuer: 'a:b' }, 'sessions.totpIssuer'],
    [{ revokedKeyPrefix: '' }, 'sessions.revokedKeyPrefix'],
    [{ accessTtlSec: 100, absoluteTimeoutSec: 50 }, 'sessions.accessTtlSec'],
    [{ ttl: 5 }, 'sessions.ttl'],
    [{ kek: undefined }, 'sessions.kek'],
    [{ kek: { id: 'x' } }, 'sessions.kek'],
    [{ previousKeks: [{}] }, 'sessions.previousKeks.0'],
    [{ rotationCheckMs: -1 }, 'sessions.rotationCheckMs'],
  ])('refuses %j naming %s', (options, field) => {
    const kek = localKek(randomBytes(32));
    expect(() => resolveSessionOptions({ kek, ...options } as never)).toThrow(expect.objectContaining({ field }));
  });

  it('refuses a schema name that is not a plain identifier', () => {
    expect(() => usersDdl('x"; DROP TABLE y; --')).toThrow(expect.objectContaining({ field: 'schema' }));
  });
});

describe('TOTP', () => {
  it('accepts the current and neighbouring steps once, in order, and nothing else', async () => {
    const secret = generateSecret();
    const now = Math.floor(Date.now() / 1000);
    const at = (offset: number) => generate({ secret, epoch: now + offset * 30 });
    const step = await checkTotp(secret, await at(0), 0);
    expect(step).toBe(Math.floor(now / 30));
    expect(await checkTotp(secret, await at(0), step as number)).toBeUndefined();
    expect(await checkTotp(secret, await at(-1), step as number)).toBeUndefined();
    expect(await checkTotp(secret, await at(1), step as number)).toBe((step as number) + 1);
    expect(await checkTotp(secret, await at(3), 0)).toBeUndefined();
    expect(await checkTotp(secret, '12345', 0)).toBeUndefined();
    expect(await checkTotp(secret, ' 123456', 0)).toBeUndefined();
  });

  it('gives an otpauth URI an authenticator app reads', () => {
    const { secret, uri } = newTotp('CryptoScalp', 'ada');
    const u = new URL(uri);
    expect(u.protocol).toBe('otpauth:');
    expect(u.searchParams.get('secret')).toBe(secret);
    expect(u.searchParams.get('issuer')).toBe('CryptoScalp');
    expect(secret).toMatch(/^[A-Z2-7]{32}$/);
  });
});

describe('passwords', () => {
  it('hashes with argon2id (19 MiB, t=2, p=1) and verifies; an unknown user is always refused', async () => {
    const hash = await hashPassword('a long enough password');
    expect(hash).toMatch(/^\$argon2id\$v=19\$m=19456,p=1,t=2\$/);
    expect(await verifyPassword(hash, 'a long enough password')).toBe(true);
    expect(await verifyPassword(hash, 'a long enough passworD')).toBe(false);
    expect(await verifyPassword(undefined, 'a long enough password')).toBe(false);
    expect(await verifyPassword('not a hash', 'x')).toBe(false);
  });

  it('spends about as long on an unknown user as on a known one', async () => {
    const hash = await hashPassword('a long enough password');
    await verifyPassword(undefined, 'warm');
    // Interleaved, so load on a shared machine falls on both sides alike.
    let known = 0;
    let unknown = 0;
    for (let i = 0; i < 6; i++) {
      for (const h of i % 2 === 0 ? [hash, undefined] : [undefined, hash]) {
        const t = performance.now();
        await verifyPassword(h, 'wrong password');
        if (h === undefined) unknown += performance.now() - t;
        else known += performance.now() - t;
      }
    }
    expect(unknown / known).toBeGreaterThan(0.5);
    expect(unknown / known).toBeLessThan(2);
  });
});
