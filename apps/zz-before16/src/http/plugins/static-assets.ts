import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { loadDashboardAssets, sendAsset } from '../static-assets.js';
import type { PluginOptions } from './context.js';

/**
 * The dashboard (`src/dashboard/`, loaded once): `/` and `/index.html` revalidated on every load (`no-cache` + ETag,
 * 304), assets under content-hashed names cached a year (`immutable`) and under their plain names for a minute.
 * Public: the data behind it needs a token. Its CSP comes from `security-headers` (`config.document`).
 */
async function staticAssets(app: FastifyInstance, { options }: PluginOptions): Promise<void> {
  if (!options.dashboard) return;
  const assets = loadDashboardAssets();
  const index = assets.get('/');
  const config = { document: true };
  app.get('/', { config }, async (req, reply) => sendAsset(req, reply, index));
  app.get('/index.html', { config }, async (req, reply) => sendAsset(req, reply, index));
  app.get<{ Params: { name: string } }>('/assets/:name', { config }, async (req, reply) =>
    sendAsset(req, reply, assets.get(`/assets/${req.params.name}`)),
  );
}

export default fp(staticAssets, { name: 'trader-static-assets', fastify: '5.x' });
