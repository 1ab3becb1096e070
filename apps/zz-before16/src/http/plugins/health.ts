import { createHealthHandler } from '@cryptoscalp/health';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import type { PluginOptions } from './context.js';

/**
 * `@cryptoscalp/health` and Prometheus on the API's own server.
 *
 * - `/health/*` is `createHealthHandler(registry)` (the package's precomputed probe bodies, answered from the raw
 *   response). Its `healthPlugin` serves the same routes, but every path alike; here each path gets its own access:
 *   the `publicPaths` (liveness, readiness, startup, `/health`) are probes — no token, never rate limited, never
 *   shed — and the rest (`status`, `components`, `alerts`, `metrics`) need a viewer token, like the API.
 * - `GET /metrics` answers the `metrics` source's body with its content type, for a viewer token (Prometheus:
 *   `authorization: { credentials: <jwt> }`).
 */
async function health(app: FastifyInstance, { options }: PluginOptions): Promise<void> {
  const h = options.health;
  const metrics = options.metrics;
  if (h !== undefined) {
    const handler = createHealthHandler(h.registry, {
      basePath: '/health',
      ...(metrics === undefined ? {} : { metrics: async () => (await metrics()).body }),
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
  if (metrics !== undefined)
    app.get('/metrics', { config: { access: 'viewer' } }, async (_req, reply) => {
      const m = await metrics();
      return reply.type(m.contentType).send(m.body);
    });
}

export default fp(health, {
  name: 'trader-health',
  fastify: '5.x',
  dependencies: ['trader-auth', 'trader-security-headers'],
});
