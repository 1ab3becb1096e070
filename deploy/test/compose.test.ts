// The production compose file: validated by `docker-compose config` (no engine needed) and checked as parsed
// (health checks, limits, restart policies, secrets only from files, the trader's image tag, the paths it mounts
// from the other parts of the kit); then a smoke run of its application services, two engines (active and standby)
// and two gateways, from the image the image test builds, on the host's PostgreSQL and Redis: one engine is active,
// the other standby; the active one, frozen past its lease, loses it, exits 75 (demoted) and its restart policy
// brings it back as the standby.
//
// The smoke runs each service's definition (command, environment, secrets, read-only root, tmpfs, user, limits,
// health check, stop grace period) with plain `podman run` on the host network, not with podman-compose: Debian's
// podman-compose 1.0.3 puts every container on a project network (netavark bridge, which needs iptables, absent on
// these machines), and adds that network even to `network_mode: host` services, which podman then refuses.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, serviceUrls, systemProgramTestRuns, uniqueName, waitFor } from '@cryptoscalp/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { renderNginxConfig, settingsFromEnvFile } from '../nginx/render-config.js';
import { dropTraderSchema } from '../rehearsal/trader-process.js';
import {
  BUILD_TIMEOUT_MS,
  buildTraderImage,
  inspect,
  ownerLabel,
  podman,
  removeContainers,
  removeOrphanedTestContainers,
  removeVolumes,
  repoRoot,
  run,
  TRADER_UID,
} from './podman.js';

const composeDir = join(repoRoot, 'deploy/compose');
const composeFile = join(composeDir, 'compose.yaml');
const envExample = join(composeDir, '.env.production.example');
const traderVersion = JSON.parse(readFileSync(join(repoRoot, 'apps/trader/package.json'), 'utf8')).version as string;
const ENGINES = ['engine-1', 'engine-2'] as const;
const TRADER_SERVICES = [...ENGINES, 'gateway-1', 'gateway-2'] as const;
const isEngine = (name: string) => name.startsWith('engine-');

/** A service as `docker-compose config` normalises it (the fields these tests read). */
interface Service {
  image: string;
  command?: string[];
  environment?: Record<string, string | null>;
  healthcheck?: { test: string[]; disable?: boolean; timeout?: string };
  restart?: string;
  deploy?: { replicas?: number; resources?: { limits?: { cpus?: string | number; memory?: string } } };
  secrets?: { source: string; target?: string }[];
  volumes?: string[];
  tmpfs?: string[];
  read_only?: boolean;
  user?: string;
  stop_grace_period?: string;
}

interface ComposeConfig {
  services: Record<string, Service>;
  secrets: Record<string, { file: string }>;
}

async function composeConfig(): Promise<ComposeConfig> {
  const { stdout } = await run('docker-compose', ['--env-file', envExample, '-f', composeFile, 'config'], {
    cwd: composeDir,
  });
  return parse(stdout) as ComposeConfig;
}

describe.runIf(systemProgramTestRuns('docker-compose'))('production compose', () => {
  it('validates, and every service has a health check, limits and a restart policy', async () => {
    const config = await composeConfig();
    const names = Object.keys(config.services);
    expect(names).toEqual(
      expect.arrayContaining([
        ...TRADER_SERVICES,
        'nginx',
        'postgres-primary',
        'postgres-replica',
        'redis',
        'dragonfly',
        'clickhouse',
        'prometheus',
        'alertmanager',
        'grafana',
        'loki',
      ]),
    );
    for (const [name, s] of Object.entries(config.services)) {
      expect(s.healthcheck?.test?.length, `${name} healthcheck`).toBeGreaterThan(1);
      expect(s.healthcheck?.test?.[0], `${name} healthcheck`).not.toBe('NONE');
      expect(s.healthcheck?.disable, `${name} healthcheck`).not.toBe(true);
      expect(['always', 'unless-stopped', 'on-failure'], `${name} restart`).toContain(s.restart);
      expect(Number(s.deploy?.resources?.limits?.cpus), `${name} cpu limit`).toBeGreaterThan(0);
      expect(s.deploy?.resources?.limits?.memory, `${name} memory limit`).toMatch(/^\d+[KMG]$/);
    }
  });

  it('takes secrets only from files, never from environment values', async () => {
    const config = await composeConfig();
    for (const [name, s] of Object.entries(config.services)) {
      for (const [key, value] of Object.entries(s.environment ?? {})) {
        if (/(PASSWORD|SECRET|TOKEN|PRIVATE_KEY|API_KEY|_URLS?)$/.test(key))
          expect.fail(`${name}: ${key} holds a secret in the environment; use ${key}_FILE and a secret`);
        expect(String(value), `${name}: ${key}`).not.toMatch(/:\/\/[^/@\s]+:[^/@\s]+@/);
        if (/_FILE$/.test(key)) expect(String(value), `${name}: ${key}`).toMatch(/^\/run\/secrets\//);
      }
      for (const secret of s.secrets ?? [])
        expect(config.secrets[secret.source], `${name}: ${secret.source}`).toBeDefined();
    }
    for (const [name, secret] of Object.entries(config.secrets))
      expect(secret.file, name).toContain(join(composeDir, 'secrets/'));
    // The files themselves stay out of git.
    const gitignore = readFileSync(join(repoRoot, '.gitignore'), 'utf8').split('\n');
    expect(gitignore).toEqual(expect.arrayContaining(['deploy/compose/secrets/', 'deploy/compose/.env.production']));
  });

  it("runs the trader's image at the trader's version: two engines active/standby, read-only, non-root", async () => {
    const config = await composeConfig();
    for (const name of TRADER_SERVICES) {
      const s = config.services[name] as Service;
      expect(s.image, name).toBe(`localhost/cryptoscalp/trader:${traderVersion}`);
      expect(s.read_only, name).toBe(true);
      expect(s.user, name).toBe(`${TRADER_UID}:${TRADER_UID}`);
      expect(s.command, name).toEqual(['--role', isEngine(name) ? 'engine' : 'gateway']);
      expect(s.environment?.TRADER_INSTANCE_ID, name).toBe(name);
    }
    // The engines: one container each, their own journal volume, the lease on; an engine that loses the lease exits
    // 75 and its policy restarts it (`no` would leave the pair without a standby).
    for (const name of ENGINES) {
      const s = config.services[name] as Service;
      expect(s.deploy?.replicas, name).toBe(1);
      expect(s.volumes, name).toEqual([expect.stringMatching(new RegExp(`^${name}-data:/data(:rw)?$`))]);
      expect(s.environment?.TRADER_HA_ENABLED, name).toBe('true');
      expect(['always', 'unless-stopped', 'on-failure'], name).toContain(s.restart);
    }
    expect(readFileSync(envExample, 'utf8')).toContain(`TRADER_IMAGE=localhost/cryptoscalp/trader:${traderVersion}\n`);
  });

  it('mounts files that exist in the kit, and its scripts and Nginx settings are valid', async () => {
    const config = await composeConfig();
    const rendered = join(composeDir, 'rendered');
    for (const [name, s] of Object.entries(config.services))
      for (const volume of s.volumes ?? []) {
        const source = volume.split(':')[0] as string;
        if (!source.startsWith('/') || source.startsWith(rendered) || source.endsWith('.sock')) continue;
        expect(existsSync(source), `${name}: ${source}`).toBe(true);
      }
    for (const script of ['postgres/primary-init.sh', 'postgres/replica-entrypoint.sh'])
      await run('sh', ['-n', join(composeDir, script)]);
    // deploy/compose/nginx.env fills every placeholder of deploy/nginx, and names the compose gateways.
    const out = mkdtempSync(join(tmpdir(), 'cs-compose-nginx-'));
    try {
      const settings = settingsFromEnvFile(join(composeDir, 'nginx.env'));
      expect(settings.gateways).toEqual(['gateway-1:8080', 'gateway-2:8080']);
      const nginxConf = renderNginxConfig(settings, out);
      expect(readFileSync(nginxConf, 'utf8')).not.toMatch(/\$\{NGINX_[A-Z_]+\}/);
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });
});

describe.runIf(systemProgramTestRuns('podman') && systemProgramTestRuns('docker-compose'))(
  'production compose smoke: two engines and two gateways from the image',
  () => {
    let image: string;
    let config: ComposeConfig;
    const prefix = uniqueName('cs_compose');
    const schema = uniqueName('compose');
    const busKey = `${prefix}:trader`;
    let dir: string | undefined;
    // Everything this file starts, removed in afterAll: it runs even when a test timed out (a `finally` inside the
    // test would not, and its containers would live on).
    const containers: string[] = [];
    const volumes: string[] = [];
    const ports: Record<string, number> = {};
    // The secrets' contents for this run: the host's servers and fresh random secrets.
    const secretValues: Record<string, string> = {
      trader_database_url: serviceUrls.postgres,
      trader_database_replica_urls: serviceUrls.postgres,
      trader_redis_url: serviceUrls.redis,
      trader_jwt_secret: randomBytes(32).toString('hex'),
      trader_metrics_token: randomBytes(32).toString('hex'),
      trader_kek: randomBytes(32).toString('base64'),
    };
    const container = (name: string) => `${prefix}_${name}`;
    const base = (name: string) => `http://127.0.0.1:${ports[name]}`;

    /** The engine-active gauge of one engine's `/metrics` (0 standby, 1 active), undefined when it does not answer. */
    async function activeGauge(name: string): Promise<number | undefined> {
      try {
        const res = await fetch(`${base(name)}/metrics`, {
          headers: { authorization: `Bearer ${secretValues.trader_metrics_token}` },
          signal: AbortSignal.timeout(5_000),
        });
        const m = /^cryptoscalp_trader_engine_active (\d)/m.exec(await res.text());
        return m === null ? undefined : Number(m[1]);
      } catch {
        return undefined;
      }
    }

    async function ready(name: string): Promise<boolean> {
      try {
        return (await fetch(`${base(name)}/health/readiness`, { signal: AbortSignal.timeout(5_000) })).status === 200;
      } catch {
        return false;
      }
    }

    /** Waits for `check`; on a timeout the error carries the container's logs. */
    async function waitWithLogs(name: string, what: string, check: () => Promise<boolean>): Promise<void> {
      await waitFor(check, { timeoutMs: 120_000, intervalMs: 200, what: `${name}: ${what}` }).catch(
        async (e: unknown) => {
          const logs = await podman(['logs', '--tail', '60', container(name)], { allowFailure: true });
          throw new Error(`${e instanceof Error ? e.message : e}\n${logs.stdout}${logs.stderr}`);
        },
      );
    }

    /** `podman run` of one compose service as the file defines it, on the host network and a port of its own. */
    async function start(name: string): Promise<void> {
      const s = config.services[name] as Service;
      const port = await freePort();
      ports[name] = port;
      const args = ['run', '--detach', '--name', container(name), ...ownerLabel(), '--network', 'host'];
      if (s.read_only) args.push('--read-only');
      if (s.user !== undefined) args.push('--user', s.user);
      if (s.restart !== undefined) args.push('--restart', s.restart);
      for (const t of s.tmpfs ?? []) args.push('--tmpfs', t);
      const env = {
        ...s.environment,
        // Host network: ports of their own; and a schema and stream key of this test's own.
        TRADER_HTTP_PORT: String(port),
        TRADER_DATABASE_SCHEMA: schema,
        TRADER_BUS_KEY: busKey,
      };
      for (const [k, v] of Object.entries(env)) args.push('--env', `${k}=${v ?? ''}`);
      for (const secret of s.secrets ?? []) {
        const value = secretValues[secret.source];
        if (value === undefined) throw new Error(`${name}: no test value for secret ${secret.source}`);
        const file = join(dir as string, `${name}-${secret.source}`);
        writeFileSync(file, `${value}\n`, { mode: 0o444 });
        args.push('--volume', `${file}:${secret.target ?? `/run/secrets/${secret.source}`}:ro`);
      }
      for (const v of s.volumes ?? []) {
        const [source, target] = v.split(':');
        const volume = `${prefix}_${source}`;
        volumes.push(volume);
        args.push('--volume', `${volume}:${target}`);
      }
      const limits = s.deploy?.resources?.limits;
      if (limits?.cpus !== undefined) args.push('--cpus', String(limits.cpus));
      if (limits?.memory !== undefined) args.push('--memory', limits.memory);
      if (s.healthcheck !== undefined)
        args.push(
          '--health-cmd',
          JSON.stringify(s.healthcheck.test.slice(1)),
          '--health-interval',
          '10s',
          '--health-timeout',
          s.healthcheck.timeout ?? '30s',
        );
      if (s.stop_grace_period !== undefined)
        args.push('--stop-timeout', String(Number.parseInt(s.stop_grace_period, 10)));
      args.push(image, ...(s.command ?? []));
      containers.push(container(name));
      await podman(args);
    }

    beforeAll(async () => {
      await removeOrphanedTestContainers();
      dir = mkdtempSync(join(tmpdir(), 'cs-compose-'));
      [{ image }, config] = await Promise.all([buildTraderImage(), composeConfig()]);
    }, BUILD_TIMEOUT_MS);

    afterAll(async () => {
      await removeContainers(...containers);
      await removeVolumes(...volumes);
      await dropTraderSchema(serviceUrls.postgres, schema);
      const keys = await run('redis-cli', ['-u', serviceUrls.redis, '--scan', '--pattern', `${prefix}*`], {
        allowFailure: true,
      });
      const list = keys.stdout.split('\n').filter(Boolean);
      if (list.length > 0) await run('redis-cli', ['-u', serviceUrls.redis, 'unlink', ...list], { allowFailure: true });
      if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
    }, 180_000);

    it('start as the compose file defines them: one engine active, one standby, both gateways ready and healthy', async () => {
      // The engines first, together (each competes for the lease); the gateways once they are ready (depends_on).
      for (const name of ENGINES) await start(name);
      for (const name of ENGINES) await waitWithLogs(name, 'ready', () => ready(name));
      await waitFor(async () => ((await activeGauge('engine-1')) ?? 0) + ((await activeGauge('engine-2')) ?? 0) === 1, {
        timeoutMs: 60_000,
        intervalMs: 200,
        what: 'one active engine',
      });
      const gauges = [await activeGauge('engine-1'), await activeGauge('engine-2')].sort();
      expect(gauges).toEqual([0, 1]);
      for (const name of ['gateway-1', 'gateway-2']) {
        await start(name);
        await waitWithLogs(name, 'ready', () => ready(name));
      }
      for (const name of TRADER_SERVICES) {
        expect((await fetch(`${base(name)}/health/liveness`)).status, name).toBe(200);
        const health = await podman(['healthcheck', 'run', container(name)], { allowFailure: true, timeoutMs: 60_000 });
        expect(health.code, `${name}: ${health.stdout}${health.stderr}`).toBe(0);
        const logs = (await podman(['logs', container(name)])).stdout;
        expect(logs, name).toContain(`starting role ${isEngine(name) ? 'engine' : 'gateway'} (production)`);
      }
      // The compose limits reached the containers.
      const engine = (await inspect('container', container('engine-1'))).HostConfig as {
        Memory: number;
        NanoCpus: number;
        RestartPolicy: { Name: string };
      };
      expect(engine.Memory).toBe(1024 ** 3);
      expect(engine.NanoCpus).toBe(2e9);
      expect(engine.RestartPolicy.Name).toBe('unless-stopped');
    });

    it('the active engine, frozen past its lease, is demoted (exit 75) and its restart policy brings it back as the standby', async () => {
      const [active, standby] = (await activeGauge('engine-1')) === 1 ? ENGINES : [...ENGINES].reverse();
      expect(await activeGauge(standby as string)).toBe(0);
      // Frozen (cgroup freezer): it cannot renew, so the standby takes the lease once it expires (2 s by default).
      await podman(['pause', container(active as string)]);
      try {
        await waitFor(async () => (await activeGauge(standby as string)) === 1, {
          timeoutMs: 60_000,
          intervalMs: 200,
          what: `${standby} takes over`,
        });
      } finally {
        await podman(['unpause', container(active as string)], { allowFailure: true });
      }
      // Thawed, the old leader finds its lease gone: demoted, it exits 75, and podman restarts it (unless-stopped).
      await waitWithLogs(active as string, 'restarted as the standby', async () => {
        const c = await inspect('container', container(active as string));
        return (
          (c.RestartCount as number) >= 1 &&
          (await ready(active as string)) &&
          (await activeGauge(active as string)) === 0
        );
      });
      const logs = (await podman(['logs', container(active as string)])).stdout;
      expect(logs).toMatch(/trader: demoted: /);
      expect(logs.match(/starting role engine \(production\)/g)?.length).toBeGreaterThanOrEqual(2);
      // The new leader stays active (a scrape may be slow on a loaded host: asked until it answers).
      await waitWithLogs(
        standby as string,
        'still the active engine',
        async () => (await activeGauge(standby as string)) === 1,
      );
      // The gateways kept serving through the takeover.
      for (const name of ['gateway-1', 'gateway-2']) await waitWithLogs(name, 'ready', () => ready(name));
    });

    it('stop gracefully in reverse order, each exiting 0 after its summary', async () => {
      for (const name of [...TRADER_SERVICES].reverse()) {
        await podman(['stop', container(name)], { timeoutMs: 90_000 });
        const state = (await inspect('container', container(name))).State as { ExitCode: number };
        expect(state.ExitCode, name).toBe(0);
        expect((await podman(['logs', container(name)])).stdout, name).toContain('trader: summary {');
      }
    });
  },
);
