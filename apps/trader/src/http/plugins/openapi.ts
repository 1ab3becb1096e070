import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { buildOpenApi, type ExtraPath } from '../openapi.js';
import { ROUTES } from '../routes.js';
import { jsonAsset, sendAsset } from '../static-assets.js';
import type { PluginOptions } from './context.js';

/**
 * `GET /api/openapi.json`: the OpenAPI 3.1 document built once from the `ROUTES` table and the schemas of the auth and
 * user routes (plus the stream upgrade,
 * the dashboard, health and metrics when served), with an ETag and `max-age=60`. Public.
 */
async function openapi(app: FastifyInstance, { options, schemaRoutes }: PluginOptions): Promise<void> {
  const extras: ExtraPath[] = [
    {
      method: 'GET',
      url: options.stream.path,
      summary: 'Live stream (WebSocket upgrade)',
      description:
        'Authenticate with `Sec-WebSocket-Protocol: bearer, <jwt>` (browsers) or `Authorization: Bearer <jwt>`; never in the query string. Browsers must come from the same origin (or `stream.allowedOrigins`). Topics: prices.<SYM>, book.<SYM>, fills, positions, pnl, alerts (every role); audit, admin (admin only). See API.md for the protocol.',
      tag: 'streams',
      public: false,
    },
    { method: 'GET', url: '/api/openapi.json', summary: 'This document', tag: 'meta', public: true },
  ];
  if (options.dashboard) extras.push({ method: 'GET', url: '/', summary: 'Dashboard page', tag: 'meta', public: true });
  if (options.metrics !== undefined)
    extras.push({ method: 'GET', url: '/metrics', summary: 'Prometheus metrics', tag: 'meta', public: false });
  if (options.health !== undefined) {
    for (const url of options.health.publicPaths)
      extras.push({
        method: 'GET',
        url,
        summary: 'Health probe (application/health+json)',
        tag: 'health',
        public: true,
      });
    for (const url of ['/health/status', '/health/components'].filter((u) => !options.health?.publicPaths.includes(u)))
      extras.push({
        method: 'GET',
        url,
        summary: 'Health details (application/health+json)',
        tag: 'health',
        public: false,
      });
  }
  const asset = jsonAsset(buildOpenApi(ROUTES, extras, schemaRoutes), 'public, max-age=60, must-revalidate');
  app.get('/api/openapi.json', async (req, reply) => sendAsset(req, reply, asset));
}

export default fp(openapi, { name: 'trader-openapi', fastify: '5.x' });
