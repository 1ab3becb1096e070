const BRAND = Symbol.for('cryptoscalp.trader.error');

/** Stable error codes of the trader. */
export type TraderErrorCode =
  | 'E_TRADER_INVALID_CONFIG'
  | 'E_TRADER_INVALID_OPTION'
  | 'E_TRADER_ORDER_STATE'
  | 'E_TRADER_JOURNAL'
  | 'E_TRADER_DATA_DIR_LOCKED'
  | 'E_TRADER_MALFORMED'
  | 'E_TRADER_PERSISTENCE'
  | 'E_TRADER_NOT_CONFIGURED'
  | 'E_TRADER_BUS'
  | 'E_TRADER_COMMAND_TIMEOUT'
  | 'E_TRADER_VENUE';

/** The trader's one error class: a stable `code`, the offending `field` where there is one, and `cause`. */
export class TraderError extends Error {
  override readonly name = 'TraderError';
  readonly code: TraderErrorCode;
  readonly field: string | undefined;
  readonly [BRAND] = true;

  constructor(code: TraderErrorCode, message: string, options: { field?: string; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.field = options.field;
  }
}

/** True for a {@link TraderError}, also across duplicate installs. */
export function isTraderError(e: unknown): e is TraderError {
  return typeof e === 'object' && e !== null && (e as Record<symbol, unknown>)[BRAND] === true;
}
