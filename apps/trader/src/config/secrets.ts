import { readFileSync } from 'node:fs';
import { TraderError } from '../errors.js';
import { secretProblem } from '../http/secret-strength.js';
import type { TraderConfig } from './config-types.js';

/** The secrets the trader reads from its environment, never from the config file (which may be checked in). */
export interface TraderSecrets {
  /** HS256 secret of the API's tokens (`TRADER_JWT_SECRET` / `_FILE`); `''` outside production: a random one per run. */
  jwtSecret: string;
  /** Bearer token that may read `/metrics` only (`TRADER_METRICS_TOKEN` / `_FILE`); `''` when not set. */
  metricsToken: string;
}

/** The environment variables {@link loadSecrets} reads (the config loader lets them through). */
export const SECRET_ENV = [
  'TRADER_JWT_SECRET',
  'TRADER_JWT_SECRET_FILE',
  'TRADER_METRICS_TOKEN',
  'TRADER_METRICS_TOKEN_FILE',
  // The KEK of encryption at rest, read by src/security/kek-source.ts.
  'TRADER_KEK',
  'TRADER_KEK_FILE',
  'TRADER_KEK_PREVIOUS',
  'TRADER_KEK_PREVIOUS_FILE',
] as const;

/**
 * `NAME`, or the content of the file named by `NAME_FILE` (how Kubernetes and compose mount secrets), without its
 * trailing line break; `''` when neither is set.
 * @throws TraderError `E_TRADER_INVALID_CONFIG` naming the variable when both are set or the file cannot be read.
 */
export function readSecretEnv(env: NodeJS.ProcessEnv, name: string): string {
  const direct = env[name];
  const file = env[`${name}_FILE`];
  if (direct !== undefined && direct !== '' && file !== undefined && file !== '')
    throw new TraderError('E_TRADER_INVALID_CONFIG', `set ${name} or ${name}_FILE, not both`, { field: name });
  if (file === undefined || file === '') return direct ?? '';
  try {
    return readFileSync(file, 'utf8').replace(/\r?\n$/, '');
  } catch (cause) {
    throw new TraderError('E_TRADER_INVALID_CONFIG', `${name}_FILE: cannot read ${file}: ${(cause as Error).message}`, {
      field: `${name}_FILE`,
      cause,
    });
  }
}

/**
 * Reads and checks the trader's secrets. A secret that is set must be strong (`secretProblem`: 32 bytes, ~96 bits).
 * The API's roles (`all`, `gateway`) need `TRADER_JWT_SECRET` in production: without it the API would sign with a
 * random per-run secret and hand out a token on stdout, which production log collectors keep.
 * @throws TraderError `E_TRADER_INVALID_CONFIG` naming the variable.
 */
export function loadSecrets(env: NodeJS.ProcessEnv, config: TraderConfig): TraderSecrets {
  const jwtSecret = readSecretEnv(env, 'TRADER_JWT_SECRET');
  const metricsToken = readSecretEnv(env, 'TRADER_METRICS_TOKEN');
  if (jwtSecret === '' && config.env === 'production' && config.role !== 'engine')
    throw new TraderError(
      'E_TRADER_INVALID_CONFIG',
      'TRADER_JWT_SECRET (or TRADER_JWT_SECRET_FILE) is required in production: without it the API signs with a random secret and prints an admin token',
      { field: 'TRADER_JWT_SECRET' },
    );
  for (const [name, value] of [
    ['TRADER_JWT_SECRET', jwtSecret],
    ['TRADER_METRICS_TOKEN', metricsToken],
  ] as const) {
    const weak = value === '' ? undefined : secretProblem(value);
    if (weak !== undefined) throw new TraderError('E_TRADER_INVALID_CONFIG', `${name} ${weak}`, { field: name });
  }
  return { jwtSecret, metricsToken };
}
