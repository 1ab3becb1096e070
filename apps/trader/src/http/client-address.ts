import { normalizeIP } from '@fastify/rate-limit';

/**
 * The key under which the HTTP layer counts one client: an IPv4 address as is, an IPv6 address by its /64 (one
 * subscriber's prefix, as `@fastify/rate-limit` groups it), so a client cannot escape a limit or flood a per-client
 * table by rotating through the 2^64 addresses of its own prefix. Used by the rate limits, the connection cap and the
 * `auth.failure` audit throttle.
 */
export function clientAddressKey(address: string): string {
  return address.includes(':') ? normalizeIP(address) : address;
}
