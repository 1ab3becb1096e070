import { createHash, timingSafeEqual } from 'node:crypto';

/**
 * A constant-time check of a presented bearer token against the scrape token (`metricsToken`): both are hashed to
 * SHA-256 first, so the comparison takes the same time whatever the presented token's length or content.
 */
export function scrapeTokenMatcher(expected: string): (presented: string | undefined) => boolean {
  const digest = sha256(expected);
  return (presented) => presented !== undefined && timingSafeEqual(sha256(presented), digest);
}

function sha256(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}
