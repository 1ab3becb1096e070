// The trader's image, built and run for real with podman: read-only root filesystem, a data volume, non-root,
// a published port, the JWT secret from a file and PostgreSQL as production needs them (the host's server,
// reached through slirp4netns, in a schema of the test's own); probes from outside, the HEALTHCHECK,
// the labels, a user created with `trader users add` inside the container who logs in through HTTP (argon2 and
// TOTP in the image), and a graceful stop on SIGTERM. Prints the image size and the time from `podman run` to ready.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, serviceUrls, systemProgramTestRuns, uniqueName, waitFor } from '@cryptoscalp/testkit';
import { generate } from 'otplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { issueToken } from '../../apps/trader/src/http/tokens.js';
import { dropTraderSchema } from '../rehearsal/trader-process.js';
import {
  BUILD_TIMEOUT_MS,
  type BuiltImage,
  buildTraderImage,
  fromSlirp,
  inspect,
  ownerLabel,
  podman,
  removeContainers,
  removeOrphanedTestContainers,
  removeVolumes,
  repoRoot,
  SLIRP_NETWORK,
  TRADER_UID,
} from './podman.js';

const SIZE_GOAL_MB = 250;
const READY_GOAL_S = 10;
const STOP_TIMEOUT_S = 30;

describe.runIf(systemProgramTestRuns('podman'))('trader image', () => {
  let built: BuiltImage;
  // What the run test makes, removed in afterAll: it runs even when the test timed out (a `finally` in the test
  // would not, and the container would live on).
  const name = uniqueName('cs_image');
  const volume = `${name}_data`;
  const schema = uniqueName('image');
  const dirs: string[] = [];

  afterAll(async () => {
    await removeContainers(name);
    await removeVolumes(volume);
    await dropTraderSchema(serviceUrls.postgres, schema);
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  }, 120_000);

  // A fresh machine builds the base images (debootstrap, apt-get) and the image with a cold npm cache first.
  beforeAll(async () => {
    await removeOrphanedTestContainers();
    built = await buildTraderImage();
  }, BUILD_TIMEOUT_MS);

  it('copies the manifest of every workspace the trader is made of before `npm ci`', () => {
    // The build's dependency layers are keyed on these COPY lines: a package added to packages/ without its line
    // would be missing from the image's npm ci.
    const dockerfile = readFileSync(join(repoRoot, 'Dockerfile'), 'utf8');
    const manifests = [...readdirSync(join(repoRoot, 'packages')).map((p) => `packages/${p}`), 'apps/trader'];
    for (const dir of manifests) expect(dockerfile).toContain(`COPY ${dir}/package.json ${dir}/\n`);
  });

  it('is small, labelled, non-root, with a HEALTHCHECK on liveness', async () => {
    const image = await inspect('image', built.image);
    const sizeMb = (image.Size as number) / 1e6;
    console.log(`image: ${built.image} is ${sizeMb.toFixed(1)} MB (goal <= ${SIZE_GOAL_MB} MB)`);
    expect(sizeMb).toBeLessThanOrEqual(SIZE_GOAL_MB);
    const config = image.Config as {
      User: string;
      Labels: Record<string, string>;
      Entrypoint: string[];
      ExposedPorts: Record<string, unknown>;
      Volumes: Record<string, unknown>;
    };
    expect(config.User).toBe(`${TRADER_UID}:${TRADER_UID}`);
    // podman keeps the HEALTHCHECK (with --format docker) beside the config.
    expect((image.Healthcheck as { Test: string[] } | undefined)?.Test).toEqual([
      'CMD',
      'node',
      '/app/healthcheck.mjs',
    ]);
    expect(config.Entrypoint).toEqual(['node', '/app/entrypoint.mjs']);
    expect(Object.keys(config.ExposedPorts)).toEqual(['9464/tcp']);
    expect(Object.keys(config.Volumes)).toEqual(['/data']);
    const version = JSON.parse(readFileSync(join(repoRoot, 'apps/trader/package.json'), 'utf8')).version;
    expect(config.Labels).toMatchObject({
      'org.opencontainers.image.title': 'cryptoscalp-trader',
      'org.opencontainers.image.version': version,
      'org.opencontainers.image.licenses': 'MIT',
    });
    expect(config.Labels['org.opencontainers.image.revision']).toMatch(/^[0-9a-f]{40}$/);
  });

  it('runs read-only as non-root, is ready from outside, healthy, logs a user in, and stops gracefully on SIGTERM', async () => {
    const secrets = mkdtempSync(join(tmpdir(), 'cs-image-'));
    dirs.push(secrets);
    // Production reads the API's token secret from a file (compose and Kubernetes secrets), never the image.
    const secretFile = join(secrets, 'jwt_secret');
    const secret = randomBytes(32).toString('hex');
    writeFileSync(secretFile, `${secret}\n`, { mode: 0o444 });
    // The key-encryption key of secrets at rest (TOTP secrets): production refuses to start without one.
    const kekFile = join(secrets, 'kek');
    writeFileSync(kekFile, `${randomBytes(32).toString('base64')}\n`, { mode: 0o444 });
    // The first administrator's password, for `trader users add --password-file` inside the container.
    const password = randomBytes(18).toString('base64url');
    const passwordFile = join(secrets, 'admin_password');
    writeFileSync(passwordFile, `${password}\n`, { mode: 0o444 });
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    const started = Date.now();
    await podman([
      'run',
      '--detach',
      '--name',
      name,
      ...ownerLabel(),
      '--read-only',
      '--volume',
      `${volume}:/data`,
      '--volume',
      `${secretFile}:/run/secrets/jwt_secret:ro`,
      '--env',
      'TRADER_JWT_SECRET_FILE=/run/secrets/jwt_secret',
      '--volume',
      `${kekFile}:/run/secrets/kek:ro`,
      '--env',
      'TRADER_KEK_FILE=/run/secrets/kek',
      '--volume',
      `${passwordFile}:/run/secrets/admin_password:ro`,
      // Production runs on PostgreSQL (the embedded PGlite's first start, an initdb in WASM, is what a
      // container must not wait for): the host's, in a schema of the test's own.
      '--env',
      `DATABASE_URL=${fromSlirp(serviceUrls.postgres)}`,
      '--env',
      `TRADER_DATABASE_SCHEMA=${schema}`,
      '--network',
      SLIRP_NETWORK,
      '--publish',
      `127.0.0.1:${port}:9464`,
      '--stop-timeout',
      String(STOP_TIMEOUT_S),
      built.image,
    ]);
    const runSeconds = (Date.now() - started) / 1000;
    await waitFor(async () => (await fetch(`${base}/health/readiness`)).status === 200, {
      timeoutMs: 90_000,
      intervalMs: 50,
      what: `readiness of ${name} on ${base}`,
    }).catch(async (e: unknown) => {
      const logs = await podman(['logs', name], { allowFailure: true });
      throw new Error(`${e instanceof Error ? e.message : e}\n${logs.stdout}${logs.stderr}`);
    });
    const readySeconds = (Date.now() - started) / 1000;
    console.log(
      `image: ready ${readySeconds.toFixed(1)} s after podman run (goal <= ${READY_GOAL_S} s; podman run itself ` +
        `returned after ${runSeconds.toFixed(1)} s; load average ${loadavg()[0]?.toFixed(1)})`,
    );

    expect((await fetch(`${base}/health/readiness`)).status).toBe(200);
    expect((await fetch(`${base}/health/liveness`)).status).toBe(200);
    // The details need a token: one signed with the secret from the file is accepted, so the trader took it.
    expect((await fetch(`${base}/health/status`)).status).toBe(401);
    const token = await issueToken({ sub: 'image-test', role: 'viewer', secret, ttl: '5m' });
    const details = await fetch(`${base}/health/status`, { headers: { authorization: `Bearer ${token}` } });
    expect(details.status).toBe(200);
    expect((await podman(['logs', name])).stdout).toContain('starting role all (production)');

    // A person logs in: `trader users add` in the container hashes the password with argon2id (the image's own
    // build of the addon), then POST /api/auth/login verifies it in the trader (PID 1) with a TOTP code.
    const username = 'image-admin';
    const add = await podman(
      [
        'exec',
        name,
        'node',
        '/app/entrypoint.mjs',
        'users',
        'add',
        '--username',
        username,
        '--role',
        'admin',
        '--password-file',
        '/run/secrets/admin_password',
      ],
      { allowFailure: true, timeoutMs: 60_000 },
    );
    expect(add.code, `trader users add: ${add.stdout}${add.stderr}`).toBe(0);
    expect(add.stdout).toContain(`trader: user ${username} (admin) created`);
    const uri = add.stdout.split('\n').find((l) => l.startsWith('otpauth://totp/'));
    const totpSecret = uri === undefined ? undefined : new URL(uri).searchParams.get('secret');
    expect(totpSecret, add.stdout).toMatch(/^[A-Z2-7]+=*$/);
    const login = await fetch(`${base}/api/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username, password, totp: await generate({ secret: totpSecret as string }) }),
    });
    const session = (await login.json()) as { accessToken?: string; refreshToken?: string; expiresIn?: number };
    expect(login.status, JSON.stringify(session)).toBe(200);
    expect(session.accessToken).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/);
    expect(session.refreshToken).toMatch(/^[\w-]{43}$/);
    const me = await fetch(`${base}/api/me`, { headers: { authorization: `Bearer ${session.accessToken}` } });
    expect(me.status).toBe(200);
    expect(await me.json()).toMatchObject({ sub: username, role: 'admin' });
    // A wrong password is refused (401), and the trader is still up: argon2 did not take the process down.
    const wrong = await fetch(`${base}/api/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username, password: `${password}x`, totp: '000000' }),
    });
    expect(wrong.status).toBe(401);
    expect((await fetch(`${base}/health/liveness`)).status).toBe(200);

    // PID 1 is node running the trader, as the image's user.
    const status = await podman(['exec', name, 'cat', '/proc/1/status', '/proc/1/cmdline']);
    const uid = Number(/^Uid:\s+(\d+)/m.exec(status.stdout)?.[1]);
    expect(uid).toBe(TRADER_UID);
    expect(status.stdout).toContain('node\0/app/entrypoint.mjs');

    // The root filesystem refuses writes; the data volume takes the journal.
    const write = await podman(['exec', name, 'node', '-e', 'require("fs").writeFileSync("/app/probe", "")'], {
      allowFailure: true,
    });
    expect(write.code).not.toBe(0);
    expect(write.stderr).toContain('EROFS');
    const data = await podman(['exec', name, 'ls', '/data']);
    expect(data.stdout.split('\n')).toContain('journal.jsonl');

    // No systemd here: podman runs the image's HEALTHCHECK only when asked.
    const health = await podman(['healthcheck', 'run', name], { allowFailure: true });
    expect(health.code, health.stdout + health.stderr).toBe(0);
    const state = (await inspect('container', name)).State as { Health?: { Status: string } };
    expect(state.Health?.Status).toBe('healthy');

    const stopStart = Date.now();
    await podman(['stop', '--time', String(STOP_TIMEOUT_S), name], { timeoutMs: (STOP_TIMEOUT_S + 30) * 1000 });
    const stopSeconds = (Date.now() - stopStart) / 1000;
    console.log(`image: stopped ${stopSeconds.toFixed(1)} s after SIGTERM (stop timeout ${STOP_TIMEOUT_S} s)`);
    const stopped = (await inspect('container', name)).State as { ExitCode: number; OOMKilled: boolean };
    // 0, not 137: the trader stopped itself on SIGTERM, podman did not have to kill it at the stop timeout.
    expect(stopped.ExitCode).toBe(0);
    const after = await podman(['logs', name]);
    expect(after.stdout).toContain('trader: stopping (SIGTERM)');
    expect(after.stdout).toContain('trader: summary {');
  });
});
