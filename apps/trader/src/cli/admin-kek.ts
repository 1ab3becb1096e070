// The KEK of the admin subcommands (`trader keys`, `trader users`): the same sources as the trader's
// (TRADER_KEK_FILE, TRADER_KEK; the development KEK in the data directory outside production).
import { loadConfig } from '../config/load-config.js';
import { type KekSource, loadKek } from '../security/kek-source.js';
import type { AdminArgs } from './admin-db.js';

/** Usage line of the `--data-dir` option the KEK commands take. */
export const KEK_USAGE = `  --data-dir DIR      where the development KEK (kek.key) is, without TRADER_KEK_FILE; default: the trader's
  TRADER_KEK_FILE (or TRADER_KEK): the key-encryption key; TRADER_KEK_PREVIOUS_FILE: the one being replaced`;

/** The option of {@link KEK_USAGE}. */
export const KEK_OPTIONS = { 'data-dir': { type: 'string' } } as const;

/**
 * The KEK for an admin command, from the environment and the configuration the options name.
 * @throws TraderError `E_TRADER_INVALID_CONFIG` naming the variable.
 */
export function adminKek(values: AdminArgs, env: NodeJS.ProcessEnv): KekSource {
  const argv: string[] = [];
  for (const k of ['config', 'env', 'data-dir'])
    if (typeof values[k] === 'string') argv.push(`--${k}`, values[k] as string);
  const config = loadConfig({ env, argv });
  return loadKek(env, config);
}
