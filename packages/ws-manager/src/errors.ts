const BRAND = Symbol.for('cryptoscalp.ws-manager.error');

/** Stable error codes of this package. */
export const WsManagerErrorCode = {
  /** An option is invalid; `field` names it. */
  INVALID_OPTION: 'E_WS_INVALID_OPTION',
  /** @deprecated use {@link WsManagerErrorCode.INVALID_OPTION} (same value); removed in the next major. */
  InvalidOption: 'E_WS_INVALID_OPTION',
  /** `connect()` named an exchange that is not configured. */
  UnknownExchange: 'E_WS_UNKNOWN_EXCHANGE',
  /** The manager, connection or hub is closed. */
  Closed: 'E_WS_CLOSED',
  /** A consumer queue with policy `error` overflowed. */
  QueueOverflow: 'E_WS_QUEUE_OVERFLOW',
  /** A connect attempt failed (handshake error, timeout, open breaker). */
  ConnectFailed: 'E_WS_CONNECT_FAILED',
  /** The operation was aborted by its `AbortSignal`. */
  Aborted: 'E_WS_ABORTED',
  /** The hub could not listen or attach. */
  HubListen: 'E_WS_HUB_LISTEN',
  /** The hub's broker failed. */
  Broker: 'E_WS_BROKER',
} as const;

/** One of {@link WsManagerErrorCode}'s values. */
export type WsManagerErrorCode = (typeof WsManagerErrorCode)[keyof typeof WsManagerErrorCode];

/** Context fields an error may carry. */
export interface WsManagerErrorContext {
  /** The option field at fault (for `E_WS_INVALID_OPTION`). */
  field?: string;
  /** The exchange concerned. */
  exchange?: string;
  /** The endpoint URL concerned. */
  endpoint?: string;
  /** The stream concerned. */
  stream?: string;
  /** The underlying error. */
  cause?: unknown;
}

/** The base error of `@cryptoscalp/ws-manager`: a stable `code`, context fields and `cause`. */
export class WsManagerError extends Error {
  /** Brand that makes {@link isWsManagerError} work across duplicate installs. */
  readonly [BRAND] = true;
  override readonly name: string = 'WsManagerError';
  /** Stable machine-readable code. */
  readonly code: WsManagerErrorCode;
  /** The option field at fault, for `E_WS_INVALID_OPTION`. */
  readonly field: string | undefined;
  /** The exchange concerned. */
  readonly exchange: string | undefined;
  /** The endpoint concerned. */
  readonly endpoint: string | undefined;
  /** The stream concerned. */
  readonly stream: string | undefined;

  constructor(code: WsManagerErrorCode, message: string, context: WsManagerErrorContext = {}) {
    super(message, context.cause === undefined ? undefined : { cause: context.cause });
    this.code = code;
    this.field = context.field;
    this.exchange = context.exchange;
    this.endpoint = context.endpoint;
    this.stream = context.stream;
  }
}

/** True for any error thrown by this package (any installed copy). */
export function isWsManagerError(error: unknown): error is WsManagerError {
  return typeof error === 'object' && error !== null && (error as Record<symbol, unknown>)[BRAND] === true;
}

/** True for an invalid-option error. */
export function isInvalidOptionError(error: unknown): error is WsManagerError {
  return isWsManagerError(error) && error.code === WsManagerErrorCode.INVALID_OPTION;
}

/** True for a queue-overflow error (consumer queue with policy `error`). */
export function isQueueOverflowError(error: unknown): error is WsManagerError {
  return isWsManagerError(error) && error.code === WsManagerErrorCode.QueueOverflow;
}

/** @internal builds an invalid-option error naming the field. */
export function invalidOption(field: string, message: string): WsManagerError {
  return new WsManagerError(WsManagerErrorCode.INVALID_OPTION, `invalid option ${field}: ${message}`, { field });
}
