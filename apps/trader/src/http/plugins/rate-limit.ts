import rateLimit, { normalizeIP } from '@fastify/rate-limit';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import type { Cluster, Redis } from 'ioredis';
import { ApiError } from '../errors.js';
import { ApiRateLimitStore } from '../rate-limit-store.js';
import type { PluginOptions, RateLimits } from './context.js';

/**
 * Rate limits with `@fastify/rate-limit`, fixed windows of `rateLimit.windowMs` per key:
 *
 * - per client IP (IPv6 grouped by /64), on every route but the probes, as the first route hook, so a flood is
 *   refused before any token is looked at; 404s count too;
 * - per token (`app.rateLimits.token`, called by `auth` once the token is verified), keyed by the token's hash;
 * - stream upgrades (`app.rateLimits.upgrade`), on the same keys.
 *
 * Counters live in the library's `RedisStore` when a Redis client is given (shared by every gateway using the same
 * `keyPrefix`), else in its in-memory `LocalStore`; see {@link ApiRateLimitStore} for the fallback when Redis fails.
 * A refusal is 429 `E_API_RATE_LIMITED` with `Retry-After` (seconds to the window's end) and `X-RateLimit-*`.
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
  const exceeded = (scope: string) => (_req: FastifyRequest, ctx: { max: number }) =>
    new ApiError(
      'E_API_RATE_LIMITED',
      `rate limit of ${ctx.max} requests per ${o.windowMs} ms per ${scope} exceeded`,
    );
  const onExceeded = () => {
    counters.rateLimited++;
  };
  const ipKey = (req: FastifyRequest) => `ip:${normalizeIP(req.ip)}`;
  // Probes are exempt: a kubelet polling through a NAT must not be refused. (Before the library's own `onRoute`.)
  app.addHook('onRoute', (route) => {
    if (route.config?.probe === true) route.config = { ...route.config, rateLimit: false };
  });
  await app.register(rateLimit, {
    global: o.perIp > 0 && !(process.env.XOFF ?? '').includes('iplimit'),
    max: o.perIp,
    timeWindow: o.windowMs,
    hook: 'onRequest',
    keyGenerator: ipKey,
    store: storeCtor(store),
    errorResponseBuilder: exceeded('IP'),
    ...(process.env.XRLH === 'off' ? { addHeadersOnExceeding: { 'x-ratelimit-limit': false, 'x-ratelimit-remaining': false, 'x-ratelimit-reset': false } } : {}),
    onExceeded,
  });
  const perToken =
    o.perToken === 0
      ? undefined
      : app.createRateLimit({
          max: o.perToken,
          timeWindow: o.windowMs,
          keyGenerator: (req) => `tok:${req.principal?.tokenId}`,
          store: storeCtor(store),
        });
  const limits: RateLimits = {
    async token(req: FastifyRequest, reply: FastifyReply) {
      if (perToken === undefined || (process.env.XOFF ?? '').includes('toklimit')) return;
      const v = await perToken(req);
      if (v.isAllowed || !v.isExceeded) return;
      onExceeded();
      reply
        .header('x-ratelimit-limit', v.max)
        .header('x-ratelimit-remaining', 0)
        .header('x-ratelimit-reset', v.ttlInSeconds)
        .header('retry-after', v.ttlInSeconds);
      throw exceeded('token')(req, v);
    },
    async upgrade(key, max) {
      if (max === 0) return undefined;
      const hit = await store.hit(key, o.windowMs, max);
      if (hit.current <= max) return undefined;
      onExceeded();
      return Math.max(1, Math.ceil(hit.ttl / 1000));
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
