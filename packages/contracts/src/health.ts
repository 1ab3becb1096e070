/** Health status words of the IETF draft `draft-inadarei-api-health-check`. */
export type HealthStatus = 'pass' | 'warn' | 'fail';

/**
 * What a component's `healthCheck()` resolves to: the suite-wide health contract, in the words of the IETF draft
 * `draft-inadarei-api-health-check`. `output` must never contain secrets (the health registry sanitizes it again).
 */
export interface HealthCheckResult {
  /** `pass` healthy, `warn` degraded but serving, `fail` not serving. */
  status: HealthStatus;
  /** A measured value, e.g. a round-trip time or a count of open connections. */
  observedValue?: number;
  /** Unit of `observedValue`, e.g. `ms`, `connections`, `percent`. */
  observedUnit?: string;
  /** A short human-readable explanation, typically for `warn` and `fail`. */
  output?: string;
  /** ISO-8601 time the value was observed. */
  time?: string;
  /** Component-specific plain data (breaker state, per-host results...). */
  details?: Record<string, unknown>;
}

/** Anything with a name and a `healthCheck()`: what `HealthRegistry.register()` accepts. */
export interface HealthIndicator {
  /** Unique name within one registry, e.g. `cache`, `postgres`. */
  readonly name: string;
  /** Runs one check. Must honour `signal`: the registry aborts it at the check's timeout. */
  healthCheck(signal?: AbortSignal): Promise<HealthCheckResult>;
}
