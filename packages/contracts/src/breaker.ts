/** Circuit breaker state, in every package's channels, stats and health details. */
export type BreakerState = 'closed' | 'open' | 'half-open';
