import { readFileSync } from 'node:fs';
import { TraderError } from '../errors.js';
import type { TraderConfig } from './config-types.js';
import { DEFAULT_CONFIG, ENVIRONMENT_DEFAULTS } from './defaults.js';
import { SECRET_ENV } from './secrets.js';
import { validateConfig } from './validate-config.js';

/** Where {@link loadConfig} reads from. Everything is optional; the defaults need nothing installed. */
export interface LoadConfigOptions {
  /** Environment variables. @default process.env */
  env?: NodeJS.ProcessEnv;
  /** Command-line arguments (without node and the script). @default [] */
  argv?: readonly string[];
  /** A JSON config file; also `--config <file>` or `TRADER_CONFIG`. @default undefined */
  file?: string;
  /** Overrides applied last (tests). @default {} */
  overrides?: Record<string, unknown>;
}

/** Environment variables that are not `TRADER_<PATH>` but are honoured. */
const ALIASES: Readonly<Record<string, string>> = {
  REDIS_URL: 'cache.redisUrl',
  DATABASE_URL: 'database.url',
  DATABASE_REPLICA_URLS: 'database.replicaUrls',
  // The names issue 16 and the deployment docs use; `TRADER_HTTP_TLS_CERT_FILE` / `_KEY_FILE` work too.
  TRADER_HTTP_TLS_CERT: 'http.tls.certFile',
  TRADER_HTTP_TLS_KEY: 'http.tls.keyFile',
};
// The secrets (TRADER_JWT_SECRET, TRADER_METRICS_TOKEN and their _FILE forms) are read by `loadSecrets`
// (./secrets.ts), kept out of the config. TRADER_SUPERVISOR_PID is set by `npm start` (scripts/start.mjs) so the trader
// stops when its supervisor is gone.
const SPECIAL_ENV = new Set<string>(['TRADER_ENV', 'TRADER_CONFIG', 'TRADER_SUPERVISOR_PID', ...SECRET_ENV]);

/** `risk.maxOrdersPerSecond` -> `TRADER_RISK_MAX_ORDERS_PER_SECOND`. */
export function envNameFor(path: string): string {
  return `TRADER_${path
    .split('.')
    .map((s) => s.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase())
    .join('_')}`;
}

/** Every leaf path of the configuration, e.g. `risk.maxOrdersPerSecond`. */
export function configPaths(
  obj: Record<string, unknown> = DEFAULT_CONFIG as unknown as Record<string, unknown>,
  prefix = '',
): string[] {
  const out: string[] = [];
  for (const [k, v] of Object.entries(obj)) {
    const path = prefix ? `${prefix}.${k}` : k;
    if (v !== null && typeof v === 'object' && !Array.isArray(v))
      out.push(...configPaths(v as Record<string, unknown>, path));
    else out.push(path);
  }
  return out;
}

function getPath(obj: Record<string, unknown>, path: string): unknown {
  let cur: unknown = obj;
  for (const part of path.split('.')) cur = (cur as Record<string, unknown> | undefined)?.[part];
  return cur;
}

function setPath(obj: Record<string, unknown>, path: string, value: unknown): void {
  const parts = path.split('.');
  let cur = obj;
  for (const part of parts.slice(0, -1)) {
    if (typeof cur[part] !== 'object' || cur[part] === null) cur[part] = {};
    cur = cur[part] as Record<string, unknown>;
  }
  cur[parts[parts.length - 1] as string] = value;
}

function deepMerge(target: Record<string, unknown>, source: Record<string, unknown>, where: string, prefix = ''): void {
  for (const [k, v] of Object.entries(source)) {
    const path = prefix ? `${prefix}.${k}` : k;
    const def = getPath(DEFAULT_CONFIG as unknown as Record<string, unknown>, path);
    if (def === undefined) {
      throw new TraderError('E_TRADER_INVALID_CONFIG', `unknown configuration field "${path}" in ${where}`, {
        field: path,
      });
    }
    if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
      if (typeof def !== 'object' || Array.isArray(def)) {
        throw new TraderError(
          'E_TRADER_INVALID_CONFIG',
          `configuration field "${path}" in ${where} must not be an object`,
          {
            field: path,
          },
        );
      }
      deepMerge(target[k] as Record<string, unknown>, v as Record<string, unknown>, where, path);
    } else {
      if (def !== null && typeof def === 'object' && !Array.isArray(def)) {
        throw new TraderError(
          'E_TRADER_INVALID_CONFIG',
          `configuration field "${path}" in ${where} must be an object`,
          {
            field: path,
          },
        );
      }
      target[k] = v;
    }
  }
}

/** Coerces an environment string to the type of the field's default. */
function coerce(path: string, raw: string, source: string): unknown {
  const def = getPath(DEFAULT_CONFIG as unknown as Record<string, unknown>, path);
  const fail = (what: string): never => {
    throw new TraderError('E_TRADER_INVALID_CONFIG', `${source}="${raw}" (${path}) must be ${what}`, { field: path });
  };
  if (Array.isArray(def)) {
    return raw
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s.length > 0);
  }
  if (typeof def === 'number') {
    const n = Number(raw);
    if (raw.trim() === '' || !Number.isFinite(n)) fail('a number');
    return n;
  }
  if (typeof def === 'boolean') {
    if (/^(1|true|yes|on)$/i.test(raw)) return true;
    if (/^(0|false|no|off)$/i.test(raw)) return false;
    return fail('a boolean (true/false)');
  }
  return raw;
}

/** What the command line may set. */
interface ParsedArgs {
  file?: string;
  env?: string;
  duration?: string;
  role?: string;
  dataDir?: string;
  port?: string;
  live?: boolean;
}

const USAGE =
  '--duration <s>, --role <all|engine|gateway>, --data-dir <dir>, --port <n>, --config <file>, --env <name>, --live';

function parseArgs(argv: readonly string[]): ParsedArgs {
  const out: ParsedArgs = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    const [flag, inline] = arg.includes('=') ? (arg.split('=', 2) as [string, string]) : [arg, undefined];
    const value = (): string => {
      const v = inline ?? argv[++i];
      if (v === undefined) {
        throw new TraderError('E_TRADER_INVALID_CONFIG', `option ${flag} needs a value`, { field: flag.slice(2) });
      }
      return v;
    };
    if (flag === '--config') out.file = value();
    else if (flag === '--env') out.env = value();
    else if (flag === '--duration') out.duration = value();
    else if (flag === '--role') out.role = value();
    else if (flag === '--data-dir') out.dataDir = value();
    else if (flag === '--port') out.port = value();
    else if (flag === '--live' && inline === undefined) out.live = true;
    else if (!flag.startsWith('--')) {
      throw new TraderError('E_TRADER_INVALID_CONFIG', `unexpected argument "${arg}" (options: ${USAGE})`, {
        field: 'argv',
      });
    } else
      throw new TraderError('E_TRADER_INVALID_CONFIG', `unknown option ${flag} (options: ${USAGE})`, { field: flag });
  }
  return out;
}

/**
 * Loads the configuration: defaults < environment defaults < JSON file (its top level, then its
 * `environments.<env>` section) < environment variables (`TRADER_<PATH>`, `REDIS_URL`, `DATABASE_URL`,
 * `DATABASE_REPLICA_URLS`, `TRADER_ROLE`) < command line (`--duration`, `--role`, `--data-dir`, `--port`) < overrides. Throws a `TraderError`
 * (`E_TRADER_INVALID_CONFIG`) naming the field for any bad value or unknown key.
 */
export function loadConfig(options: LoadConfigOptions = {}): TraderConfig {
  const env = options.env ?? process.env;
  const args = parseArgs(options.argv ?? []);
  const config = structuredClone(DEFAULT_CONFIG) as unknown as Record<string, unknown>;
  const envName = args.env ?? env.TRADER_ENV ?? env.NODE_ENV ?? DEFAULT_CONFIG.env;
  config.env = envName;
  const envDefaults = ENVIRONMENT_DEFAULTS[envName];
  if (envDefaults) deepMerge(config, envDefaults, `environment defaults for ${envName}`);

  const file = options.file ?? args.file ?? env.TRADER_CONFIG;
  if (file) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(readFileSync(file, 'utf8'));
    } catch (cause) {
      throw new TraderError('E_TRADER_INVALID_CONFIG', `cannot read config file ${file}: ${(cause as Error).message}`, {
        field: 'file',
        cause,
      });
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      throw new TraderError('E_TRADER_INVALID_CONFIG', `config file ${file} must hold a JSON object`, {
        field: 'file',
      });
    }
    const { environments, ...base } = parsed as Record<string, unknown>;
    deepMerge(config, base, file);
    const section = (environments as Record<string, unknown> | undefined)?.[envName];
    if (section !== undefined) deepMerge(config, section as Record<string, unknown>, `${file} environments.${envName}`);
  }

  const byEnvName = new Map(configPaths().map((p) => [envNameFor(p), p]));
  for (const [name, raw] of Object.entries(env)) {
    if (raw === undefined) continue;
    const path = ALIASES[name] ?? byEnvName.get(name);
    if (path === undefined) {
      if (name.startsWith('TRADER_') && !SPECIAL_ENV.has(name)) {
        throw new TraderError('E_TRADER_INVALID_CONFIG', `unknown environment variable ${name}`, { field: name });
      }
      continue;
    }
    if (path === 'env') continue;
    setPath(config, path, coerce(path, raw, name));
  }
  // Live trading is a decision made at the command line each time, never left behind in a file or an environment.
  if ((config.execution as { live?: unknown }).live !== false)
    throw new TraderError('E_TRADER_INVALID_CONFIG', 'execution.live is set by the --live flag only', {
      field: 'execution.live',
    });
  if (args.live === true) setPath(config, 'execution.live', true);
  if (args.duration !== undefined) setPath(config, 'durationSec', coerce('durationSec', args.duration, '--duration'));
  if (args.role !== undefined) setPath(config, 'role', args.role);
  if (args.dataDir !== undefined) setPath(config, 'dataDir', args.dataDir);
  if (args.port !== undefined) setPath(config, 'http.port', coerce('http.port', args.port, '--port'));
  if (options.overrides) deepMerge(config, options.overrides, 'overrides');
  config.env = envName;
  const valid = validateConfig(config as unknown as TraderConfig);
  const { venue, live } = valid.execution;
  if (live && venue !== 'binance')
    throw new TraderError('E_TRADER_INVALID_CONFIG', '--live needs execution.venue "binance"', {
      field: 'execution.live',
    });
  if (venue === 'binance' && !live)
    throw new TraderError(
      'E_TRADER_INVALID_CONFIG',
      'execution.venue "binance" trades real money: start with --live (and the API key in BINANCE_API_KEY)',
      { field: 'execution.venue' },
    );
  return valid;
}
