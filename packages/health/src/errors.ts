/** Brand shared by every copy of this package, so {@link isHealthError} works across duplicate installs. */
export const HEALTH_ERROR_BRAND: unique symbol = Symbol.for('cryptoscalp.health.error') as never;

/** Stable error codes of `@cryptoscalp/health`. */
export const HealthErrorCode = {
  /** An option failed validation; `field` names it. */
  INVALID_OPTION: 'E_HEALTH_INVALID_OPTION',
  /** The indicator is not `{ name: string, healthCheck(): Promise }`. */
  INVALID_INDICATOR: 'E_HEALTH_INVALID_INDICATOR',
  /** A check with this name is already registered. */
  DUPLICATE_CHECK: 'E_HEALTH_DUPLICATE_CHECK',
  /** An indicator registered as a readiness dependency was offered to liveness. */
  LIVENESS_DEPENDENCY: 'E_HEALTH_LIVENESS_DEPENDENCY',
  /** A check did not finish within its timeout (the `cause` of a timed-out run's abort). */
  CHECK_TIMEOUT: 'E_HEALTH_CHECK_TIMEOUT',
  /** A shutdown handler did not finish within its timeout. */
  SHUTDOWN_TIMEOUT: 'E_HEALTH_SHUTDOWN_TIMEOUT',
  /** The registry is closed or shutting down and cannot take this call. */
  CLOSED: 'E_HEALTH_CLOSED',
} as const;

/** One of {@link HealthErrorCode}'s values. */
export type HealthErrorCodeValue = (typeof HealthErrorCode)[keyof typeof HealthErrorCode];

/** Context fields of a {@link HealthError}. */
export interface HealthErrorContext {
  /** The option field at fault, for `E_HEALTH_INVALID_OPTION`, e.g. `cacheTtlMs`. */
  field?: string;
  /** The check or shutdown handler concerned. */
  check?: string;
  /** The timeout that elapsed, in ms. */
  timeoutMs?: number;
  /** The underlying error. */
  cause?: unknown;
}

/** The one error class of `@cryptoscalp/health`. */
export class HealthError extends Error {
  /** Brand for {@link isHealthError}. */
  readonly [HEALTH_ERROR_BRAND] = true;
  /** Stable code, see {@link HealthErrorCode}. */
  readonly code: HealthErrorCodeValue;
  /** The option field at fault (invalid options). */
  readonly field: string | undefined;
  /** The check or shutdown handler concerned. */
  readonly check: string | undefined;
  /** The timeout that elapsed, in ms. */
  readonly timeoutMs: number | undefined;

  constructor(code: HealthErrorCodeValue, message: string, context: HealthErrorContext = {}) {
    super(message, context.cause === undefined ? undefined : { cause: context.cause });
    this.name = 'HealthError';
    this.code = code;
    this.field = context.field;
    this.check = context.check;
    this.timeoutMs = context.timeoutMs;
  }
}

/** True for a {@link HealthError} from any copy of this package. */
export function isHealthError(error: unknown): error is HealthError {
  return typeof error === 'object' && error !== null && (error as Record<symbol, unknown>)[HEALTH_ERROR_BRAND] === true;
}

/** True for a {@link HealthError} with code `E_HEALTH_INVALID_OPTION`. */
export function isHealthOptionError(error: unknown): error is HealthError & { field: string } {
  return isHealthError(error) && error.code === HealthErrorCode.INVALID_OPTION;
}
