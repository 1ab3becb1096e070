// The deployment scripts (deploy/scripts) and the per-environment configuration (deploy/config): the config files
// and the Kubernetes overlays loaded by the trader's own loader; the configuration reference up to date; `deploy
// --dry-run` for every target and environment; `health-check` and `benchmarks` against a real trader started here.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, serviceUrls, systemProgramTestRuns, uniqueName, waitFor } from '@cryptoscalp/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dropTraderSchema, startTraderRole, type TraderRole } from '../rehearsal/trader-process.js';
import { main as benchmarks } from '../scripts/benchmarks.js';
import type { Io } from '../scripts/cli.js';
import { main as configReference, referencePath, renderReference } from '../scripts/config-reference.js';
import { main as deploy } from '../scripts/deploy.js';
import { main as healthCheck } from '../scripts/health-check.js';
import {
  configFileOf,
  deployDir,
  ENVIRONMENTS,
  type EnvName,
  overlayDirOf,
  overlayTraderConfig,
  renderOverlay,
  SECRET_FIELDS,
  validateConfigFile,
} from '../scripts/validate.js';

const envs = Object.keys(ENVIRONMENTS) as EnvName[];
const tmp = mkdtempSync(join(tmpdir(), 'deploy-scripts-test-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** Runs `npx tsx deploy/scripts/<script>.ts args` and returns its exit code and output (never throws on exit codes). */
function script(name: string, args: readonly string[], timeoutMs = 120_000) {
  return new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', join(deployDir, 'scripts', `${name}.ts`), ...args],
      { cwd: join(deployDir, '..'), timeout: timeoutMs, maxBuffer: 8 * 1024 * 1024 },
      (error, stdout, stderr) =>
        resolve({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

/** Runs a script's `main` in this process, capturing what it prints; as its CLI would, a throw is exit 1 (2 for usage). */
async function inProcess(fn: (argv: string[], io: Io) => Promise<number | undefined>, argv: string[]) {
  let stdout = '';
  let stderr = '';
  const io: Io = {
    out: (t) => {
      stdout += t;
    },
    err: (t) => {
      stderr += t;
    },
  };
  try {
    const code = await fn(argv, io);
    return { code: code ?? 0, help: code === undefined, stdout, stderr };
  } catch (error) {
    const usage = (error as Error).name === 'UsageError';
    return { code: usage ? 2 : 1, help: false, stdout, stderr: `${stderr}${(error as Error).message}` };
  }
}

describe('per-environment configuration', () => {
  it.each(envs)('deploy/config/%s.json is a valid trader config for its environment, without secrets', (env) => {
    const config = validateConfigFile(configFileOf(env), env);
    expect(config.env).toBe(env);
    expect(config.journal.fsync).toBe(env === 'production' ? 'always' : 'interval');
  });

  it('rejects an unknown key and a secret in a config file, naming the field', () => {
    const production = JSON.parse(readFileSync(configFileOf('production'), 'utf8'));
    const unknown = join(tmp, 'unknown.json');
    writeFileSync(unknown, JSON.stringify({ ...production, journal: { ...production.journal, fsyncc: 'always' } }));
    expect(() => validateConfigFile(unknown, 'production')).toThrow(/unknown configuration field "journal.fsyncc"/);
    const secret = join(tmp, 'secret.json');
    writeFileSync(
      secret,
      JSON.stringify({ environments: { production: { database: { url: 'postgres://u:p@db/x' } } } }),
    );
    expect(() => validateConfigFile(secret, 'production')).toThrow(
      /environments.production.database.url holds a secret/,
    );
    expect(SECRET_FIELDS).toEqual(expect.arrayContaining(['database.url', 'cache.redisUrl', 'alerts.slackToken']));
  });

  it.runIf(systemProgramTestRuns('kubectl'))(
    'every Kubernetes overlay mounts a valid trader config with the same journal policy',
    () => {
      for (const env of envs) {
        const config = overlayTraderConfig(renderOverlay(overlayDirOf(env)));
        expect(config.env, env).toBe(env);
        expect(config.journal.fsync, env).toBe(validateConfigFile(configFileOf(env), env).journal.fsync);
      }
    },
  );

  it('the Dockerfile bakes no secret into the image', () => {
    const dockerfile = readFileSync(join(deployDir, '..', 'Dockerfile'), 'utf8').replace(/\\\n/g, ' ');
    const declared = [...dockerfile.matchAll(/^\s*(?:ENV|ARG)\s+(.+)$/gim)].flatMap((m) =>
      (m[1] as string).split(/\s+/).map((kv) => kv.split('=')[0] as string),
    );
    expect(declared.length).toBeGreaterThan(0);
    expect(declared.filter((name) => /SECRET|TOKEN|PASSWORD|DATABASE_URL|REDIS_URL|_KEY\b/i.test(name))).toEqual([]);
  });

  it('docs/operations/configuration.md is generated from the current config (npm run config-reference -w @cryptoscalp/deploy)', () => {
    expect(readFileSync(referencePath, 'utf8')).toBe(renderReference());
  });
});

describe('the scripts', () => {
  it('take --help, reject unknown flags; the CLI exits 2 on a bad flag and 1 when unhealthy', async () => {
    for (const [name, fn] of [
      ['deploy', deploy],
      ['health-check', healthCheck],
      ['benchmarks', benchmarks],
      ['config-reference', configReference],
    ] as const) {
      expect((await inProcess(fn, ['--help'])).help, name).toBe(true);
      const bad = await inProcess(fn, ['--no-such-flag']);
      expect([bad.code, bad.stderr], name).toEqual([2, expect.stringMatching(/--no-such-flag/)]);
    }
    const cli = await Promise.all([
      script('deploy', ['--target', 'k8s', '--env', 'qa', '--dry-run']),
      script('health-check', ['--url', `http://127.0.0.1:${await freePort()}`]),
    ]);
    expect([cli[0]?.code, cli[0]?.stderr]).toEqual([
      2,
      expect.stringMatching(/--env must be one of development, staging, production, got "qa"[\s\S]*Usage: /),
    ]);
    expect([cli[1]?.code, cli[1]?.stderr]).toEqual([1, expect.stringMatching(/unhealthy: liveness: unreachable/)]);
    expect(cli[1]?.stdout).toMatch(/^liveness\s+FAIL\s+unreachable: ECONNREFUSED/m);
  }, 60_000);

  it.runIf(systemProgramTestRuns('kubectl') && systemProgramTestRuns('docker-compose'))(
    'deploy --dry-run renders and validates every target and environment (compose is production only)',
    async () => {
      const envFile = join(deployDir, 'compose', '.env.production.example');
      for (const env of envs) {
        const k8s = await inProcess(deploy, [
          '--target',
          'k8s',
          '--env',
          env,
          '--dry-run',
          '--image',
          'ghcr.io/x/trader:abc',
        ]);
        expect(k8s.code, `k8s ${env}: ${k8s.stderr}`).toBe(0);
        expect(k8s.stdout).toMatch(/images ghcr\.io\/x\/trader:abc\n/);
        expect(k8s.stdout).toMatch(
          new RegExp(`rendered \\d+ objects[\\s\\S]*trader config \\(env ${env}[\\s\\S]*dry run: k8s ${env} is valid`),
        );
        const compose = await inProcess(deploy, [
          '--target',
          'compose',
          '--env',
          env,
          '--dry-run',
          '--env-file',
          envFile,
        ]);
        if (env === 'production') {
          expect(compose.code, `compose: ${compose.stderr}`).toBe(0);
          expect(compose.stdout).toMatch(
            /trader config of engine-1, engine-2, gateway-1, gateway-2[\s\S]*dry run: compose production is valid/,
          );
        } else {
          expect([compose.code, compose.stderr]).toEqual([
            1,
            expect.stringMatching(`sets TRADER_ENV=production, not ${env}`),
          ]);
        }
      }
    },
    60_000,
  );
});

describe.runIf(systemProgramTestRuns('wrk'))('health-check and benchmarks against a running trader', () => {
  const started = new Set<TraderRole>();
  const schema = uniqueName('deploy_scripts');
  let trader: TraderRole;
  const tokenFile = join(tmp, 'token');
  const metricsTokenFile = join(tmp, 'metrics-token');
  const check = (url: string) =>
    inProcess(healthCheck, ['--url', url, '--token-file', tokenFile, '--metrics-token-file', metricsTokenFile]);

  beforeAll(async () => {
    const metricsToken = 'scrape-0123456789abcdef0123456789abcdef';
    writeFileSync(metricsTokenFile, `${metricsToken}\n`);
    const env = {
      TRADER_ENV: 'development',
      TRADER_DATA_DIR: join(tmp, 'data'),
      // The shared PostgreSQL in an own schema: starts in a moment, unlike the embedded one on a loaded machine.
      DATABASE_URL: serviceUrls.postgres,
      TRADER_DATABASE_SCHEMA: schema,
      TRADER_METRICS_TOKEN: metricsToken,
      // Long enough to probe readiness during the drain.
      TRADER_HTTP_SHUTDOWN_DELAY_MS: '20000',
      TRADER_HTTP_RATE_LIMIT_PER_IP: '0',
      TRADER_HTTP_RATE_LIMIT_PER_TOKEN: '0',
    };
    trader = await startTraderRole('all', await freePort(), env, started);
    // Outside production the trader prints a link with an admin token for the run.
    const token = /#token=([A-Za-z0-9._-]+)/.exec(trader.output())?.[1];
    if (token === undefined) throw new Error(`no token in the trader's output:\n${trader.output()}`);
    writeFileSync(tokenFile, token);
    // `trader: running` comes before the startup checks pass; a deployment is checked once it is ready.
    await waitFor(async () => (await fetch(`${trader.url}/health/readiness`)).status === 200, {
      timeoutMs: 60_000,
      intervalMs: 100,
      what: 'trader ready',
    });
  }, 180_000);

  afterAll(async () => {
    for (const t of started) await t.stop(2_000);
    await dropTraderSchema(serviceUrls.postgres, schema);
  });

  it('is healthy: exit 0 and a table of passing checks', async () => {
    const { code, stdout, stderr } = await check(trader.url);
    expect(code, `${stdout}\n${stderr}`).toBe(0);
    for (const row of ['liveness', 'readiness', 'status', 'metrics', 'event-stream lag', 'persistence lag'])
      expect(stdout).toMatch(new RegExp(`^${row}\\s+(OK|WARN)\\s`, 'm'));
  }, 30_000);

  it('benchmarks print request rates beside the liveness baseline and stream fan-out', async () => {
    const { code, stdout, stderr } = await inProcess(benchmarks, [
      ...['--url', trader.url, '--token-file', tokenFile],
      ...['--duration', '2', '--connections', '8', '--streams', '10'],
    ]);
    expect(code, stderr).toBe(0);
    const rps = (route: string) => Number(new RegExp(`^${route}\\s+(\\d+)`, 'm').exec(stdout)?.[1]);
    expect(rps('/health/liveness'), stdout).toBeGreaterThan(0);
    expect(rps('/api/positions'), stdout).toBeGreaterThan(0);
    expect(Number(/^10\s+[0-9.]+\s+([0-9.]+)\s/m.exec(stdout)?.[1]), stdout).toBeGreaterThan(0);
    console.log(stdout);
  }, 60_000);

  it('names what is wrong and exits 1 when readiness is 503 while the trader drains', async () => {
    const stopping = trader.stop(30_000);
    await waitFor(async () => (await fetch(`${trader.url}/health/readiness`)).status === 503, {
      timeoutMs: 10_000,
      intervalMs: 50,
      what: 'readiness 503 during the shutdown delay',
    });
    const draining = await check(trader.url);
    expect(draining.code).toBe(1);
    expect(draining.stdout).toMatch(/^readiness\s+FAIL\s+HTTP 503/m);
    expect(draining.stderr).toMatch(/unhealthy: readiness: HTTP 503/);
    await stopping;
  }, 60_000);
});
