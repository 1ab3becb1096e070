export type { PartialConfig, TraderConfig } from './config-types.js';
export { DEFAULT_CONFIG, ENVIRONMENT_DEFAULTS } from './defaults.js';
export { configPaths, envNameFor, type LoadConfigOptions, loadConfig } from './load-config.js';
export { validateConfig } from './validate-config.js';
