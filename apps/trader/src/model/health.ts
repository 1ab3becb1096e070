/**
 * The health contract of the suite (declared once, in `@cryptoscalp/contracts`, and re-exported by
 * `@cryptoscalp/health`). Every component, data client, bus and server of the trader answers in it.
 */
export type { HealthCheckResult } from '@cryptoscalp/health';
