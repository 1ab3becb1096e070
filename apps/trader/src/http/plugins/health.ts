import { createHealthHandler } from '@cryptoscalp/health';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { ApiError } from '../errors.js';
import type { PluginOptions } from './context.js';

/**
 * `@cryptoscalp/health` and Prometheus on the API's own server.
 *
 * - `/health/*` is `createHealthHandler(registry)` (the package's precomputed probe bodies, answered from the raw
 *   response). Its `healthPlugin` serves the same routes, but every path alike; here each path gets its own access:
 *   the `publicPaths` (liveness, readiness, startup, `/health`) are probes — no token, never rate limited, never
 *   shed — and the rest (`status`, `components`, `alerts`, `metrics`) need a viewer token, like the API.
 * - `GET /metrics` answers the `metrics` source's body with its content type, for a token of any role or the scrape
 *   token `metricsToken` (`config.scrape`, checked by `auth`; Prometheus: `authorization: { credentials: <token> }`).
 *
 * Scraping cannot keep the event loop (the trading loop, in one process) busy: renderings of `metrics` are shared
 * ({@link coalesce}, at most one per `metricsMaxAgeMs`), and `/metrics` answers at most `metricsMaxPerSecond` scrapes a
 * second (all callers together; Prometheus needs one per target per interval), the rest get a cheap 429 with
 * `Retry-After: 1`.
 */
async function health(app: FastifyInstance, { options, counters }: PluginOptions): Promise<void> {
  const h = options.health;
  const source = options.metrics;
  // Encoded once per rendering: every scrape that shares it sends the same bytes.
  const metrics =
    source === undefined
      ? undefined
      : coalesce(async () => {
          const m = await source();
          return { contentType: m.contentType, text: m.body, body: Buffer.from(m.body) };
        }, options.metricsMaxAgeMs);
  if (h !== undefined) {
    const handler = createHealthHandler(h.registry, {
      basePath: '/health',
      ...(metrics === undefined ? {} : { metrics: async () => (await metrics()).text }),
      ...(h.alerts === undefined ? {} : { alerts: h.alerts }),
    });
    const security = Object.entries(app.securityHeaders.api);
    const serve = (req: FastifyRequest, reply: FastifyReply): void => {
      // Hijacked: Fastify's onSend (security headers, request id) does not run for these responses.
      reply.hijack();
      for (const [name, value] of security) reply.raw.setHeader(name, value);
      reply.raw.setHeader('x-request-id', req.id);
      handler(req.raw, reply.raw);
    };
    const publicPaths = new Set(h.publicPaths);
    for (const url of publicPaths) app.get(url, { config: { probe: true } }, serve);
    if (!publicPaths.has('/health')) app.get('/health', { config: { access: 'viewer' } }, serve);
    app.get('/health/*', { config: { access: 'viewer' } }, serve);
  }
  if (metrics !== undefined) {
    const max = options.metricsMaxPerSecond;
    let second = 0;
    let served = 0;
    app.get('/metrics', { config: { access: 'viewer', scrape: true } }, async (_req, reply) => {
      const now = Math.floor(performance.now() / 1000);
      if (now !== second) {
        second = now;
        served = 0;
      }
      if (max > 0 && ++served > max) {
        counters.rateLimited++;
        reply.header('retry-after', 1);
        throw new ApiError('E_API_RATE_LIMITED', `at most ${max} /metrics scrapes per second`);
      }
      const m = await metrics();
      return reply.type(m.contentType).send(m.body);
    });
  }
}

/**
 * `source` shared: callers while a rendering is in flight get that one, and a rendering younger than `maxAgeMs` is
 * served again. A failed rendering is not kept.
 */
export function coalesce<T>(source: () => Promise<T>, maxAgeMs: number): () => Promise<T> {
  let last: { at: number; value: T } | undefined;
  let inFlight: Promise<T> | undefined;
  return () => {
    if (last !== undefined && performance.now() - last.at < maxAgeMs) return Promise.resolve(last.value);
    inFlight ??= source().then(
      (value) => {
        last = { at: performance.now(), value };
        inFlight = undefined;
        return value;
      },
      (e: unknown) => {
        inFlight = undefined;
        throw e;
      },
    );
    return inFlight;
  };
}

export default fp(health, {
  name: 'trader-health',
  fastify: '5.x',
  dependencies: ['trader-auth', 'trader-security-headers'],
});
