import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { readSecretEnv } from '../config/secrets.js';
import { TraderError } from '../errors.js';
import { isKeyringError } from './errors.js';
import { generateKeyMaterial, type KeyEncryptionKey, localKek, parseKeyMaterial } from './kek.js';

/** The environment variables of the KEK (each also as `<NAME>_FILE`, the content of a file). */
export const KEK_ENV = ['TRADER_KEK', 'TRADER_KEK_FILE', 'TRADER_KEK_PREVIOUS', 'TRADER_KEK_PREVIOUS_FILE'] as const;

/** The file name of the development KEK in the data directory. */
export const DEVELOPMENT_KEK_FILE = 'kek.key';

/** Where the KEK came from, and what to tell the operator. */
export interface KekSource {
  kek: KeyEncryptionKey;
  /** The KEK being replaced (`TRADER_KEK_PREVIOUS`): unwraps only, for `trader keys rewrap`. */
  previous: KeyEncryptionKey[];
  source: 'environment' | 'file' | 'development';
  /** A line for stderr when the development KEK is used (it names the file, never the key). */
  warning?: string;
}

/**
 * The KEK of this process: `TRADER_KEK` (32 bytes, hex or base64) or the file `TRADER_KEK_FILE` names (a Kubernetes
 * or compose secret); without either, outside production, the development KEK in `<dataDir>/kek.key` (created with
 * mode 0600 on first use, with a warning); in production none is a configuration error.
 * @throws TraderError `E_TRADER_INVALID_CONFIG` naming the variable (its value is never in the message).
 */
export function loadKek(env: NodeJS.ProcessEnv, config: { env: string; dataDir: string }): KekSource {
  const previous = readKey(env, 'TRADER_KEK_PREVIOUS');
  const current = readKey(env, 'TRADER_KEK');
  if (current !== undefined)
    return {
      kek: current,
      previous: previous === undefined ? [] : [previous],
      source: env.TRADER_KEK_FILE ? 'file' : 'environment',
    };
  if (config.env === 'production')
    throw new TraderError(
      'E_TRADER_INVALID_CONFIG',
      'TRADER_KEK_FILE (or TRADER_KEK) is required in production: it encrypts TOTP secrets and venue API keys at rest (32 random bytes, e.g. `openssl rand -base64 32`)',
      { field: 'TRADER_KEK' },
    );
  return { ...developmentKek(config.dataDir), previous: previous === undefined ? [] : [previous] };
}

/**
 * The development KEK: `<dataDir>/kek.key`, created (mode 0600) when missing. Refused when group or others may read
 * it.
 * @throws TraderError `E_TRADER_INVALID_CONFIG` naming `TRADER_KEK_FILE` for an unreadable, malformed or open file.
 */
export function developmentKek(dataDir: string): Omit<KekSource, 'previous'> {
  const path = resolve(dataDir, DEVELOPMENT_KEK_FILE);
  let created = false;
  try {
    mkdirSync(dataDir, { recursive: true });
    writeFileSync(path, `${generateKeyMaterial()}\n`, { mode: 0o600, flag: 'wx' });
    created = true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST')
      throw config(`cannot create ${path}: ${(e as Error).message}`, e);
  }
  let text: string;
  try {
    if ((statSync(path).mode & 0o077) !== 0)
      throw config(`${path} may be read by group or others: chmod 600 it (or set TRADER_KEK_FILE)`);
    text = readFileSync(path, 'utf8');
  } catch (e) {
    if (e instanceof TraderError) throw e;
    throw config(`cannot read ${path}: ${(e as Error).message}`, e);
  }
  const kek = localKek(material(text, path));
  return {
    kek,
    source: 'development',
    warning: `trader: no TRADER_KEK_FILE set: secrets at rest are encrypted with a development key-encryption key in ${path} (${created ? 'created now' : 'kept from an earlier run'}; ${kek.id}); production needs TRADER_KEK_FILE`,
  };
}

function readKey(env: NodeJS.ProcessEnv, name: string): KeyEncryptionKey | undefined {
  const text = readSecretEnv(env, name);
  if (text === '') return undefined;
  return localKek(material(text, env[`${name}_FILE`] ? `${name}_FILE` : name));
}

function material(text: string, field: string): Buffer {
  try {
    return parseKeyMaterial(text, field);
  } catch (e) {
    if (isKeyringError(e)) throw new TraderError('E_TRADER_INVALID_CONFIG', e.message, { field, cause: e });
    throw e;
  }
}

function config(message: string, cause?: unknown): TraderError {
  return new TraderError('E_TRADER_INVALID_CONFIG', message, { field: 'TRADER_KEK_FILE', cause });
}
