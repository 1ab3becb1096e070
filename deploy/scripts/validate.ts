import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse, parseAllDocuments } from 'yaml';
import { configPaths, loadConfig, type TraderConfig } from '../../apps/trader/src/config/index.js';

// The validators `deploy` runs before it applies anything, and the tests run on every file of the kit.

/** The deployment environments and their Kubernetes overlay directories. */
export const ENVIRONMENTS = { development: 'dev', staging: 'staging', production: 'prod' } as const;
/** A deployment environment name. */
export type EnvName = keyof typeof ENVIRONMENTS;

/** The deployment kit's directory (`deploy/`). */
export const deployDir = fileURLToPath(new URL('../', import.meta.url));
/** `deploy/config/<env>.json`: the trader's config file of each environment. */
export const configFileOf = (env: EnvName): string => join(deployDir, 'config', `${env}.json`);
/** `deploy/k8s/overlays/<overlay>` of an environment. */
export const overlayDirOf = (env: EnvName): string => join(deployDir, 'k8s', 'overlays', ENVIRONMENTS[env]);
/** The production compose file (the compose kit is production's). */
export const composeFile = join(deployDir, 'compose', 'compose.yaml');

/** Is `name` a deployment environment? */
export const isEnvName = (name: string): name is EnvName => Object.hasOwn(ENVIRONMENTS, name);

/**
 * Config fields that hold credentials (or URLs that may carry them): they come from files or the environment only.
 * Derived from the trader's field names, so a field added later is covered.
 */
export const SECRET_FIELDS: readonly string[] = configPaths().filter((p) =>
  /secret|token|password|webhook|redisUrl|^database\.(url|replicaUrls)$/i.test(p),
);

// biome-ignore lint/suspicious/noExplicitAny: rendered manifests and parsed JSON are untyped; callers name what they read.
type Obj = Record<string, any>;

function leafValue(obj: unknown, path: string): unknown {
  let cur = obj;
  for (const part of path.split('.')) cur = (cur as Obj | undefined)?.[part];
  return cur;
}

/**
 * Throws naming the field when a parsed config file sets a secret field (at its top level or in an
 * `environments.<env>` section) to anything but an empty value.
 */
export function assertNoSecrets(parsed: Obj, where: string): void {
  const { environments, ...base } = parsed;
  for (const [section, obj] of [['', base], ...Object.entries((environments ?? {}) as Obj)] as [string, Obj][]) {
    for (const field of SECRET_FIELDS) {
      const v = leafValue(obj, field);
      if (v !== undefined && v !== '' && !(Array.isArray(v) && v.length === 0))
        throw new Error(
          `${where}: ${section ? `environments.${section}.` : ''}${field} holds a secret; set it from a file or the environment`,
        );
    }
  }
}

/**
 * Loads a config file as the trader would for `env` (its own loader: unknown keys and bad values throw naming the
 * field), with `vars` as the environment, after checking that it holds no secrets.
 */
export function validateConfigFile(path: string, env: string, vars: Record<string, string> = {}): TraderConfig {
  assertNoSecrets(JSON.parse(readFileSync(path, 'utf8')) as Obj, path);
  return loadConfig({ env: { ...vars, TRADER_ENV: env }, file: path });
}

/** `kubectl kustomize <dir>`: the rendered objects. */
export function renderOverlay(dir: string): Obj[] {
  const out = execFileSync('kubectl', ['kustomize', dir], { encoding: 'utf8', maxBuffer: 16 * 1024 * 1024 });
  return parseAllDocuments(out).map((d) => d.toJS() as Obj);
}

/** Validates every object against the Kubernetes (and Prometheus Operator) schemas of the kubernetes-models packages. */
export async function validateObjects(objects: readonly Obj[]): Promise<void> {
  for (const obj of objects) {
    const module = String(obj.apiVersion).startsWith('monitoring.coreos.com/')
      ? `@kubernetes-models/prometheus-operator/${obj.apiVersion}`
      : `kubernetes-models/${obj.apiVersion}`;
    const Model = ((await import(module)) as Record<string, new (d: Obj) => { validate(): void }>)[obj.kind];
    if (Model === undefined) throw new Error(`no schema for ${obj.apiVersion} ${obj.kind} ${obj.metadata?.name}`);
    // kustomize folds long base64 values over lines; the API server's decoder skips the newlines.
    const data =
      obj.kind === 'Secret' && obj.data
        ? {
            data: Object.fromEntries(
              Object.entries(obj.data as Obj).map(([k, v]) => [k, String(v).replace(/\n/g, '')]),
            ),
          }
        : {};
    try {
      new Model({ ...obj, ...data }).validate();
    } catch (cause) {
      throw new Error(`${obj.kind} ${obj.metadata?.name}: ${(cause as Error).message}`);
    }
  }
}

/**
 * The trader config of a rendered overlay: its `trader-config` ConfigMap's `config.json` loaded with the
 * `trader-env` ConfigMap's variables, by the trader's own loader, after the no-secrets check.
 */
export function overlayTraderConfig(objects: readonly Obj[]): TraderConfig {
  const configMap = (prefix: string): Obj => {
    const found = objects.find((o) => o.kind === 'ConfigMap' && String(o.metadata?.name).startsWith(prefix));
    if (found === undefined) throw new Error(`the overlay has no ${prefix} ConfigMap`);
    return found.data as Obj;
  };
  const vars = configMap('trader-env') as Record<string, string>;
  const dir = mkdtempSync(join(tmpdir(), 'overlay-config-'));
  try {
    const file = join(dir, 'config.json');
    writeFileSync(file, String(configMap('trader-config')['config.json']));
    return validateConfigFile(file, vars.TRADER_ENV ?? '', vars);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** `docker-compose config` of the production compose file with `envFile`: the normalised model. */
export function renderCompose(envFile: string): Obj {
  const out = execFileSync('docker-compose', ['--env-file', envFile, '-f', composeFile, 'config'], {
    encoding: 'utf8',
    maxBuffer: 16 * 1024 * 1024,
  });
  return parse(out) as Obj;
}

/**
 * Connection strings the image's entrypoint reads from `<NAME>_FILE` (deploy/image/entrypoint.mjs): the files are
 * secrets, absent when validating, so a placeholder of the same shape stands in for each one the service names.
 */
const FROM_FILE_PLACEHOLDERS: Record<string, string> = {
  DATABASE_URL: 'postgres://placeholder@postgres-primary:5432/trader',
  DATABASE_REPLICA_URLS: 'postgres://placeholder@postgres-replica:5432/trader',
  REDIS_URL: 'redis://placeholder@redis:6379',
  TRADER_BUS_REDIS_URL: 'redis://placeholder@redis:6379',
};

/**
 * Checks the trader services of a rendered compose model for `env`: each sets `TRADER_ENV=<env>`, and its
 * environment over `deploy/config/<env>.json` is a valid trader config.
 * @returns the names of the trader services checked.
 */
export function validateComposeTraders(model: Obj, env: EnvName): string[] {
  const traders = Object.entries((model.services ?? {}) as Obj).filter(([, s]) => s.environment?.TRADER_ENV);
  if (traders.length === 0) throw new Error('compose: no service sets TRADER_ENV');
  for (const [name, service] of traders) {
    const vars = Object.fromEntries(Object.entries(service.environment as Obj).map(([k, v]) => [k, String(v ?? '')]));
    for (const [variable, placeholder] of Object.entries(FROM_FILE_PLACEHOLDERS))
      if (vars[`${variable}_FILE`] !== undefined) {
        vars[variable] = placeholder;
        delete vars[`${variable}_FILE`];
      }
    if (vars.TRADER_ENV !== env)
      throw new Error(
        `compose: service ${name} sets TRADER_ENV=${vars.TRADER_ENV}, not ${env} (the compose kit is production's)`,
      );
    try {
      validateConfigFile(configFileOf(env), env, vars);
    } catch (cause) {
      throw new Error(`compose: service ${name}: ${(cause as Error).message}`);
    }
  }
  return traders.map(([name]) => name);
}
