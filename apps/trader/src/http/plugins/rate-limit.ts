import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import type { Cluster, Redis } from 'ioredis';
import { clientAddressKey } from '../client-address.js';
import { ApiError } from '../errors.js';
import { ApiRateLimitStore, type RateLimitHit } from '../rate-limit-store.js';
import type { PluginOptions, RateLimits, RateVerdict } from './context.js';

/**
 * Rate limits with `@fastify/rate-limit`, fixed windows of `rateLimit.windowMs` per key (a key's window starts at its
 * first hit; at most `max` hits per window, so up to twice that across a window edge):
 *
 * - per client IP (IPv6 grouped by /64): the library's `onRequest` hook on every route but the probes, before any other
 *   route hook, so a flood is refused before a token is looked at; unknown routes (404) count too;
 * - per token (`app.rateLimits.token`, called by `auth` once the token is verified), keyed by the token's hash;
 * - stream upgrades: both, on the same keys.
 *
 * Counters live in the library's `RedisStore` when a Redis client is given (shared by every gateway using the same
 * `keyPrefix`), else in its in-memory `LocalStore`; see {@link ApiRateLimitStore} for the fallback when Redis fails.
 * A refusal is 429 `E_API_RATE_LIMITED` with `Retry-After` (seconds to the window's end) and `X-RateLimit-Limit`,
 * `-Remaining`, `-Reset`; allowed responses carry no rate-limit headers (three header writes per response saved).
 *
 * The token and upgrade checks call the same store directly rather than through `createRateLimit()`: that helper
 * allocates an argument array and three promises per call, and measured ~2.5 µs of the ~40 µs a request costs;
 * the store answers synchronously in memory, so an authenticated request with a remembered token runs its auth hook
 * without a promise.
 */
async function rateLimits(
  app: FastifyInstance,
  { options, counters, redis }: PluginOptions & { redis: Redis | Cluster | undefined },
): Promise<void> {
  const o = options.rateLimit;
  const store = new ApiRateLimitStore({
    ...(redis === undefined ? {} : { redis }),
    prefix: o.keyPrefix,
    timeoutMs: o.storeTimeoutMs,
    memoryKeys: o.memoryKeys,
  });
  const exceeded = (scope: string, max: number) =>
    new ApiError('E_API_RATE_LIMITED', `rate limit of ${max} requests per ${o.windowMs} ms per ${scope} exceeded`);
  const onExceeded = () => {
    counters.rateLimited++;
  };
  // Probes are exempt: a kubelet polling through a NAT must not be refused. (Before the library's own `onRoute`.)
  app.addHook('onRoute', (route) => {
    if (route.config?.probe === true) route.config = { ...route.config, rateLimit: false };
  });
  await app.register(rateLimit, {
    global: o.perIp > 0,
    max: o.perIp,
    timeWindow: o.windowMs,
    hook: 'onRequest',
    keyGenerator: (req: FastifyRequest) => `ip:${clientAddressKey(req.ip)}`,
    store: storeCtor(store),
    errorResponseBuilder: (_req, ctx) => exceeded('IP', ctx.max),
    onExceeded,
    addHeadersOnExceeding: { 'x-ratelimit-limit': false, 'x-ratelimit-remaining': false, 'x-ratelimit-reset': false },
  });

  /** One hit on `key`: `undefined` when allowed, else `Retry-After` seconds. Synchronous when the store is. */
  const consume = (key: string, max: number): RateVerdict | Promise<RateVerdict> => {
    if (max === 0) return undefined;
    const verdict = (hit: RateLimitHit | undefined): RateVerdict => {
      if (hit === undefined || hit.current <= max) return undefined;
      onExceeded();
      return Math.max(1, Math.ceil(hit.ttl / 1000));
    };
    let sync = true;
    let answered = false;
    let result: RateVerdict;
    let settle: ((v: RateVerdict) => void) | undefined;
    // A store error (both stores failing) lets the request through: the limit is a guard, not a dependency.
    store.incr(
      key,
      (error, hit) => {
        const v = verdict(error === null ? hit : undefined);
        if (sync) {
          answered = true;
          result = v;
        } else settle?.(v);
      },
      o.windowMs,
      max,
    );
    sync = false;
    if (answered) return result;
    return new Promise((resolve) => {
      settle = resolve;
    });
  };
  const limits: RateLimits = {
    ip: (address) => consume(`ip:${clientAddressKey(address)}`, o.perIp),
    token: (tokenId) => consume(`tok:${tokenId}`, o.perToken),
    tokenRefusal(reply: FastifyReply, retryAfterSec: number) {
      reply
        .header('x-ratelimit-limit', o.perToken)
        .header('x-ratelimit-remaining', 0)
        .header('x-ratelimit-reset', retryAfterSec)
        .header('retry-after', retryAfterSec);
      return exceeded('token', o.perToken);
    },
    storeErrors: () => store.errors,
  };
  app.decorate('rateLimits', limits);
}

/** The library constructs its store with `new`; a constructor returning our instance hands it over. */
function storeCtor(store: ApiRateLimitStore) {
  return function SharedStore() {
    return store;
  } as unknown as new () => ApiRateLimitStore;
}

export default fp(rateLimits, { name: 'trader-rate-limit', fastify: '5.x' });
