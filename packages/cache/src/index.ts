export { CacheManager } from './cache-manager.js';
export {
  BREAKER_CHANNEL,
  BUS_CHANNEL,
  type CacheBreakerEvent,
  type CacheBusEvent,
  type CacheErrorEvent,
  type CacheOperationContext,
  ERROR_CHANNEL,
  OPERATION_CHANNEL,
} from './channels.js';
export { DEFAULT_OPTIONS, DEFAULTS } from './defaults.js';
export { CacheError, CacheErrorCode, type CacheErrorContext, isCacheError, isCacheErrorCode } from './errors.js';
export { jsonSerializer } from './serializer.js';
export type {
  BreakerOptions,
  BusOptions,
  CacheManagerOptions,
  CacheStats,
  CompressionOptions,
  GetOrSetOptions,
  HealthCheckResult,
  Hook,
  HookDisposable,
  HookListener,
  L1Options,
  LatencySummary,
  LeaseOptions,
  Loader,
  LoaderContext,
  MsetEntry,
  RedisClusterSettings,
  RedisSentinelSettings,
  RedisSettings,
  RedisUrlSettings,
  Serializer,
  SetOptions,
} from './types.js';
