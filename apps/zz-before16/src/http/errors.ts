const BRAND = Symbol.for('cryptoscalp.trader.api.error');

/** Stable error codes of the API. */
export type ApiErrorCode =
  | 'E_API_INVALID_OPTION'
  | 'E_API_UNAUTHORIZED'
  | 'E_API_FORBIDDEN'
  | 'E_API_BAD_REQUEST'
  | 'E_API_NOT_FOUND'
  | 'E_API_NOT_IMPLEMENTED'
  | 'E_API_RATE_LIMITED'
  | 'E_API_BODY_TOO_LARGE'
  | 'E_API_OVERLOADED'
  | 'E_API_AUDIT'
  | 'E_API_INTERNAL';

/** The API's one error class: a stable `code`, the HTTP `status`, the offending `field` where there is one, and `cause`. */
export class ApiError extends Error {
  override readonly name = 'ApiError';
  /** Stable code, e.g. `E_API_BAD_REQUEST`. */
  readonly code: ApiErrorCode;
  /** HTTP status the error maps to. */
  readonly status: number;
  /** The offending option or request field (`body.mode`, `auth.secret`), when there is one. */
  readonly field: string | undefined;
  readonly [BRAND] = true;

  constructor(code: ApiErrorCode, message: string, options: { status?: number; field?: string; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.status = options.status ?? STATUS[code];
    this.field = options.field;
  }
}

const STATUS: Record<ApiErrorCode, number> = {
  E_API_INVALID_OPTION: 500,
  E_API_UNAUTHORIZED: 401,
  E_API_FORBIDDEN: 403,
  E_API_BAD_REQUEST: 400,
  E_API_NOT_FOUND: 404,
  E_API_NOT_IMPLEMENTED: 501,
  E_API_RATE_LIMITED: 429,
  E_API_BODY_TOO_LARGE: 413,
  E_API_OVERLOADED: 503,
  E_API_AUDIT: 500,
  E_API_INTERNAL: 500,
};

/** True for an {@link ApiError}, also across duplicate installs. */
export function isApiError(e: unknown): e is ApiError {
  return typeof e === 'object' && e !== null && (e as Record<symbol, unknown>)[BRAND] === true;
}
