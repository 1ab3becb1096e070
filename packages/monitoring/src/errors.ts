const BRAND = Symbol.for('cryptoscalp.monitoring.error');

/** Stable error codes of `@cryptoscalp/monitoring`. */
export const MonitoringErrorCode = {
  /** An option (constructor, rule, route, notifier, silence) is invalid; `field` names it. */
  INVALID_OPTION: 'E_MONITORING_INVALID_OPTION',
  /** The `Monitoring` instance (or notifier) was closed. */
  CLOSED: 'E_MONITORING_CLOSED',
  /** A metric with this name is already registered in the registry. */
  DUPLICATE_METRIC: 'E_MONITORING_DUPLICATE_METRIC',
  /** A component with this name is already watched. */
  DUPLICATE_COMPONENT: 'E_MONITORING_DUPLICATE_COMPONENT',
  /** One delivery attempt of a notifier failed. */
  NOTIFY_FAILED: 'E_MONITORING_NOTIFY_FAILED',
  /** A notifier gave up on a notification after its last attempt. */
  NOTIFY_GAVE_UP: 'E_MONITORING_NOTIFY_GAVE_UP',
  /** `ack()` or `expire()` named an alert or silence that does not exist. */
  NOT_FOUND: 'E_MONITORING_NOT_FOUND',
  /** An optional peer dependency a notifier needs (`nodemailer`, `@slack/web-api`) is not installed. */
  MISSING_PEER: 'E_MONITORING_MISSING_PEER',
} as const;

/** One of {@link MonitoringErrorCode}'s values. */
export type MonitoringErrorCode = (typeof MonitoringErrorCode)[keyof typeof MonitoringErrorCode];

/** Context fields carried by a {@link MonitoringError}. */
export interface MonitoringErrorContext {
  /** The option path that was invalid, e.g. `alerting.rules[2].for`. */
  field?: string;
  /** The metric concerned. */
  metric?: string;
  /** The notifier concerned. */
  notifier?: string;
  /** Delivery attempts made so far. */
  attempts?: number;
  /** The underlying error. */
  cause?: unknown;
}

/**
 * The one error class of `@cryptoscalp/monitoring`. Check with {@link isMonitoringError}, which
 * works across duplicate installs of the package (it tests a `Symbol.for` brand, not `instanceof`).
 */
export class MonitoringError extends Error {
  override readonly name = 'MonitoringError';
  /** Stable machine-readable code. */
  readonly code: MonitoringErrorCode;
  /** The invalid option path, when `code` is `E_MONITORING_INVALID_OPTION`. */
  readonly field: string | undefined;
  /** The metric concerned, if any. */
  readonly metric: string | undefined;
  /** The notifier concerned, if any. */
  readonly notifier: string | undefined;
  /** Delivery attempts made, for notifier errors. */
  readonly attempts: number | undefined;
  /** Brand for {@link isMonitoringError}. */
  readonly [BRAND] = true;

  constructor(code: MonitoringErrorCode, message: string, context: MonitoringErrorContext = {}) {
    super(message, context.cause === undefined ? undefined : { cause: context.cause });
    this.code = code;
    this.field = context.field;
    this.metric = context.metric;
    this.notifier = context.notifier;
    this.attempts = context.attempts;
  }
}

/** True if `error` is a {@link MonitoringError} from any copy of this package. */
export function isMonitoringError(error: unknown): error is MonitoringError {
  return typeof error === 'object' && error !== null && (error as Record<symbol, unknown>)[BRAND] === true;
}

/** True if `error` is a {@link MonitoringError} with code `E_MONITORING_INVALID_OPTION`. */
export function isInvalidOptionError(error: unknown): error is MonitoringError & { field: string } {
  return isMonitoringError(error) && error.code === 'E_MONITORING_INVALID_OPTION';
}

/** @internal Shorthand for an invalid-option error naming `field`. */
export function invalidOption(field: string, message: string): MonitoringError {
  return new MonitoringError('E_MONITORING_INVALID_OPTION', `Invalid option ${field}: ${message}`, { field });
}
