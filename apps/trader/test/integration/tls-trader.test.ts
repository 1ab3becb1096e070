import { copyFileSync, writeFileSync } from 'node:fs';
import {
  runTestssl,
  SELF_SIGNED_CERT_FINDINGS,
  selfSignedCert,
  serviceUrls,
  TESTSSL_FULL_CHECKS,
  TESTSSL_POLICY_CHECKS,
  testsslFinding,
  uniqueName,
  waitFor,
} from '@cryptoscalp/testkit';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import type { ObservabilityComponent } from '../../src/app/components/observability-component.js';
import { createTrader, type Trader } from '../../src/app/trader.js';
import { loadConfig } from '../../src/config/load-config.js';
import type { LogLevel } from '../../src/internal/log.js';
import { tempDirs } from '../temp-dir.js';
import { killTraderChildren, startTraderProcess } from './trader-process.js';

/**
 * The whole trader with `TRADER_HTTP_TLS_CERT`/`_KEY` in production, scanned by testssl.sh (Debian `testssl`); and
 * production without TLS and without a trusted proxy refused at startup (exit 2). `TESTSSL_FULL=1` (`npm run
 * test:tls`) adds the cipher-preference and vulnerability checks (-P -U, about two minutes more).
 */
const SECRET = 'tls-trader-secret-5b1e09c4d7a26f83e0b4c9d1a7f2e6b3';
const tempDir = tempDirs('tls-trader-');
const full = process.env.TESTSSL_FULL === '1';
const schema = uniqueName('tls_trader');
const reloadSchema = uniqueName('tls_reload');
let trader: Trader | undefined;
let reloadTrader: Trader | undefined;

afterAll(async () => {
  try {
    await trader?.stop('test end');
    await reloadTrader?.stop('test end');
  } finally {
    await killTraderChildren();
    const pool = new pg.Pool({ connectionString: serviceUrls.postgres, max: 1 });
    await pool
      .query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE; DROP SCHEMA IF EXISTS "${reloadSchema}" CASCADE`)
      .finally(() => pool.end());
  }
}, 60_000);

const production = (extra: Record<string, string>) => ({
  TRADER_ENV: 'production',
  TRADER_JWT_SECRET: SECRET,
  ...extra,
});

describe('production without TLS', () => {
  it('is a config error naming http.tls.certFile, unless a TLS-terminating proxy is trusted', () => {
    expect(() => loadConfig({ env: production({}) })).toThrow(
      expect.objectContaining({ code: 'E_TRADER_INVALID_CONFIG', field: 'http.tls.certFile' }),
    );
    expect(loadConfig({ env: production({ TRADER_HTTP_TRUST_PROXY: 'uniquelocal' }) }).http.trustProxy).toEqual([
      'uniquelocal',
    ]);
    // The engine's health/metrics port stays private to the deployment.
    expect(loadConfig({ env: production({ TRADER_ROLE: 'engine', REDIS_URL: 'redis://127.0.0.1:1' }) }).role).toBe(
      'engine',
    );
    expect(() => loadConfig({ env: { TRADER_HTTP_TLS_CERT: '/x.crt' } })).toThrow(
      expect.objectContaining({ field: 'http.tls.keyFile' }),
    );
    expect(() => loadConfig({ env: { TRADER_HTTP_TRUST_PROXY: 'a b' } })).toThrow(
      expect.objectContaining({ field: 'http.trustProxy' }),
    );
    // Development defaults (npm start) need no TLS.
    expect(loadConfig({ env: {} }).http.tls).toEqual({ certFile: '', keyFile: '' });
  });

  it('stops the process with exit code 2 and says what to set', async () => {
    const p = startTraderProcess(['--env', 'production'], { TRADER_JWT_SECRET: SECRET, TRADER_DATA_DIR: tempDir() });
    expect(await p.exited).toBe(2);
    expect(p.output()).toMatch(/http\.tls\.certFile \(TRADER_HTTP_TLS_CERT and TRADER_HTTP_TLS_KEY\) is required/);
  }, 60_000);
});

describe('the trader over TLS, scanned by testssl.sh', () => {
  it(
    'has no finding of MEDIUM or worse but its own self-signed certificate, and sends HSTS',
    async () => {
      // A year of validity: testssl rates a certificate that expires within 60 days MEDIUM.
      const cert = await selfSignedCert(tempDir(), 'trader', 365);
      const config = loadConfig({
        env: production({ TRADER_HTTP_TLS_CERT: cert.cert, TRADER_HTTP_TLS_KEY: cert.key }),
        overrides: {
          dataDir: tempDir(),
          http: { port: 0, shutdownDelayMs: 0 },
          journal: { fsync: 'never' },
          // The local PostgreSQL in a schema of the test's own: the embedded PGlite's first start (an initdb in WASM)
          // can take longer than the start timeout on the loaded CI machine.
          database: { url: serviceUrls.postgres, schema },
        },
      });
      trader = createTrader({ config, jwtSecret: SECRET, log: () => {} });
      const ep = await trader.start();
      expect(ep.http).toMatch(/^https:/);

      const report = await runTestssl(Number(new URL(ep.http).port), {
        checks: full ? TESTSSL_FULL_CHECKS : TESTSSL_POLICY_CHECKS,
        exclude: SELF_SIGNED_CERT_FINDINGS,
      });
      console.log(
        `testssl (${full ? 'full' : 'policy'} checks) against the trader: ${report.findings.length} findings in ${Math.round(report.durationMs / 1000)} s; ` +
          `excluded: ${report.findings
            .filter((f) => SELF_SIGNED_CERT_FINDINGS.includes(f.id))
            .map((f) => `${f.id} ${f.severity} "${f.finding}"`)
            .join('; ')}`,
      );
      expect(report.failing).toEqual([]);
      // The scan reached the server: protocols were probed and the headers read.
      expect(testsslFinding(report, 'TLS1')?.finding).toMatch(/not offered/);
      expect(testsslFinding(report, 'TLS1_1')?.finding).toMatch(/not offered/);
      expect(testsslFinding(report, 'TLS1_2')?.finding).toMatch(/^offered/);
      expect(testsslFinding(report, 'TLS1_3')?.finding).toMatch(/offered/);
      expect(testsslFinding(report, 'HSTS_time')).toMatchObject({ severity: 'OK' });
      expect(testsslFinding(report, 'HSTS_subdomains')?.finding).toMatch(/includes subdomains/);
      if (full) expect(testsslFinding(report, 'heartbleed')).toMatchObject({ severity: 'OK' });
    },
    full ? 420_000 : 240_000,
  );
});

describe('certificate reloads of a running trader', () => {
  it("go to the trader's log with their level (so log.format and the level counter apply), not to stderr", async () => {
    const dir = tempDir();
    const cert = await selfSignedCert(dir, 'trader', 365);
    const config = loadConfig({
      env: { TRADER_ENV: 'test', TRADER_HTTP_TLS_CERT: cert.cert, TRADER_HTTP_TLS_KEY: cert.key },
      overrides: {
        dataDir: tempDir(),
        http: { port: 0, shutdownDelayMs: 0 },
        journal: { fsync: 'never' },
        database: { url: serviceUrls.postgres, schema: reloadSchema },
      },
    });
    const lines: { line: string; level: LogLevel }[] = [];
    reloadTrader = createTrader({ config, jwtSecret: SECRET, log: (line, level) => lines.push({ line, level }) });
    const ep = await reloadTrader.start();
    expect(ep.http).toMatch(/^https:/);
    const tlsLines = () => lines.filter((l) => l.line.includes('trader: tls'));
    expect(tlsLines()).toEqual([]);

    // A new pair written over the files: one reload, reported at info.
    const next = await selfSignedCert(tempDir(), 'trader', 30);
    copyFileSync(next.key, cert.key);
    copyFileSync(next.cert, cert.cert);
    await waitFor(() => tlsLines().length > 0, { timeoutMs: 10_000, intervalMs: 20, what: 'the reload line' });
    expect(tlsLines()[0]).toMatchObject({ level: 'info', line: expect.stringMatching(/tls\s+reloaded /) });

    // A certificate that is not PEM: refused, the previous pair stays, reported at error.
    writeFileSync(cert.cert, 'not a certificate\n');
    await waitFor(() => tlsLines().some((l) => l.line.includes('reload refused')), {
      timeoutMs: 10_000,
      intervalMs: 20,
      what: 'the refusal line',
    });
    expect(tlsLines().find((l) => l.line.includes('reload refused'))?.level).toBe('error');
    const { body } = await reloadTrader.component<ObservabilityComponent>('monitoring').metrics();
    expect(Number(/^cryptoscalp_log_messages_total\{level="error"\} (\d+)/m.exec(body)?.[1])).toBeGreaterThanOrEqual(1);
  }, 120_000);
});
