// Renders, validates and applies a deployment: Kubernetes (kustomize overlay, `kubectl apply --server-side`,
// `kubectl rollout status`) or compose (`docker-compose config`, `podman-compose up -d`). `--dry-run` stops after
// validating. Exit codes: 0 deployed (or valid), 1 invalid or failed, 2 bad command line.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { EXIT, type Io, isMain, numberFlag, parseFlags, required, runScript, stdio, UsageError } from './cli.js';
import {
  composeFile,
  configFileOf,
  deployDir,
  ENVIRONMENTS,
  type EnvName,
  isEnvName,
  overlayDirOf,
  overlayTraderConfig,
  renderCompose,
  renderOverlay,
  validateComposeTraders,
  validateConfigFile,
  validateObjects,
} from './validate.js';

/** The script's `--help` text. */
export const USAGE = `Usage: npx tsx deploy/scripts/deploy.ts --target compose|k8s --env ${Object.keys(ENVIRONMENTS).join('|')} [options]

  --target T         k8s: kubectl kustomize deploy/k8s/overlays/<env>, validate, kubectl apply --server-side,
                     kubectl rollout status for every Deployment and StatefulSet.
                     compose: docker-compose config of deploy/compose/compose.yaml, validate, podman-compose up -d.
  --env E            development, staging or production (compose: production only).
  --env-file F       compose: the variables file (default deploy/compose/.env.<env>).
  --image REF        k8s: the trader image to deploy (default: the overlay's cryptoscalp/trader tag).
  --context C        k8s: the kubectl context (default: the current one).
  --timeout S        k8s: seconds to wait for each rollout (default 300).
  --dry-run          render and validate, apply nothing.
  --help             this text.

Exit codes: 0 deployed (or valid with --dry-run), 1 invalid or failed, 2 bad command line.`;

/** Points every container of the overlay's trader image at `image`. */
function setImage(objects: ReturnType<typeof renderOverlay>, image: string): void {
  for (const o of objects)
    for (const c of [...(o.spec?.template?.spec?.containers ?? []), ...(o.spec?.template?.spec?.initContainers ?? [])])
      if (/(^|\/)cryptoscalp\/trader(:|@|$)/.test(String(c.image))) c.image = image;
}

interface K8sOptions {
  say: (line: string) => void;
  dryRun: boolean;
  context?: string;
  image?: string;
  timeoutSec: number;
}

async function deployK8s(env: EnvName, { say, dryRun, context, image, timeoutSec }: K8sOptions) {
  const dir = overlayDirOf(env);
  const objects = renderOverlay(dir);
  if (image !== undefined) setImage(objects, image);
  const images = new Set(
    objects.flatMap((o) => (o.spec?.template?.spec?.containers ?? []).map((c: { image: string }) => c.image)),
  );
  say(`rendered ${objects.length} objects from ${dir}; images ${[...images].join(', ')}`);
  await validateObjects(objects);
  const config = overlayTraderConfig(objects);
  say(`valid: Kubernetes schemas, trader config (env ${config.env}, journal.fsync ${config.journal.fsync})`);
  if (dryRun) return;
  const kubectl = (args: string[]) =>
    execFileSync('kubectl', [...(context ? ['--context', context] : []), ...args], { stdio: 'inherit' });
  const tmp = mkdtempSync(join(tmpdir(), 'deploy-'));
  try {
    const file = join(tmp, 'rendered.yaml');
    writeFileSync(file, objects.map((o) => `---\n${stringify(o)}`).join(''));
    kubectl(['apply', '--server-side', '--field-manager', 'cryptoscalp-deploy', '-f', file]);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  for (const o of objects.filter((x) => x.kind === 'Deployment' || x.kind === 'StatefulSet'))
    kubectl([
      'rollout',
      'status',
      `${o.kind.toLowerCase()}/${o.metadata.name}`,
      '-n',
      o.metadata.namespace,
      `--timeout=${timeoutSec}s`,
    ]);
}

function deployCompose(env: EnvName, dryRun: boolean, envFile: string, say: (line: string) => void) {
  const model = renderCompose(envFile);
  const services = validateComposeTraders(model, env);
  say(`valid: compose model (${Object.keys(model.services).length} services), trader config of ${services.join(', ')}`);
  if (dryRun) return;
  execFileSync('podman-compose', ['--env-file', envFile, '-f', composeFile, 'up', '-d'], { stdio: 'inherit' });
}

/** The script: returns its exit code, or `undefined` for `--help`; throws UsageError on a bad command line. */
export async function main(argv: readonly string[], io: Io = stdio): Promise<number | undefined> {
  const flags = parseFlags(argv, {
    target: { type: 'string' },
    env: { type: 'string' },
    'env-file': { type: 'string' },
    context: { type: 'string' },
    image: { type: 'string' },
    timeout: { type: 'string' },
    'dry-run': { type: 'boolean' },
  });
  if (flags === undefined) return undefined;
  const target = required(flags.target, 'target');
  const env = required(flags.env, 'env');
  if (target !== 'k8s' && target !== 'compose')
    throw new UsageError(`--target must be k8s or compose, got "${target}"`);
  if (!isEnvName(env))
    throw new UsageError(`--env must be one of ${Object.keys(ENVIRONMENTS).join(', ')}, got "${env}"`);
  const say = (line: string) => io.out(`deploy: ${line}\n`);
  const timeoutSec = numberFlag(flags.timeout, 'timeout', 300, 1);
  const dryRun = flags['dry-run'] === true;
  const config = validateConfigFile(configFileOf(env), env);
  say(`valid: ${configFileOf(env)} (journal.fsync ${config.journal.fsync})`);
  if (target === 'k8s') await deployK8s(env, { say, dryRun, context: flags.context, image: flags.image, timeoutSec });
  else deployCompose(env, dryRun, flags['env-file'] ?? join(deployDir, 'compose', `.env.${env}`), say);
  say(dryRun ? `dry run: ${target} ${env} is valid, nothing applied` : `deployed ${target} ${env}`);
  return EXIT.ok;
}

if (isMain(import.meta.url)) await runScript(USAGE, main);
