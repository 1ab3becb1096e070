/**
 * Exponential backoff with full jitter (AWS architecture blog): `random(0, min(cap, base * multiplier^attempt))`.
 * `attempt` starts at 0.
 */
export function backoffDelay(
  attempt: number,
  options: { initialDelayMs: number; maxDelayMs: number; multiplier: number },
  random: () => number = Math.random,
): number {
  const ceiling = Math.min(options.maxDelayMs, options.initialDelayMs * options.multiplier ** Math.min(attempt, 64));
  return Math.floor(random() * ceiling);
}
