/** The typed event hook of the suite (`onX(listener)` returns `{ dispose() }`); see `@cryptoscalp/contracts`. */
export type { Hook, HookDisposable, HookListener } from '@cryptoscalp/contracts';
export {
  GAP_CHANNEL,
  HUB_CHANNEL,
  MALFORMED_CHANNEL,
  RESYNC_CHANNEL,
  STATE_CHANNEL,
} from './channels.js';
export { jsonCodec } from './codec.js';
export {
  DEFAULT_CONNECTION_OPTIONS,
  DEFAULT_EXCHANGE_LIMITS,
  DEFAULT_HUB_OPTIONS,
  DEFAULT_MANAGER_NAME,
  DEFAULTS,
} from './defaults.js';
export {
  isInvalidOptionError,
  isQueueOverflowError,
  isWsManagerError,
  WsManagerError,
  WsManagerErrorCode,
  type WsManagerErrorContext,
} from './errors.js';
export { ManagedConnection } from './managed-connection.js';
export { RedisBroker } from './redis-broker.js';
export { StreamHub } from './stream-hub.js';
export type * from './types.js';
export { WebSocketManager } from './web-socket-manager.js';
