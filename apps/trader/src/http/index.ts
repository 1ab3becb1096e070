export { type AlertManagerLike, alertsFromAlertManager } from './alert-manager-port.js';
export { type AuditEntry, AuditLog, type AuditRow } from './audit-log.js';
export { bearerToken, TokenVerifier } from './auth.js';
export { API_DEFAULTS } from './defaults.js';
export {
  type AlertsSource,
  createEnginePort,
  type EngineLike,
  type EnginePort,
  type EnginePortOptions,
} from './engine-port.js';
export { ApiError, type ApiErrorCode, isApiError } from './errors.js';
export { buildOpenApi, type ExtraPath } from './openapi.js';
export {
  ApiRateLimitStore,
  type ApiRateLimitStoreOptions,
  type CallbackStore,
  type RateLimitHit,
} from './rate-limit-store.js';
export { isRole, ROLES, roleAtLeast } from './roles.js';
export { ROUTES, type RouteContext, type RouteDef } from './routes.js';
export { createHttpServer } from './server.js';
export { etagMatches, loadDashboardAssets, type StaticAsset } from './static-assets.js';
export { bridgeTraderEvents } from './stream-bridge.js';
export {
  createLiveHub,
  type HubStats,
  type LiveHub,
  type PublishOptions,
  TOPIC_PATTERN,
  type UpgradeAuthenticator,
} from './streams.js';
export { type IssueTokenOptions, issueToken } from './tokens.js';
export type * from './trader-port.js';
export type * from './types.js';
