/** Stable error codes raised by `@cryptoscalp/cache`. */
export const CacheErrorCode = {
  /** An option passed to the constructor is invalid; `field` names it. */
  INVALID_OPTION: 'E_CACHE_INVALID_OPTION',
  /** A key is not a non-empty string. */
  INVALID_KEY: 'E_CACHE_INVALID_KEY',
  /** A key is longer than `maxKeyLength`. */
  KEY_TOO_LONG: 'E_CACHE_KEY_TOO_LONG',
  /** `undefined` cannot be stored: `get` uses it to mean "miss". */
  UNDEFINED_VALUE: 'E_CACHE_UNDEFINED_VALUE',
  /** A value could not be serialized (cycle, BigInt, function, symbol) or a stored value could not be decoded. */
  SERIALIZE: 'E_CACHE_SERIALIZE',
  /** A hard timeout elapsed (loader or lease wait), or a Redis call missed its deadline. */
  TIMEOUT: 'E_CACHE_TIMEOUT',
  /** The loader passed to `getOrSet` failed and no stale value could be served. */
  LOADER: 'E_CACHE_LOADER',
  /** Redis (L2) failed or the circuit breaker is open, and `failOpen` is off. */
  UNAVAILABLE: 'E_CACHE_UNAVAILABLE',
  /** The manager (or this namespace view) was closed. */
  CLOSED: 'E_CACHE_CLOSED',
} as const;

/** One of {@link CacheErrorCode}'s values. */
export type CacheErrorCode = (typeof CacheErrorCode)[keyof typeof CacheErrorCode];

const BRAND = Symbol.for('cryptoscalp.cache.error');

/** Context fields a {@link CacheError} may carry. */
export interface CacheErrorContext {
  /** The option path for `E_CACHE_INVALID_OPTION`, e.g. `l1.maxEntries`. */
  field?: string;
  /** The cache key involved, if any. */
  key?: string;
  /** The namespace path involved, if any. */
  namespace?: string;
  /** The operation that failed, e.g. `get`, `set`, `getOrSet`. */
  operation?: string;
  /** The elapsed timeout in milliseconds for `E_CACHE_TIMEOUT`. */
  timeoutMs?: number;
  /** The underlying error. */
  cause?: unknown;
}

/**
 * The one error class of `@cryptoscalp/cache`. Every error the package raises is a `CacheError`
 * with a stable {@link CacheErrorCode}; use {@link isCacheError} rather than `instanceof`, so the
 * check works across duplicate installs.
 */
export class CacheError extends Error {
  override readonly name = 'CacheError';
  /** Stable machine-readable code. */
  readonly code: CacheErrorCode;
  /** The option path for `E_CACHE_INVALID_OPTION`. */
  readonly field: string | undefined;
  /** The key involved, if any. */
  readonly key: string | undefined;
  /** The namespace path involved, if any. */
  readonly namespace: string | undefined;
  /** The operation that failed, if any. */
  readonly operation: string | undefined;
  /** The timeout that elapsed, for `E_CACHE_TIMEOUT`. */
  readonly timeoutMs: number | undefined;
  /** Brand shared by every copy of this package. */
  readonly [BRAND] = true;

  constructor(code: CacheErrorCode, message: string, context: CacheErrorContext = {}) {
    super(message, context.cause === undefined ? undefined : { cause: context.cause });
    this.code = code;
    this.field = context.field;
    this.key = context.key;
    this.namespace = context.namespace;
    this.operation = context.operation;
    this.timeoutMs = context.timeoutMs;
  }
}

/** True when `error` is a {@link CacheError} from any copy of this package. */
export function isCacheError(error: unknown): error is CacheError {
  return typeof error === 'object' && error !== null && (error as Record<symbol, unknown>)[BRAND] === true;
}

/** True when `error` is a {@link CacheError} with the given code. */
export function isCacheErrorCode<C extends CacheErrorCode>(error: unknown, code: C): error is CacheError & { code: C } {
  return isCacheError(error) && error.code === code;
}

/** @internal The `E_CACHE_INVALID_OPTION` error naming `field`. */
export function invalidOption(field: string, message: string): CacheError {
  return new CacheError(CacheErrorCode.INVALID_OPTION, `Invalid option ${field}: ${message}`, { field });
}
