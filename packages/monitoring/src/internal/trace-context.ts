/** Fields of a tracing-channel context this package reads (see the contracts in the README). */
export interface OperationContext {
  component?: unknown;
  operation?: unknown;
  namespace?: unknown;
  tier?: unknown;
  hit?: unknown;
  statement?: unknown;
  name?: unknown;
  role?: unknown;
  host?: unknown;
  rowCount?: unknown;
  error?: unknown;
  result?: unknown;
  [key: symbol]: unknown;
}

/** True when the operation is complete at the `end` event (traceSync, or a synchronous throw). */
export function completedAtEnd(ctx: OperationContext): boolean {
  return Object.hasOwn(ctx, 'result') || Object.hasOwn(ctx, 'error');
}

/** A short, low-cardinality error type: the error's string `code` (e.g. SQLSTATE) or its name. */
export function errorType(error: unknown): string {
  if (error === undefined || error === null) return '';
  if (typeof error === 'object') {
    const code = (error as { code?: unknown }).code;
    if (typeof code === 'string' && code.length > 0 && code.length <= 32) return code;
    const name = (error as { name?: unknown }).name;
    if (typeof name === 'string' && name.length > 0 && name.length <= 64) return name;
  }
  return 'Error';
}

/** A label value from a context field: strings as they are, other values as `''`. */
export function str(value: unknown): string {
  return typeof value === 'string' ? value : '';
}

/** `'true'`, `'false'` or `''` for a possibly missing boolean. */
export function boolLabel(value: unknown): string {
  return value === true ? 'true' : value === false ? 'false' : '';
}

/**
 * Wraps a channel subscriber so it never throws: diagnostics_channel turns a subscriber's exception
 * into an uncaught exception, and monitoring must never crash the process it observes.
 * Non-object messages are ignored.
 */
export function guard(fn: (ctx: OperationContext) => void): (message: unknown) => void {
  return (message: unknown) => {
    if (typeof message !== 'object' || message === null) return;
    try {
      fn(message as OperationContext);
    } catch {
      // A frozen context or a failing tracer: lose this observation, keep the process.
    }
  };
}
