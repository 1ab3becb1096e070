/**
 * `@cryptoscalp/ws-manager/hub`: the server side of the package. {@link StreamHub} fans messages out to many
 * WebSocket subscribers (topics, per-client offsets and resume, slow-consumer policy, auth), and
 * {@link RedisBroker} carries the hub's messages across processes through Redis. Kept apart from the client
 * (`@cryptoscalp/ws-manager`) so that a process that only consumes exchange feeds does not load the server.
 * @packageDocumentation
 */
export { HUB_CHANNEL } from './channels.js';
export { DEFAULT_HUB_OPTIONS } from './defaults.js';
export {
  isInvalidOptionError,
  isWsManagerError,
  WsManagerError,
  WsManagerErrorCode,
  type WsManagerErrorContext,
} from './errors.js';
export { RedisBroker } from './redis-broker.js';
export { StreamHub } from './stream-hub.js';
export type * from './types.js';
