import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serviceUrls, uniqueName, waitFor } from '@cryptoscalp/testkit';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTrader, type Trader } from '../../src/app/trader.js';
import { loadConfig } from '../../src/config/load-config.js';
import { issueToken } from '../../src/http/tokens.js';
import type { Json } from './api-harness.js';

/**
 * A bounded sqlmap run (Debian `sqlmap`, issue 16, item 6) against the real trader on loopback: PostgreSQL on
 * 127.0.0.1 (its own schema), the simulator trading, an admin token. Level 1, risk 1, `--batch`, PostgreSQL payloads
 * only, one parameter at a time. Asserts sqlmap found no injection point (and that it did test the parameter: a run
 * that never reached the server would also "find nothing").
 *
 * In `npm test`: the `action` filter of `GET /api/audit` (the one query parameter that goes into a SQL `WHERE`).
 * `SQLMAP_FULL=1` runs every parameterised route (bounded by a 5-minute budget), `SQLMAP_TARGETS=login,fills` only
 * those whose URL contains one of the words:
 * `SQLMAP_FULL=1 npx vitest run --project integration apps/trader/test/integration/security-sqlmap.test.ts`.
 */
const SQLMAP = '/usr/bin/sqlmap';
const FULL = process.env.SQLMAP_FULL === '1';
const SECRET = 'sqlmap-secret-0123456789abcdef-0123456789';
const schema = uniqueName('sqlmap');
const out = mkdtempSync(join(tmpdir(), 'sqlmap-'));
let trader: Trader | undefined;
let base = '';
let token = '';

beforeAll(async () => {
  if (!existsSync(SQLMAP))
    throw new Error(`sqlmap is missing at ${SQLMAP}: install it with: bash scripts/install-system-deps.sh`);
  const config = loadConfig({
    env: {},
    overrides: {
      dataDir: mkdtempSync(join(tmpdir(), 'sqlmap-trader-')),
      strategy: { warmupSamples: 60 },
      http: { port: 0, shutdownDelayMs: 0, rateLimitPerIp: 0, rateLimitPerToken: 0 },
      journal: { fsync: 'never' },
      database: { url: serviceUrls.postgres, schema },
    },
  });
  trader = createTrader({ config, log: () => {}, jwtSecret: SECRET });
  base = (await trader.start()).http;
  token = await issueToken({ sub: 'sqlmap', role: 'admin', secret: SECRET, ttl: '1h' });
}, 120_000);

afterAll(async () => {
  await trader?.stop('test');
  const pool = new pg.Pool({ connectionString: serviceUrls.postgres, max: 1 });
  await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`).catch(() => {});
  await pool.end();
  rmSync(out, { recursive: true, force: true });
}, 60_000);

/** Runs sqlmap on one target; resolves its output. Killed (by its pid) after `budgetMs`. */
function sqlmap(args: string[], budgetMs: number): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      SQLMAP,
      [
        '--batch',
        '--level=1',
        '--risk=1',
        '--dbms=PostgreSQL',
        '--time-sec=2',
        '--timeout=10',
        '--retries=0',
        '--flush-session',
        '--disable-coloring',
        `--output-dir=${out}`,
        `--headers=Authorization: Bearer ${token}`,
        ...args,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let output = '';
    child.stdout.on('data', (d) => {
      output += d.toString();
    });
    child.stderr.on('data', (d) => {
      output += d.toString();
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), budgetMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      if (process.env.SQLMAP_VERBOSE === '1') console.info(output);
      resolve({ code, output });
    });
  });
}

/** What every run must show: the parameter was tested with PostgreSQL payloads, and nothing was injectable. */
function expectNoInjection(output: string, param: string): void {
  expect(output, output).toMatch(/testing '[^']+'/);
  // JSON body fields are named `JSON <field>` by sqlmap.
  const escaped = param.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  expect(output, output).toMatch(new RegExp(`parameter '(?:JSON )?${escaped}' does not seem to be injectable`));
  expect(output, output).not.toMatch(/identified the following injection point|is vulnerable|appears to be '/);
  expect(output, output).toMatch(/do(es)? not (seem|appear) to be injectable/);
}

describe('sqlmap against the running trader', () => {
  it('reports a planted injection (the assertions below can fail)', async () => {
    // A deliberately injectable endpoint on loopback, against the same PostgreSQL: sqlmap must name it.
    const pool = new pg.Pool({ connectionString: serviceUrls.postgres, max: 2 });
    const server = createServer(async (req, res) => {
      const name = new URL(req.url ?? '/', 'http://x').searchParams.get('name') ?? '';
      try {
        const { rows } = await pool.query(`SELECT count(*)::int AS n FROM pg_class WHERE relname = '${name}'`);
        res.end(JSON.stringify(rows[0]));
      } catch {
        res.statusCode = 500;
        res.end('{}');
      }
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    try {
      const { port } = server.address() as AddressInfo;
      const { output } = await sqlmap(
        ['-u', `http://127.0.0.1:${port}/?name=pg_class`, '-p', 'name', '--technique=B'],
        120_000,
      );
      expect(output, output).toMatch(/GET parameter 'name' (is|appears to be) '[^']*boolean-based/);
      expect(() => expectNoInjection(output, 'name')).toThrow();
    } finally {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
      await pool.end();
    }
  }, 180_000);

  it('finds no injection in the audit action filter', async () => {
    const { output } = await sqlmap(['-u', `${base}/api/audit?action=auth.login&limit=5`, '-p', 'action'], 240_000);
    expectNoInjection(output, 'action');
  }, 300_000);

  it.runIf(FULL)(
    'finds no injection in any parameterised route (bounded to 5 minutes)',
    async () => {
      const deadline = Date.now() + 300_000;
      const get = async (path: string): Promise<Json> =>
        (await fetch(`${base}${path}`, { headers: { authorization: `Bearer ${token}` } })).json();
      // Real ids and parameter names, so the routes answer 200 before the payloads (sqlmap stops at a first 404).
      await waitFor(async () => (await get('/api/orders?limit=1')).length > 0, {
        timeoutMs: 90_000,
        intervalMs: 500,
        what: 'a first order',
      });
      const [order] = await get('/api/orders?limit=1');
      const params = await get('/api/strategy/params');
      const param = Object.keys(params)[0] as string;
      const targets: { args: string[]; param: string }[] = [
        {
          args: [
            '-u',
            `${base}/api/orders?symbol=${order.symbol}&status=${order.status}&limit=5`,
            '-p',
            'symbol,status,limit',
          ],
          param: 'symbol',
        },
        {
          args: ['-u', `${base}/api/fills?symbol=${order.symbol}&since=0&limit=5`, '-p', 'symbol,since,limit'],
          param: 'symbol',
        },
        { args: ['-u', `${base}/api/audit?action=auth.login&limit=5`, '-p', 'limit'], param: 'limit' },
        { args: ['-u', `${base}/api/orders/${order.clientOrderId}*`], param: '#1*' },
        {
          // Final orders answer 404 (not cancellable): sqlmap compares the answers instead of stopping.
          args: [
            '-u',
            `${base}/api/orders/${order.clientOrderId}/cancel`,
            '--method=POST',
            '--data={"reason":"x"}',
            '--ignore-code=404',
            '-p',
            'reason',
          ],
          param: 'reason',
        },
        {
          args: [
            '-u',
            `${base}/api/strategy/params`,
            '--method=PUT',
            `--data=${JSON.stringify({ [param]: params[param] })}`,
            '-p',
            param,
          ],
          param,
        },
      ];
      const login = await fetch(`${base}/api/auth/login`, {
        method: 'POST',
        body: '{}',
        headers: { 'content-type': 'application/json' },
      });
      if (login.status !== 404)
        targets.push({
          args: [
            '-u',
            `${base}/api/auth/login`,
            '--method=POST',
            '--data={"username":"ada","password":"x","totp":"123456"}',
            // A refused login is the normal answer here: sqlmap compares them instead of stopping.
            '--ignore-code=401',
            '-p',
            'username,password,totp',
          ],
          param: 'username',
        });
      const only = process.env.SQLMAP_TARGETS?.split(',');
      for (const t of targets.filter((x) => only === undefined || only.some((o) => x.args[1]?.includes(o)))) {
        const left = deadline - Date.now();
        expect(left, `time left for ${t.args[1]}`).toBeGreaterThan(5_000);
        const { output } = await sqlmap(t.args, left);
        expectNoInjection(output, t.param);
      }
    },
    330_000,
  );
});
