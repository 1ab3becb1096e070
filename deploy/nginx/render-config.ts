import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Values of the `${NGINX_*}` placeholders in deploy/nginx (each field is the placeholder's name in camel case:
 * `apiRate` fills `${NGINX_API_RATE}`). Production values: deploy/nginx/production.env.
 */
export interface NginxSettings {
  /** `worker_processes`, e.g. `auto` or `1`. */
  workerProcesses: string;
  /** `pid` file. */
  pidFile: string;
  /** `error_log` arguments: file and level, e.g. `/var/log/nginx/error.log warn`. */
  errorLog: string;
  /** `access_log` arguments: `off`, or a file and the `json` format. */
  accessLog: string;
  /** API requests per second per client address (`limit_req_zone` rate), e.g. `50r/s`. */
  apiRate: string;
  /** Requests above the rate answered at once before 429 (`limit_req burst`). */
  apiBurst: string;
  /** Open connections per client address (`limit_conn`). */
  connPerClient: string;
  /** DNS resolver for OCSP stapling. */
  resolver: string;
  /** `listen` of the plain-HTTP server (redirects only), e.g. `80` or `127.0.0.1:8080`. */
  httpListen: string;
  /** `listen` of the TLS server. */
  httpsListen: string;
  /** `server_name`. */
  serverName: string;
  /** Certificate chain (PEM). */
  tlsCert: string;
  /** Private key (PEM). */
  tlsKey: string;
  /** Gateways, `host:port`: one `server` line each in the `gateways` upstream. */
  gateways: readonly string[];
}

/** A bad or missing setting; `field` names it. */
export class NginxConfigError extends Error {
  readonly code = 'E_NGINX_CONFIG';
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(`nginx config: ${field}: ${message}`);
    this.name = 'NginxConfigError';
  }
}

const templateDir = fileURLToPath(new URL('./', import.meta.url));
const FIELDS = [
  'workerProcesses',
  'pidFile',
  'errorLog',
  'accessLog',
  'apiRate',
  'apiBurst',
  'connPerClient',
  'resolver',
  'httpListen',
  'httpsListen',
  'serverName',
  'tlsCert',
  'tlsKey',
  'gateways',
] as const satisfies readonly (keyof NginxSettings)[];

/** `apiRate` -> `NGINX_API_RATE`. */
const placeholderOf = (field: string) => `NGINX_${field.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase()}`;

function checkSettings(settings: NginxSettings): void {
  const known = new Set<string>(FIELDS);
  for (const key of Object.keys(settings))
    if (!known.has(key)) throw new NginxConfigError(key, `is not a known setting (known: ${FIELDS.join(', ')})`);
  for (const field of FIELDS) {
    const value = settings[field];
    const values = field === 'gateways' ? value : [value];
    if (!Array.isArray(values) || values.length === 0)
      throw new NginxConfigError(field, 'must be a non-empty list of host:port');
    for (const v of values) {
      // One directive argument list each: a `;`, brace or newline would smuggle in directives.
      if (typeof v !== 'string' || v.trim() === '' || /[;{}\n\r]/.test(v))
        throw new NginxConfigError(
          field,
          `must be a non-empty string without ; { } or newlines, got ${JSON.stringify(v)}`,
        );
    }
  }
  for (const g of settings.gateways)
    if (!/^[A-Za-z0-9.[\]:-]+:[0-9]{1,5}$/.test(g)) throw new NginxConfigError('gateways', `${g} is not host:port`);
}

/** The placeholder of one gateway: its line is repeated per gateway. */
const GATEWAY_LINE = '$' + '{NGINX_GATEWAY}';

/** Fills one template; a line holding the gateway placeholder is repeated per gateway. */
function fill(template: string, settings: NginxSettings, file: string): string {
  const lines = template
    .split('\n')
    .flatMap((line) =>
      line.includes(GATEWAY_LINE) ? settings.gateways.map((g) => line.replaceAll(GATEWAY_LINE, g)) : [line],
    );
  const byPlaceholder = new Map(FIELDS.map((f) => [placeholderOf(f), f]));
  return lines.join('\n').replace(/\$\{(NGINX_[A-Z0-9_]+)\}/g, (_, name: string) => {
    const field = byPlaceholder.get(name);
    if (field === undefined || field === 'gateways') throw new NginxConfigError(name, `unknown placeholder in ${file}`);
    return settings[field] as string;
  });
}

/** The `gateways` upstream alone (conf.d/upstream-gateways.conf), for a deployment that swaps servers and reloads. */
export function renderUpstream(settings: NginxSettings): string {
  checkSettings(settings);
  const file = 'conf.d/upstream-gateways.conf';
  return fill(readFileSync(join(templateDir, file), 'utf8'), settings, file);
}

/**
 * Renders deploy/nginx into `outDir` (nginx.conf and conf.d/); returns the path of nginx.conf, to be run with
 * `nginx -c <it> -p <prefix>`. Throws {@link NginxConfigError} naming a bad, missing or unknown setting.
 */
export function renderNginxConfig(settings: NginxSettings, outDir: string): string {
  checkSettings(settings);
  mkdirSync(join(outDir, 'conf.d'), { recursive: true });
  const files = ['nginx.conf', ...readdirSync(join(templateDir, 'conf.d')).map((f) => `conf.d/${f}`)];
  for (const file of files)
    writeFileSync(join(outDir, file), fill(readFileSync(join(templateDir, file), 'utf8'), settings, file));
  return join(outDir, 'nginx.conf');
}

/** Reads an env file of `NGINX_*=value` lines (production.env) into settings. */
export function settingsFromEnvFile(path: string): NginxSettings {
  const byPlaceholder = new Map(FIELDS.map((f) => [placeholderOf(f), f]));
  const out: Record<string, unknown> = {};
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    if (line.trim() === '' || line.trimStart().startsWith('#')) continue;
    const eq = line.indexOf('=');
    const name = line.slice(0, eq).trim();
    const field = byPlaceholder.get(name);
    if (eq < 0 || field === undefined) throw new NginxConfigError(name || line, `unknown setting in ${path}`);
    const value = line.slice(eq + 1).trim();
    out[field] = field === 'gateways' ? value.split(',').map((g) => g.trim()) : value;
  }
  return out as unknown as NginxSettings;
}

// `npx tsx deploy/nginx/render-config.ts <env file> <out dir>`: renders for a host, then `nginx -t -c <out>/nginx.conf`.
if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const [envFile, outDir] = process.argv.slice(2);
  if (envFile === undefined || outDir === undefined) {
    console.error('usage: render-config.ts <env file> <out dir>');
    process.exit(2);
  }
  console.log(`wrote ${renderNginxConfig(settingsFromEnvFile(envFile), outDir)}`);
}
