/**
 * The health contract of the suite (the IETF draft-inadarei-api-health-check words), the shape
 * `@cryptoscalp/health` registers. Every component, data client, bus and server of the trader answers in it.
 */
export interface HealthCheckResult {
  status: 'pass' | 'warn' | 'fail';
  observedValue?: number;
  observedUnit?: string;
  output?: string;
  time?: string;
  details?: Record<string, unknown>;
}
