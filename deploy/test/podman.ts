// Podman for the deployment tests: the machine's known-good configuration (deploy/image/podman-env.sh), the
// trader's image built once per machine state (base images, then `podman build` with its layer cache, serialised
// across test processes by a lock), and small command wrappers. Containers and volumes a test makes are its own
// to remove, by name, in `finally`.
import { execFile, execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** The repository's root directory. */
export const repoRoot = fileURLToPath(new URL('../../', import.meta.url));

/** The trader's image as the tests build it (`Dockerfile` at the repository root). */
export const TRADER_IMAGE = 'localhost/cryptoscalp/trader:test';

/** The image's non-root user, as the Dockerfile sets it. */
export const TRADER_UID = 10001;

/** The host's CA bundle: the build's outbound TLS (npm) may go through a proxy only it trusts. */
const CA_BUNDLE = '/etc/ssl/certs/ca-certificates.crt';

let cachedEnv: NodeJS.ProcessEnv | undefined;

/**
 * The environment for podman commands: this process's environment plus `CONTAINERS_CONF`,
 * `CONTAINERS_STORAGE_CONF` and `TMPDIR` from `deploy/image/podman-env.sh` (written on first use).
 */
export function podmanEnv(): NodeJS.ProcessEnv {
  if (cachedEnv === undefined) {
    const out = execFileSync('bash', [`${repoRoot}deploy/image/podman-env.sh`], { encoding: 'utf8' });
    const vars: Record<string, string> = {};
    for (const line of out.split('\n')) {
      const eq = line.indexOf('=');
      if (eq > 0) vars[line.slice(0, eq)] = line.slice(eq + 1);
    }
    cachedEnv = { ...process.env, ...vars };
  }
  return cachedEnv;
}

/** What a finished command printed, and its exit code. */
export interface CommandResult {
  stdout: string;
  stderr: string;
  code: number;
}

/** Options of {@link run}. */
export interface RunOptions {
  /** Kill the command after this long. @default 120_000 */
  timeoutMs?: number;
  /** Resolve with a non-zero exit code instead of rejecting. @default false */
  allowFailure?: boolean;
  /** Working directory. @default the repository root */
  cwd?: string;
}

/** Runs `command args` with the podman environment; rejects on a non-zero exit unless `allowFailure`. */
export async function run(command: string, args: readonly string[], options: RunOptions = {}): Promise<CommandResult> {
  const { timeoutMs = 120_000, allowFailure = false, cwd = repoRoot } = options;
  return await new Promise<CommandResult>((resolve, reject) => {
    execFile(
      command,
      args,
      { env: podmanEnv(), cwd, timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024, encoding: 'utf8' },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === 'number' ? error.code : 1;
        if (code !== 0 && !allowFailure) {
          const tail = `${stdout}\n${stderr}`.trim().split('\n').slice(-40).join('\n');
          reject(new Error(`${command} ${args.join(' ')} exited ${error?.code ?? error?.signal}:\n${tail}`));
          return;
        }
        resolve({ stdout, stderr, code });
      },
    );
  });
}

/** `podman args`: see {@link run}. */
export async function podman(args: readonly string[], options: RunOptions = {}): Promise<CommandResult> {
  return await run('podman', args, options);
}

/** The work dir lock that serialises image builds between test processes (vitest runs files in parallel forks). */
function withBuildLock(command: string, args: readonly string[]): [string, string[]] {
  const dir = podmanEnv().CONTAINERS_CONF?.replace(/\/[^/]*$/, '') ?? '/var/tmp';
  return ['flock', [`${dir}/build.lock`, command, ...args]];
}

/** How the image came to be: names and seconds spent. */
export interface BuiltImage {
  image: string;
  baseImages: string[];
  baseSeconds: number;
  buildSeconds: number;
}

let built: Promise<BuiltImage> | undefined;

/**
 * How long {@link buildTraderImage} may take, for the hook that awaits it: on a fresh machine (no podman storage,
 * cold npm cache) it runs debootstrap, apt-get for the build image's compilers and both `npm ci`: about 15 minutes
 * measured on a shared 2-core machine at load average 20-30; 1.5-2.5 minutes when only the sources changed.
 */
export const BUILD_TIMEOUT_MS = 40 * 60_000;

/**
 * Builds the base images (`deploy/image/build-base.sh`, skipped when they exist) and the trader's image
 * ({@link TRADER_IMAGE}) from the repository's `Dockerfile`. Layers are cached, so an unchanged tree rebuilds in
 * seconds; one build at a time on the machine. Labels carry the commit (stable between runs, so cache-friendly).
 * Prints the seconds each part took.
 */
export function buildTraderImage(): Promise<BuiltImage> {
  built ??= (async () => {
    const t0 = Date.now();
    const base = await run(...withBuildLock('bash', [`${repoRoot}deploy/image/build-base.sh`]), {
      timeoutMs: BUILD_TIMEOUT_MS,
    });
    const baseImages = base.stdout.trim().split('\n').slice(-2);
    const [runtimeBase, buildBase] = baseImages;
    const t1 = Date.now();
    const git = (...args: string[]) =>
      execFileSync('git', args, { cwd: repoRoot, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    const version = JSON.parse(readFileSync(`${repoRoot}apps/trader/package.json`, 'utf8')).version as string;
    await run(
      ...withBuildLock('podman', [
        'build',
        '--format',
        'docker',
        // netavark's bridge needs iptables, which these machines do not have; RUN steps use the host's network.
        '--network',
        'host',
        '--secret',
        `id=ca,src=${CA_BUNDLE}`,
        '--build-arg',
        `BASE_IMAGE=${runtimeBase}`,
        '--build-arg',
        `BUILD_IMAGE=${buildBase}`,
        '--build-arg',
        `VERSION=${version}`,
        '--build-arg',
        `REVISION=${git('rev-parse', 'HEAD')}`,
        '--build-arg',
        `CREATED=${git('log', '-1', '--format=%cI')}`,
        '--tag',
        TRADER_IMAGE,
        repoRoot,
      ]),
      { timeoutMs: BUILD_TIMEOUT_MS },
    );
    const result = {
      image: TRADER_IMAGE,
      baseImages,
      baseSeconds: (t1 - t0) / 1000,
      buildSeconds: (Date.now() - t1) / 1000,
    };
    console.log(
      `image: base images ${baseImages.join(', ')} in ${result.baseSeconds.toFixed(1)} s, ` +
        `${TRADER_IMAGE} built in ${result.buildSeconds.toFixed(1)} s`,
    );
    return result;
  })();
  return built;
}

/**
 * The network of a test container: its own namespace through slirp4netns (netavark's bridge needs iptables, which
 * these machines do not have), with the host's loopback reachable as {@link SLIRP_HOST_LOOPBACK}.
 */
export const SLIRP_NETWORK = 'slirp4netns:allow_host_loopback=true';

/** The address of the host's loopback inside a {@link SLIRP_NETWORK} container. */
export const SLIRP_HOST_LOOPBACK = '10.0.2.2';

/** `url` (a service on the host's loopback) as a {@link SLIRP_NETWORK} container reaches it. */
export function fromSlirp(url: string): string {
  const parsed = new URL(url);
  if (['127.0.0.1', 'localhost', '[::1]'].includes(parsed.hostname)) parsed.hostname = SLIRP_HOST_LOOPBACK;
  return parsed.toString();
}

/** `podman inspect` of one container or image, parsed. */
export async function inspect(kind: 'container' | 'image', name: string): Promise<Record<string, unknown>> {
  const { stdout } = await podman([kind, 'inspect', name]);
  return (JSON.parse(stdout) as Record<string, unknown>[])[0] as Record<string, unknown>;
}

/** Removes containers by name or id, ignoring those already gone (for `finally`). */
export async function removeContainers(...names: string[]): Promise<void> {
  if (names.length > 0) await podman(['rm', '--force', '--time', '5', ...names], { allowFailure: true });
}

/** Removes volumes by name, ignoring those already gone (for `finally`). */
export async function removeVolumes(...names: string[]): Promise<void> {
  if (names.length > 0) await podman(['volume', 'rm', '--force', ...names], { allowFailure: true });
}

/** The label that names the test process owning a container (see {@link removeOrphanedTestContainers}). */
const OWNER_LABEL = 'com.cryptoscalp.test.pid';

/** `podman run` arguments that label a container with this test process's pid. */
export function ownerLabel(): string[] {
  return ['--label', `${OWNER_LABEL}=${process.pid}`];
}

/**
 * Removes the containers of test processes that are gone (killed before their afterAll ran): found by
 * {@link ownerLabel}, each removed by its id, so a later run does not share the machine with them.
 */
export async function removeOrphanedTestContainers(): Promise<void> {
  const { stdout } = await podman(
    ['ps', '--all', '--filter', `label=${OWNER_LABEL}`, '--format', `{{.ID}} {{index .Labels "${OWNER_LABEL}"}}`],
    { allowFailure: true },
  );
  const orphans: string[] = [];
  for (const line of stdout.split('\n')) {
    const [id, pid] = line.trim().split(' ');
    if (id === undefined || id === '' || Number(pid) === process.pid) continue;
    try {
      process.kill(Number(pid), 0);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ESRCH') orphans.push(id);
    }
  }
  if (orphans.length > 0) {
    console.log(`podman: removing ${orphans.length} container(s) left by test processes that are gone`);
    await removeContainers(...orphans);
  }
}
