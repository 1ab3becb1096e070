// The deployment scripts (deploy/scripts) and the per-environment configuration (deploy/config): the config files
// and the Kubernetes overlays loaded by the trader's own loader; the configuration reference up to date; `deploy
// --dry-run` for every target and environment; `health-check` and `benchmarks` against a real trader started here.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, systemProgramTestRuns, waitFor } from '@cryptoscalp/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTraderRole, type TraderRole } from '../rehearsal/trader-process.js';
import { referencePath, renderReference } from '../scripts/config-reference.js';
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
  it('print their usage with --help, reject unknown flags with exit code 2', async () => {
    const names = ['deploy', 'health-check', 'benchmarks', 'config-reference'];
    const results = await Promise.all(names.flatMap((n) => [script(n, ['--help']), script(n, ['--no-such-flag'])]));
    names.forEach((name, i) => {
      const [help, bad] = [results[2 * i], results[2 * i + 1]];
      expect(help?.code, name).toBe(0);
      expect(help?.stdout, name).toMatch(/^Usage: /);
      expect(bad?.code, name).toBe(2);
      expect(bad?.stderr, name).toMatch(/--no-such-flag/);
    });
  });

  it.runIf(systemProgramTestRuns('kubectl') && systemProgramTestRuns('docker-compose'))(
    'deploy --dry-run renders and validates every target and environment (compose is production only)',
    async () => {
      const envFile = join(deployDir, 'compose', '.env.production.example');
      const runs = await Promise.all(
        envs.flatMap((env) => [
          script('deploy', ['--target', 'k8s', '--env', env, '--dry-run']),
          script('deploy', ['--target', 'compose', '--env', env, '--dry-run', '--env-file', envFile]),
        ]),
      );
      envs.forEach((env, i) => {
        const [k8s, compose] = [runs[2 * i], runs[2 * i + 1]];
        expect(k8s?.code, `k8s ${env}: ${k8s?.stderr}`).toBe(0);
        expect(k8s?.stdout).toMatch(
          new RegExp(`rendered \\d+ objects[\\s\\S]*trader config \\(env ${env}[\\s\\S]*dry run: k8s ${env} is valid`),
        );
        if (env === 'production') {
          expect(compose?.code, `compose: ${compose?.stderr}`).toBe(0);
          expect(compose?.stdout).toMatch(
            /trader config of engine, gateway-1, gateway-2[\s\S]*dry run: compose production is valid/,
          );
        } else {
          expect(compose?.code).toBe(1);
          expect(compose?.stderr).toMatch(new RegExp(`sets TRADER_ENV=production, not ${env}`));
        }
      });
    },
  );
});

describe.runIf(systemProgramTestRuns('wrk'))('health-check and benchmarks against a running trader', () => {
  const started = new Set<TraderRole>();
  let trader: TraderRole;
  const tokenFile = join(tmp, 'token');
  const metricsTokenFile = join(tmp, 'metrics-token');

  beforeAll(async () => {
    const metricsToken = 'scrape-0123456789abcdef0123456789abcdef';
    writeFileSync(metricsTokenFile, `${metricsToken}\n`);
    trader = await startTraderRole(
      'all',
      await freePort(),
      {
        TRADER_ENV: 'development',
        TRADER_DATA_DIR: join(tmp, 'data'),
        TRADER_DATABASE_EMBEDDED: 'memory',
        TRADER_METRICS_TOKEN: metricsToken,
        // Long enough to probe readiness during the drain.
        TRADER_HTTP_SHUTDOWN_DELAY_MS: '20000',
        TRADER_HTTP_RATE_LIMIT_PER_IP: '0',
        TRADER_HTTP_RATE_LIMIT_PER_TOKEN: '0',
      },
      started,
    );
    // Outside production the trader prints a link with an admin token for the run.
    const token = /#token=([A-Za-z0-9._-]+)/.exec(trader.output())?.[1];
    if (token === undefined) throw new Error(`no token in the trader's output:\n${trader.output()}`);
    writeFileSync(tokenFile, token);
  }, 120_000);

  afterAll(async () => {
    for (const t of started) await t.stop(2_000);
  });

  const check = (url: string) =>
    script('health-check', ['--url', url, '--token-file', tokenFile, '--metrics-token-file', metricsTokenFile]);

  it('is healthy: exit 0 and a table of passing checks', async () => {
    const { code, stdout, stderr } = await check(trader.url);
    expect(code, `${stdout}\n${stderr}`).toBe(0);
    for (const row of ['liveness', 'readiness', 'status', 'metrics', 'event-stream lag', 'persistence lag'])
      expect(stdout).toMatch(new RegExp(`^${row}\\s+(OK|WARN)\\s`, 'm'));
  }, 60_000);

  it('benchmarks print request rates beside the liveness baseline and stream fan-out', async () => {
    const { code, stdout, stderr } = await script('benchmarks', [
      '--url',
      trader.url,
      '--token-file',
      tokenFile,
      '--duration',
      '2',
      '--connections',
      '8',
      '--streams',
      '10',
    ]);
    expect(code, stderr).toBe(0);
    const rps = (route: string) =>
      Number(new RegExp(`^${route.replace(/\//g, '\\/')}\\s+(\\d+)`, 'm').exec(stdout)?.[1]);
    expect(rps('/health/liveness')).toBeGreaterThan(0);
    expect(rps('/api/positions')).toBeGreaterThan(0);
    const streams = /^10\s+[0-9.]+\s+([0-9.]+)\s/m.exec(stdout);
    expect(Number(streams?.[1]), stdout).toBeGreaterThan(0);
    console.log(stdout);
  }, 90_000);

  it('names what is wrong and exits 1: nothing listening, then readiness 503 while the trader drains', async () => {
    const down = await check(`http://127.0.0.1:${await freePort()}`);
    expect(down.code).toBe(1);
    expect(down.stderr).toMatch(/unhealthy: liveness: unreachable/);

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
